"""QASPER loading and scoring with the official metric (scripted engine; the real run is `reader-app eval`)."""

from __future__ import annotations

import json
import shutil

import pytest

from reader_app.assistant import qasper
from reader_app.assistant.eval import run_eval
from reader_app.core.errors import BadInput, NotFound
from tests.conftest import run_cli
from tests.fakes import FakeEngine, passages_of


def tiny_qasper() -> dict:
    def ans(spans=(), free="", yes_no=None, unanswerable=False, evidence=()):
        return {"answer": {"unanswerable": unanswerable, "extractive_spans": list(spans), "yes_no": yes_no,
                           "free_form_answer": free, "evidence": list(evidence), "highlighted_evidence": []}}

    p1 = "We train the model on the PubMed corpus of abstracts. It has 1.2 million abstracts."
    p2 = "The model reaches an accuracy of 91 percent. This beats the baseline."
    return {
        "0001.00001": {
            "title": "Paper one", "abstract": "We study reading assistants.",
            "full_text": [{"section_name": "Data", "paragraphs": [p1]},
                          {"section_name": "Results ::: Accuracy", "paragraphs": [p2]}],
            "qas": [
                {"question": "What corpus is used?", "question_id": "q1", "answers": [ans(["PubMed corpus"], evidence=[p1])]},
                {"question": "How accurate is it?", "question_id": "q2", "answers": [ans(free="91 percent", evidence=[p2])]},
                {"question": "Who funded it?", "question_id": "q3", "answers": [ans(unanswerable=True)]},
            ],
        },
        "0002.00002": {
            "title": "Paper two", "abstract": "", "full_text": [{"section_name": "Intro", "paragraphs": ["Nothing. Here."]}],
            "qas": [{"question": "Unused?", "question_id": "q4", "answers": [ans(yes_no=True)]}],
        },
    }


@pytest.fixture
def dataset(tmp_path, qasper_dir):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny_qasper()))
    shutil.copy(qasper_dir / "qasper_evaluator.py", tmp_path / "qasper_evaluator.py")
    return path


def test_paper_from_qasper():
    entry = tiny_qasper()["0001.00001"]
    paper = qasper.paper_from_qasper("0001.00001", entry)
    assert paper.id == "qasper:0001.00001" and paper.title == "Paper one"
    assert [s.title for s in paper.sections] == ["Abstract", "Data", "Accuracy"]
    assert [p.text for p in paper.paragraphs][1:] == [entry["full_text"][0]["paragraphs"][0],
                                                      entry["full_text"][1]["paragraphs"][0]]
    assert all(p.page == 0 and p.section == paper.sections[p.section_index].title for p in paper.paragraphs)


def test_real_qasper_file_loads(qasper_dir):
    data = qasper.load_dataset(qasper_dir / "qasper-dev.json")
    first = next(iter(data))
    paper = qasper.paper_from_qasper(first, data[first])
    assert len(paper.paragraphs) > 10 and len(qasper.questions(data[first])) >= 1


def test_run_eval_scores_with_official_metric(dataset):
    def responder(prefix, suffix):
        if "Write one question" in suffix:
            return " Which corpus is the model trained on?\nAnswer: the PubMed corpus"
        if "What corpus" in suffix:
            return "2]\nAnswer: PubMed corpus"
        if "How accurate" in suffix:
            return "3]\nAnswer: 91 percent"
        return "]\nAnswer: The paper does not say."

    out = tmp_pred = dataset.parent / "pred.jsonl"
    r = run_eval(FakeEngine(responder), str(dataset), papers=1, mode="doubledipper", predictions_out=str(out))
    assert (r["dataset"], r["papers"], r["questions"], r["mode"], r["model"]) == ("qasper", 1, 3, "doubledipper", "fake-model")
    assert r["answer_f1"] == 1.0 and r["evidence_f1"] == 1.0
    assert r["by_type"] == {"extractive": 1.0, "abstractive": 1.0, "boolean": 0.0, "none": 1.0}
    assert r["ttft_first_s"] is not None and r["ttft_followup_s"] is not None
    lines = [json.loads(x) for x in tmp_pred.read_text().splitlines()]
    assert [x["question_id"] for x in lines] == ["q1", "q2", "q3"]
    assert lines[2]["predicted_answer"] == "Unanswerable" and lines[2]["predicted_evidence"] == []


def test_wrong_answers_score_low(dataset):
    r = run_eval(FakeEngine("1]\nAnswer: reading assistants"), str(dataset), papers=1, mode="zero-shot-evidence")
    assert r["answer_f1"] < 0.5


def test_missing_evaluator_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("READER_APP_QASPER_EVALUATOR", raising=False)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny_qasper()))
    with pytest.raises(NotFound, match="qasper_evaluator"):
        run_eval(FakeEngine(), str(path), papers=1)
    res = run_cli("eval", "qasper", str(path), "--papers", "1", library=tmp_path / "lib")
    assert res.code == 2 and "qasper_evaluator" in res.err and "Traceback" not in res.err


def test_cli_eval_bad_inputs(tmp_path):
    res = run_cli("eval", "qasper", str(tmp_path / "nope.json"), library=tmp_path / "lib")
    assert res.code == 2 and res.err.startswith("reader-app: error:")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    (tmp_path / "qasper_evaluator.py").write_text("def evaluate(g, p):\n    return {}\n")
    res = run_cli("eval", "qasper", str(bad), library=tmp_path / "lib")
    assert res.code == 2 and "QASPER" in res.err
    res = run_cli("eval", "qasper", str(bad), "--papers", "0", library=tmp_path / "lib")
    assert res.code == 2


def test_run_eval_several_modes_share_one_pass(dataset):
    eng = FakeEngine(lambda p, s: ("2]\nAnswer: PubMed corpus" if "Evidence: [" in s[-12:] else " PubMed corpus"))
    rs = run_eval(eng, str(dataset), papers=2, mode=["doubledipper", "zero-shot", "zero-shot-evidence"])
    assert [r["mode"] for r in rs] == ["doubledipper", "zero-shot", "zero-shot-evidence"]
    assert all(r["papers"] == 2 and r["questions"] == 4 for r in rs)
    assert all(0 < r["answer_f1"] < 1 for r in rs)


def test_skip_splits_a_run(dataset):
    out = dataset.parent / "pred.jsonl"
    r = run_eval(FakeEngine("1]\nAnswer: Yes"), str(dataset), skip=1, papers=5, mode="zero-shot-evidence",
                 predictions_out=str(out))
    assert (r["papers"], r["skipped"], r["questions"]) == (1, 1, 1)  # only paper two
    assert [json.loads(x)["question_id"] for x in out.read_text().splitlines()] == ["q4"]
    res = run_cli("eval", "qasper", str(dataset), "--skip", "2", library=dataset.parent / "lib")
    assert res.code == 2 and "--skip 2 passes over all 2 papers" in res.err


def test_prediction_uses_qasper_answer_format():
    from reader_app.assistant.qasper import prediction
    from functools import partial

    from reader_app.core.model import Answer as _Answer, Citation, Timings

    Answer = partial(_Answer, mode="doubledipper", model="m", timings=Timings())
    cite = Citation(paragraph=2, page=0, section="", text="We use BERT.", bbox=(0, 0, 0, 0), verified=True)
    yes = Answer(paper_id="p", question="Do they use BERT?", answer="Yes, they fine-tune BERT.",
                 answerable=True, citations=[cite])
    assert prediction(yes) == {"answer": "Yes", "evidence": ["We use BERT."]}
    what = Answer(paper_id="p", question="What model do they use?", answer="No model but BERT",
                  answerable=True, citations=[cite])
    assert prediction(what)["answer"] == "No model but BERT", "only yes/no questions are cut to Yes/No"
    unanswerable = Answer(paper_id="p", question="Do they use BERT?", answer="x", answerable=False, citations=[])
    assert prediction(unanswerable) == {"answer": "Unanswerable", "evidence": []}


def test_evidence_candidates_reach_the_grammar_and_the_result(dataset):
    eng = FakeEngine("1]\nAnswer: PubMed corpus")
    r = run_eval(eng, str(dataset), papers=1, mode="zero-shot-evidence", evidence_candidates=1)
    assert r["evidence_candidates"] == 1
    rules = {line for _, _, kw in eng.calls for line in kw["grammar"].splitlines() if line.startswith("num ::=")}
    assert 'num ::= "2"' in rules  # exactly one citable paragraph where the question matches one
    assert all(rule.count('"') in (0, 2) for rule in rules)  # ... and any paragraph where nothing matches
    res = run_cli("eval", "qasper", str(dataset), "--evidence-candidates", "-1", library=dataset.parent / "lib")
    assert res.code == 2 and "--evidence-candidates must be 0 or more" in res.err


def test_abstention_and_model_answer_figures(dataset):
    # answers q1 right, refuses q2 (answerable), answers q3 (unanswerable): 1 of 2 refused, 1 of 1 answered
    def responder(prefix, suffix):
        if "What corpus" in suffix:
            return "2]\nAnswer: PubMed corpus"
        if "How accurate" in suffix:
            return "3]\nAnswer: The paper does not say."
        return "2]\nAnswer: PubMed corpus of abstracts"

    r = run_eval(FakeEngine(responder), str(dataset), papers=1, mode="zero-shot-evidence")
    assert (r["answerable"], r["answerable_not_answered"]) == (2, 0.5)
    assert (r["unanswerable"], r["unanswerable_answered"]) == (1, 1.0)
    assert r["model_answer_f1"] is not None and r["seconds_per_paper"] >= 0


def test_paired_bootstrap():
    from reader_app.assistant.eval_report import paired_bootstrap

    a = {str(i): 1.0 if i % 4 else 0.0 for i in range(40)}
    b = {str(i): 0.0 for i in range(40)}
    r = paired_bootstrap(a, b)
    assert r["mean"] == 0.75 and 0.5 < r["low"] < 0.75 < r["high"] <= 1.0 and (r["better"], r["worse"]) == (30, 0)
    tie = paired_bootstrap(a, a)
    assert tie["mean"] == 0 and tie["low"] == tie["high"] == 0
    assert paired_bootstrap({}, b)["mean"] is None


def test_score_merges_split_runs_without_a_model(dataset, tmp_path):
    eng = FakeEngine(lambda p, s: "2]\nAnswer: PubMed corpus" if "Evidence: [" in s[-12:] else " 91 percent")
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    modes = ["zero-shot", "zero-shot-evidence"]
    run_eval(eng, str(dataset), papers=1, mode=modes, predictions_out=str(first))
    run_eval(eng, str(dataset), skip=1, papers=1, mode=modes, predictions_out=str(second))
    whole = {r["mode"]: r for r in run_eval(eng, str(dataset), papers=2, mode=modes)}
    res = run_cli("eval", "qasper", str(dataset), "--score", str(first), str(second), "--json",
                  library=tmp_path / "lib")
    assert res.code == 0, res.err
    scored = {r["mode"]: r for r in json.loads(res.out)}
    for m in modes:
        assert scored[m]["questions"] == 4 and scored[m]["papers"] == 2
        assert scored[m]["answer_f1"] == whole[m]["answer_f1"] and scored[m]["evidence_f1"] == whole[m]["evidence_f1"]
    assert scored["zero-shot-evidence"]["vs_zero-shot"]["questions"] == 4
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    res = run_cli("eval", "qasper", str(dataset), "--score", str(bad), library=tmp_path / "lib")
    assert res.code == 2 and "is not a prediction line" in res.err and "Traceback" not in res.err


def test_reshape_scores_saved_replies_with_the_current_post_processing(dataset, tmp_path):
    eng = FakeEngine(lambda p, s: "2]\nAnswer: PubMed corpus" if "Evidence: [" in s[-12:] else " 91 percent")
    pred = tmp_path / "a.jsonl"
    run_eval(eng, str(dataset), papers=1, mode=["zero-shot", "zero-shot-evidence"], predictions_out=str(pred))
    rows = [json.loads(x) for x in pred.read_text().splitlines()]
    for r in rows:  # as if an older version had shown something else
        r["predicted_answer"], r["predicted_evidence"] = "something else", []
    import gzip

    stale = tmp_path / "stale.jsonl.gz"  # saved runs are kept gzipped
    stale.write_bytes(gzip.compress(("\n".join(json.dumps(r) for r in rows) + "\n").encode()))

    def scores(*extra):
        res = run_cli("eval", "qasper", str(dataset), "--score", str(stale), *extra, "--json", library=tmp_path / "lib")
        assert res.code == 0, res.err
        return {r["mode"]: r for r in json.loads(res.out)}

    plain, again = scores(), scores("--reshape")
    fresh = {r["mode"]: r for r in run_eval(eng, str(dataset), papers=1, mode=["zero-shot", "zero-shot-evidence"])}
    for m in fresh:
        assert plain[m]["answer_f1"] < fresh[m]["answer_f1"]
        assert (again[m]["answer_f1"], again[m]["evidence_f1"]) == (fresh[m]["answer_f1"], fresh[m]["evidence_f1"])


def _citing(text: str, answer: str):
    import re

    def respond(prefix, suffix):
        m = re.search(r"\[(\d+)\] [^\n]*" + re.escape(text), passages_of(prefix, suffix))
        return f"{m.group(1) if m else 1}]\nAnswer: {answer}" if m else "]\nAnswer: The paper does not say."
    return respond


def test_eval_across_a_library_reports_retrieval_and_scores(dataset, tmp_path):
    """--across: both papers in one library, the questions of the first asked without naming it."""
    from reader_app.assistant.eval_across import run_across

    data = tiny_qasper()
    data["0001.00001"]["qas"][1]["question"] = "What accuracy does it reach?"  # Porter: accurate != accuracy
    dataset.write_text(json.dumps(data))

    def respond(prefix, suffix):
        if "What corpus" in suffix:
            return _citing("PubMed corpus", "PubMed corpus")(prefix, suffix)
        if "What accuracy" in suffix:
            return _citing("91 percent", "91 percent")(prefix, suffix)
        return "]\nAnswer: The paper does not say."

    out = tmp_path / "across.jsonl"
    r = run_across(FakeEngine(respond), str(dataset), across=2, papers=1, predictions_out=str(out))
    assert (r["library_papers"], r["papers"], r["questions"], r["mode"]) == (2, 1, 3, "library")
    assert r["retrieval_top1"] == 1.0 and r["gold_paper_cited"] == 1.0  # both answerable questions
    assert r["answer_f1"] == 1.0 and r["evidence_f1"] == 1.0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["mode"] for x in rows] == ["library"] * 3 and rows[0]["cited_papers"] == ["qasper:0001.00001"]
    assert rows[0]["papers_read"][0] == "qasper:0001.00001"  # which papers its passages came from
    # scored against a single-paper run on the same questions
    single = tmp_path / "single.jsonl"
    run_eval(FakeEngine(respond), str(dataset), papers=1, mode="quick", predictions_out=str(single))
    res = run_cli("eval", "qasper", str(dataset), "--score", str(single), str(out), "--baseline", "quick", "--json")
    assert res.code == 0, res.err
    by_mode = {x["mode"]: x for x in json.loads(res.out)}
    assert by_mode["library"]["vs_quick"]["questions"] == 3 and by_mode["quick"]["answer_f1"] == 1.0


def test_quick_eval_recycles_demonstrations_from_saved_runs(dataset, tmp_path):
    """--demos-from: a doubledipper run's saved demonstrations stand for prepared papers; the
    quick answers of the other paper carry them (``library``), the paper itself its own (``own``)."""
    from reader_app.assistant.eval import run_eval

    saved = tmp_path / "dd.jsonl"
    demo = {"question": "Which corpus is the model trained on?", "evidence": 2, "answer": "the PubMed corpus"}
    saved.write_text(json.dumps({"question_id": "q1", "mode": "doubledipper", "paper": "0001.00001",
                                 "demos": [demo]}) + "\n")
    eng = FakeEngine(_citing("91 percent", "91 percent"))
    out = tmp_path / "quick.jsonl"
    r = run_eval(eng, str(dataset), papers=1, mode="quick", predictions_out=str(out), passage_demos="own",
                 demos_from=[str(saved)], passage_tokens=500)
    assert r["passage_demos"] == "own" and r["papers_with_demonstrations"] == 1
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert all(row["demos"] == [{**demo, "paper": "qasper:0001.00001"}] for row in rows)
    assert "the PubMed corpus" in eng.calls[-1][0]  # the prefix holds the recycled example
    none = run_eval(eng, str(dataset), papers=1, mode="quick", passage_demos="none", demos_from=[str(saved)])
    assert none["passage_demos"] == "none" and "<examples>" not in eng.calls[-1][0]
    with pytest.raises(BadInput):
        run_eval(eng, str(dataset), papers=1, mode="quick", demos_from=[str(tmp_path / "missing.jsonl")])


def test_library_eval_recycles_demonstrations_into_its_library(dataset, tmp_path):
    from reader_app.assistant.eval_across import run_across

    saved = tmp_path / "dd.jsonl"
    demo = {"question": "How accurate is the model?", "evidence": 3, "answer": "91 percent"}
    saved.write_text(json.dumps({"question_id": "q2", "mode": "doubledipper", "paper": "0001.00001",
                                 "demos": [demo]}) + "\n")
    eng = FakeEngine(_citing("PubMed corpus", "PubMed corpus"))
    r = run_across(eng, str(dataset), across=2, papers=1, passage_demos="own", demos_from=[str(saved)])
    assert r["papers_with_demonstrations"] == 1 and r["passage_demos"] == "own"
    # a library question that reads paper one alone carries paper one's kept example
    assert eng.calls and all("91 percent" in call[0] for call in eng.calls)
    other = FakeEngine(_citing("PubMed corpus", "PubMed corpus"))
    r = run_across(other, str(dataset), across=2, papers=1, passage_demos="library", demos_from=[str(saved)])
    assert r["passage_demos"] == "library"
    assert other.calls and not any("91 percent" in call[0] for call in other.calls)  # other papers' only
