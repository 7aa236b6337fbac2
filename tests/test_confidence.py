"""Issue K: a confidence for every answer, from the model's own token probabilities.

The computation (signals over the reply's parts, the confidence, AUROC and the eval report)
with hand-made probabilities; the assistant, the history, the CLI and the window with a
fake engine that gives probabilities; the real embedded model in test_ask_model.py.
"""

from __future__ import annotations

import json
import math

import pytest

from reader_app.assistant import confidence as conf
from reader_app.assistant.eval_report import confidence_report, rescore_confidence
from reader_app.library import Library, schema
from tests.fakes import FakeEngine
from tests.test_prompts import make_paper

LN = math.log


def _tokens(*pairs):
    return [(t, LN(p)) for t, p in pairs]


def test_signals_read_the_answer_line_and_the_evidence_numbers_apart():
    reply = "3, 5]\nAnswer: the PubMed corpus\n"
    toks = _tokens(("3", 0.5), (",", 1.0), (" 5", 0.2), ("]", 1.0), ("\n", 1.0), ("Answer", 1.0), (":", 1.0),
                   (" the", 0.9), (" PubMed", 0.4), (" corpus", 0.8), ("\n", 0.01))
    sig = conf.signals(reply, toks, "Evidence: [")
    assert sig.tokens == 3  # " the", " PubMed", " corpus": not the label, not the line's end
    assert sig.answer_mean == pytest.approx((0.9 * 0.4 * 0.8) ** (1 / 3))
    assert sig.answer_min == pytest.approx(0.4) and sig.answer_first == pytest.approx(0.9)
    assert sig.evidence_mean == pytest.approx((0.5 * 0.2) ** 0.5)  # the numbers only
    # a reply with no Answer: label: all of it is the answer
    bare = conf.signals("Yes it is", _tokens(("Yes", 0.6), (" it", 1.0), (" is", 1.0)), "")
    assert bare.tokens == 3 and bare.answer_first == pytest.approx(0.6) and bare.evidence_mean == 1.0


def test_no_probabilities_or_no_answer_give_no_signals():
    assert conf.signals("3]\nAnswer: yes\n", [], "Evidence: [") is None
    assert conf.signals("3]\nAnswer: yes\n", None, "Evidence: [") is None
    assert conf.signals("3]\nAnswer:", _tokens(("3", 0.5), ("]", 1.0), ("\n", 1), ("Answer", 1), (":", 1)),
                        "Evidence: [") is None
    assert conf.confidence(None, True) is None and conf.level(None) == ""


def test_a_token_without_a_probability_counts_as_impossible_not_as_a_crash():
    sig = conf.signals("Answer: yes no", [("Answer", 0.0), (":", 0.0), (" yes", float("nan")), (" no", LN(0.5))])
    assert sig.answer_min == 0.0 and sig.answer_mean == 0.0
    assert 0.0 <= conf.confidence(sig, True) <= 1.0


def test_confidence_is_in_range_follows_the_probabilities_and_doubts_a_refusal_of_a_sure_answer():
    def sig(p):
        return conf.Signals(answer_mean=p, answer_min=p, answer_first=p, evidence_mean=p, tokens=3)

    values = [conf.confidence(sig(p), True) for p in (0.0, 0.2, 0.5, 0.9, 1.0)]
    assert all(0.0 <= v <= 1.0 for v in values) and values == sorted(values) and values[0] < values[-1]
    # refused: the surer the model was of the answer it gave, the less likely the refusal is right
    assert conf.confidence(sig(0.95), False) < conf.confidence(sig(0.3), False) <= 1.0
    assert conf.confidence(sig(0.95), False) < conf.confidence(sig(0.95), True)
    assert [conf.level(v) for v in (0.0, conf.LOW, conf.HIGH, 1.0)] == ["low", "medium", "high", "high"]


def test_auroc_counts_pairs_and_ties_half():
    assert conf.auroc([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 1.0
    assert conf.auroc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 0.0
    assert conf.auroc([0.5, 0.5, 0.5], [True, False, True]) == 0.5
    assert conf.auroc([0.9, 0.4, 0.6, 0.1], [True, True, False, False]) == 0.75  # 3 of 4 pairs in order
    assert conf.auroc([0.3, 0.4], [True, True]) is None


def test_the_report_separates_right_from_wrong_and_splits_halves():
    rows, f1 = [], {}
    for i in range(40):  # confidence rises with F1, with noise on a quarter of them
        right = i % 2 == 0
        c = (0.8 if right else 0.3) + (0.3 if i % 8 == 1 else 0.0) - (0.3 if i % 8 == 0 else 0.0)
        rows.append({"question_id": f"q{i}", "confidence": c,
                     "signals": {"answer_mean": c, "answer_min": 0.5, "answer_first": 1 - c, "evidence_mean": 0.5}})
        f1[f"q{i}"] = 1.0 if right else 0.0
    rep = confidence_report(f1, rows, n=300)
    assert rep["questions"] == 40 and rep["right"] == 20
    assert 0.6 < rep["auroc"] < 1.0 and rep["auroc_low"] <= rep["auroc"] <= rep["auroc_high"]
    assert rep["top_half_f1"] > rep["bottom_half_f1"] and rep["half_gap"] == pytest.approx(
        rep["top_half_f1"] - rep["bottom_half_f1"], abs=1e-3)
    assert rep["signal_auroc"]["answer_mean"] == rep["auroc"] and rep["signal_auroc"]["answer_first"] < 0.5
    assert rep["signal_auroc"]["answer_min"] == 0.5  # a constant signal tells nothing
    assert sum(v["answers"] for v in rep["levels"].values()) == 40
    assert confidence_report(f1, rows[:3])["questions"] == 3  # too few: no figures, no crash


def test_saved_rows_get_todays_confidence_from_their_signals():
    s = {"answer_mean": 0.9, "answer_min": 0.5, "answer_first": 0.7, "evidence_mean": 0.8, "tokens": 4}
    rows = {"quick": [{"question_id": "a", "predicted_answer": "BERT", "signals": s, "confidence": 0.1},
                      {"question_id": "b", "predicted_answer": "Unanswerable", "signals": s, "confidence": 0.1},
                      {"question_id": "c", "predicted_answer": "x", "signals": None, "confidence": None}]}
    rescore_confidence(rows)
    a, b, c = rows["quick"]
    assert a["confidence"] == conf.confidence(conf.Signals.from_dict(s), True) != 0.1
    assert b["confidence"] == conf.confidence(conf.Signals.from_dict(s), False)
    assert c["confidence"] is None


# ---- through the assistant, the library, the CLI ----------------------------------------------

def _sure(text: str) -> float:
    """A fake model sure of everything but the word 'maybe'."""
    return LN(0.2) if "maybe" in text else LN(0.97)


def wavering(reply) -> FakeEngine:
    """A fake model that gives ``reply(prefix, suffix)`` greedily and, when sampled
    (temperature > 0), the same again unless the reply holds "maybe": then another answer for
    each seed (it is guessing)."""
    def respond(prefix, suffix):
        text = reply(prefix, suffix)
        kw = engine.calls[-1][2]
        if kw["temperature"] and "maybe" in text:
            return f"3]\nAnswer: guess number {kw['seed']} of many\n"
        return text

    engine = FakeEngine(respond, logprob=_sure)
    return engine


def test_every_answer_carries_its_confidence_into_the_history(tmp_path):
    from reader_app.assistant.service import Assistant

    with Library.open(tmp_path / "lib") as lib:
        pid, _ = lib.add_paper(make_paper())
        paper = lib.get_paper(pid)
        engine = wavering(lambda p, s: "3]\nAnswer: the PubMed corpus\n" if "corpus" in s
                          else "3]\nAnswer: maybe maybe the abstracts\n")
        a = Assistant(engine, lib, samples=2)
        sure = a.ask(paper, "Which corpus is the model trained on?", mode="zero-shot-evidence")
        assert sure.trace.signals["agreement"] == 1.0 and sure.confidence == 1.0
        unsure = a.ask(paper, "What data did they train on?", mode="zero-shot-evidence")
        assert unsure.trace.signals is not None and unsure.trace.signals["tokens"] == 4
        assert unsure.trace.signals["agreement"] == 0.0
        assert sure.answerable and conf.level(sure.confidence) == "high"
        assert unsure.confidence == 0.0 and conf.level(unsure.confidence) == "low"
        # no samples: the first token's probability stands in
        # the default, no samples: the first answer token's probability
        tokens_only = Assistant(engine).ask(paper, "What data did they train on?", mode="zero-shot-evidence")
        assert tokens_only.confidence == pytest.approx(0.2) and engine.calls[-1][2]["temperature"] == 0.0
        quick = a.ask_quick(paper, "Which corpus is the model trained on?")
        assert quick.confidence == sure.confidence
        hist = lib.qa_history(pid)
        assert [h.confidence for h in hist] == [sure.confidence, unsure.confidence, quick.confidence]
        # a model that gives no probabilities: no confidence, kept as such
        plain = Assistant(FakeEngine("3]\nAnswer: the PubMed corpus\n"), lib).ask(
            paper, "Which corpus is the model trained on?", mode="zero-shot-evidence")
        assert plain.confidence is None and lib.qa_history(pid)[-1].confidence is None


def test_a_v5_library_upgrades_and_its_old_answers_have_no_confidence(tmp_path):
    with Library.open(tmp_path / "l", migrate_to=5) as v5:
        pid, _ = v5.add_paper(make_paper())
        v5.db.execute("""INSERT INTO qa_history (paper_id, question, answer, answerable, created)
                         VALUES (?, 'Old?', 'Yes.', 1, '2026-01-01')""", [pid])
    with Library.open(tmp_path / "l") as lib:
        assert lib.schema_version == schema.CURRENT_VERSION >= 6
        (old,) = lib.qa_history(pid)
        assert old.answer == "Yes." and old.confidence is None


def test_ask_json_and_text_show_the_confidence(tmp_path, monkeypatch, capsys):
    from reader_app import cli
    from reader_app.llm import engines

    with Library.open(tmp_path / "lib") as lib:
        pid, _ = lib.add_paper(make_paper())
    replies = iter(["3]\nAnswer: the PubMed corpus\n", "3]\nAnswer: maybe the PubMed corpus\n"])
    monkeypatch.setattr(engines, "open_engine", lambda *a, **kw: wavering(lambda p, s, r=next(replies): r))
    q = "Which corpus is the model trained on?"
    assert cli.main(["ask", pid[:10], q, "--mode", "zero-shot-evidence", "--json",
                     "--library", str(tmp_path / "lib")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["confidence"] == pytest.approx(0.97)  # the default: the first answer token's probability
    assert cli.main(["ask", pid[:10], "What is it maybe?", "--mode", "zero-shot-evidence",
                     "--library", str(tmp_path / "lib")]) == 0
    text = capsys.readouterr().out
    assert "confidence: low (" in text and "check the cited paragraph" in text
    assert cli.main(["history", pid[:10], "--json", "--library", str(tmp_path / "lib")]) == 0
    hist = json.loads(capsys.readouterr().out)["questions"]
    assert hist[0]["confidence"] == out["confidence"] and hist[1]["confidence"] < 0.45


pytestqt = pytest.importorskip("pytestqt")


@pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")
def test_the_badge_shows_the_level_says_what_it_means_and_goes_with_the_answer(qtbot):
    from reader_app.core.model import Answer, Timings
    from reader_app.ui.ask.confidence_badge import ConfidenceBadge

    badge = ConfidenceBadge()
    qtbot.addWidget(badge)
    badge.show()
    badge.set_confidence(0.95)
    assert badge.level == "high" and badge.isVisible() and badge.text() == "High confidence"
    badge.set_confidence(0.1)
    assert badge.level == "low" and "check the cited paragraph" in badge.text()
    assert "unsure" in badge.toolTip() and "0.10" in badge.toolTip()
    badge.set_confidence(0.6, answerable=False)
    assert badge.level == "medium" and "does not answer" in badge.toolTip()
    badge.set_confidence(None)
    assert not badge.isVisible() and badge.level == ""
    assert Answer("p", "q", "a", True, [], "doubledipper", "m", Timings()).confidence is None


def test_the_self_check_asks_about_the_answer_line_on_the_same_context(tmp_path):
    from reader_app.assistant.service import Assistant

    def respond(prefix, suffix):
        if suffix.endswith(conf.PROBE):
            return "No" if "maybe" in suffix else "Yes"
        return "3]\nAnswer: maybe the abstracts\nQuestion: more?" if "data" in suffix else "3]\nAnswer: the PubMed corpus\n"

    engine = FakeEngine(respond, logprob=lambda t: LN(0.8),
                        top=lambda t: [(t, LN(0.6)), (" No" if "Yes" in t else " Yes", LN(0.15)), ("\n", LN(0.1))])
    a = Assistant(engine, probe=True, samples=0)
    paper = make_paper()
    sure = a.ask(paper, "Which corpus is the model trained on?", mode="zero-shot-evidence")
    answer_call, check = engine.calls[-2], engine.calls[-1]
    assert check[0] == answer_call[0]  # the same prefix: the paper's KV state is reused
    assert check[1] == answer_call[1] + "3]\nAnswer: the PubMed corpus" + conf.PROBE
    assert check[2]["max_tokens"] == 1 and check[2]["grammar"] == conf.PROBE_GRAMMAR
    assert sure.trace.signals["probe"] == pytest.approx(0.8)  # Yes 0.6 against No 0.15
    other = a.ask(paper, "What data did they train on?", mode="zero-shot-evidence")
    assert engine.calls[-1][1].endswith("Answer: maybe the abstracts" + conf.PROBE)  # not the rambling after it
    assert other.trace.signals["probe"] == pytest.approx(0.2)  # No 0.6 against Yes 0.15
    assert conf.Signals.from_dict(other.trace.signals).to_dict() == other.trace.signals
    # off: no second call
    n = len(engine.calls)
    Assistant(engine, probe=False, samples=0).ask(paper, "Which corpus is the model trained on?", mode="zero-shot-evidence")
    assert len(engine.calls) == n + 1 and sure.confidence is not None
    assert conf.probe_yes([("maybe", -0.1)]) is None and conf.probe_yes([]) is None
    assert conf.probe_yes([(" Yes", LN(0.3)), ("yes", LN(0.1)), (" No", LN(0.1)), ("\n", LN(0.5))]) == 0.8


def test_sampled_answers_that_disagree_lower_the_agreement():
    from reader_app.assistant.service import SAMPLE_TEMPERATURE, Assistant

    replies = {0: "3]\nAnswer: the PubMed corpus\n", 1: "3]\nAnswer: the PubMed corpus\n",
               2: "4]\nAnswer: a Twitter corpus of tweets\n"}

    def respond(prefix, suffix):
        return replies[engine.calls[-1][2]["seed"]]

    engine = FakeEngine(respond, logprob=LN(0.9))
    a = Assistant(engine, samples=2)
    ans = a.ask(make_paper(), "Which corpus is the model trained on?", mode="zero-shot-evidence")
    answer, s1, s2 = engine.calls[-3:]
    assert (answer[2]["temperature"], s1[2]["temperature"], s2[2]["temperature"]) == (0.0, SAMPLE_TEMPERATURE,
                                                                                       SAMPLE_TEMPERATURE)
    assert s1[:2] == s2[:2] == answer[:2] and s1[2]["grammar"] == answer[2]["grammar"]  # same prompt, same shape
    # one sample agrees (F1 1), the other shares only "corpus" with "PubMed corpus"
    assert ans.trace.signals["agreement"] == pytest.approx((1.0 + 2 * (1 / 4) * (1 / 2) / (1 / 4 + 1 / 2)) / 2, abs=1e-4)
    assert conf.agreement("the PubMed corpus", []) is None
    assert conf.agreement("Yes", ["yes.", "No"]) == 0.5
    assert ans.trace.check_s >= 0.0


@pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")
def test_the_ask_tab_shows_the_badge_and_the_history_keeps_it(qtbot, panel_env):
    from tests.panel_helpers import ask, make_panel, responder

    unsure = {"on": False}
    answer = responder()
    services = panel_env.services(engine_factory=lambda **_kw: wavering(
        lambda p, s: answer(p, s).replace("Answer:", "Answer: maybe") if unsure["on"] else answer(p, s)))
    panel = make_panel(qtbot, services, panel_env.paper_id)
    ap = panel.ask_panel
    sure = ask(qtbot, panel, "What corpus is the model trained on?")
    assert conf.level(sure.confidence) == "high"
    assert ap.confidence_badge.isVisibleTo(ap) and ap.confidence_badge.text() == "High confidence"
    unsure["on"] = True
    low = ask(qtbot, panel, "What corpus is used?")
    assert conf.level(low.confidence) == "low" and "check the cited paragraph" in ap.confidence_badge.text()
    panel.close()
    other = make_panel(qtbot, panel_env.services(respond=responder()), panel_env.paper_id)
    ap = other.ask_panel
    items = [ap.history.item(i) for i in range(ap.history.count())]
    assert any("(low confidence)" in it.text() for it in items)
    first = next(it for it in items if "(low confidence)" not in it.text())
    ap.history.itemClicked.emit(first)  # an answer from the history brings its badge back
    assert ap.confidence_badge.level == "high" and ap.confidence_badge.isVisibleTo(ap)


def test_a_stop_during_the_checks_keeps_the_answer():
    import threading

    from reader_app.assistant.service import Assistant

    cancel = threading.Event()

    def respond(prefix, suffix):
        if suffix.endswith(conf.PROBE):
            cancel.set()  # Stop pressed after the answer, while the model checks it
        return "3]\nAnswer: the PubMed corpus\n"

    engine = FakeEngine(respond, logprob=LN(0.9))
    a = Assistant(engine, samples=2, probe=True)
    ans = a.ask(make_paper(), "Which corpus is the model trained on?", mode="zero-shot-evidence", cancel=cancel)
    assert ans.answer and ans.confidence is not None
    assert ans.trace.signals.get("agreement") is None and ans.trace.signals.get("probe") is None
