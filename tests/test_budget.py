"""A passage budget that follows the machine (issue O, item 2): the measured prompt speeds
(llm/speeds.py), the budget rule (assistant/budget.py), the passages it buys (passage_qa.py),
and a speed recorded by the embedded model's answer."""

from __future__ import annotations

import json

import pytest

from reader_app import settings
from reader_app.assistant import passage_qa
from reader_app.assistant.budget import LIBRARY_FLOOR, QUICK_FLOOR, context_room, passage_budget
from reader_app.assistant.service import Assistant
from reader_app.core.model import Paper, Paragraph, Scope, Section, Timings
from reader_app.llm import speeds
from reader_app.llm.speeds import SpeedStore
from tests.conftest import run_cli
from tests.fakes import FakeEngine


# ---- the store ------------------------------------------------------------------------

def test_a_speed_is_measured_only_from_enough_evaluated_tokens(tmp_path):
    store = SpeedStore(tmp_path / "speeds.json")
    assert store.speed("m") is None
    # 1000 prompt tokens, 960 from a cached state: 40 evaluated are too few to tell
    assert store.record("m", Timings(prompt_tokens=1000, cached_tokens=960, ttft_s=0.5)) is None
    assert store.record("m", Timings(prompt_tokens=500, cached_tokens=0, ttft_s=0.0)) is None  # no time
    assert store.speed("m") is None and not (tmp_path / "speeds.json").exists()
    # 400 evaluated in 2 s: 200 tokens/s
    assert store.record("m", Timings(prompt_tokens=1000, cached_tokens=600, ttft_s=2.0)) == pytest.approx(200)
    assert store.speed("m") == pytest.approx(200)
    assert store.speed("another model") is None


def test_speeds_are_smoothed_kept_per_model_and_persist(tmp_path):
    path = tmp_path / "cache" / "speeds.json"
    store = SpeedStore(path)
    for s in (100, 110, 90, 105, 5):  # one outlier: a disk save or a busy machine meanwhile
        store.add("model-a", s)
    store.add("model-b", 3000)
    assert store.speed("model-a") == pytest.approx(100)  # the median: the outlier does not move it
    assert store.speed("model-b") == pytest.approx(3000)
    again = SpeedStore(path)  # another run of the app
    assert again.speed("model-a") == pytest.approx(100) and again.speed("model-b") == pytest.approx(3000)
    for _ in range(speeds.KEEP):  # the machine got faster: old measurements age out
        again.add("model-a", 400)
    assert again.speed("model-a") == pytest.approx(400) and len(again.samples("model-a")) == speeds.KEEP
    # a second process writing meanwhile keeps what the first wrote of other models
    store.add("model-c", 50)
    assert SpeedStore(path).speed("model-b") == pytest.approx(3000)
    assert SpeedStore(path).speed("model-c") == pytest.approx(50)


@pytest.mark.parametrize("content", [b"{not json", b"\x00\xff garbage", b"[1, 2, 3]", b'{"models": [1]}',
                                     b'{"models": {"m": "fast"}}', b'{"models": {"m": [-1, "x", true, NaN]}}'])
def test_a_corrupt_file_starts_fresh(tmp_path, content):
    path = tmp_path / "speeds.json"
    path.write_bytes(content)
    store = SpeedStore(path)
    assert store.speed("m") is None
    store.add("m", 250)
    assert SpeedStore(path).speed("m") == pytest.approx(250)
    assert json.loads(path.read_text())["models"] == {"m": [250]}


def test_a_cache_dir_that_cannot_be_written_loses_only_the_measurement(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    store = SpeedStore(blocker / "speeds.json")
    store.add("m", 120)  # no exception
    assert store.speed("m") == pytest.approx(120)  # still known to this process


def test_the_store_lives_in_the_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("READER_APP_CACHE_DIR", str(tmp_path / "c"))
    SpeedStore().add("m", 80)
    assert (tmp_path / "c" / speeds.FILE_NAME).is_file()


# ---- the budget rule ------------------------------------------------------------------

def test_the_budget_follows_the_speed_within_its_clamps():
    room = 6000
    assert passage_budget(None, 10, 100, room, QUICK_FLOOR) == QUICK_FLOOR  # not measured yet
    assert passage_budget(30, 10, 100, room, QUICK_FLOOR) == QUICK_FLOOR  # slow machine: the floor
    assert passage_budget(100, 10, 100, room, QUICK_FLOOR) == 900  # 1000 tokens in 10 s, 100 for the question
    faster = passage_budget(200, 10, 100, room, QUICK_FLOOR)
    assert faster == 1900 > passage_budget(100, 10, 100, room, QUICK_FLOOR)
    assert passage_budget(200, 5, 100, room, QUICK_FLOOR) == 900  # a shorter wait: fewer passages
    assert passage_budget(5000, 10, 100, room, QUICK_FLOOR) == room  # GPU-like: all the context holds
    assert passage_budget(5000, float("inf"), 100, room, QUICK_FLOOR) == room
    assert passage_budget(100, 10, 100, 200, QUICK_FLOOR) == 200  # a small context wins over the floor
    assert passage_budget(100, 10, 100, room, LIBRARY_FLOOR) == LIBRARY_FLOOR
    assert context_room(8192, 500, 128) < 8192 - 500 - 128 and context_room(100, 500, 128) == 0


# ---- the passages it buys -------------------------------------------------------------

@pytest.fixture(scope="module")
def real_paper(papers_dir):
    from reader_app.pdf import extract_paper

    return extract_paper(papers_dir / "2304.02623v1.pdf")


def _assistant(tmp_path, speed: float | None, n_ctx: int = 8192, **kw) -> Assistant:
    engine = FakeEngine(n_ctx=n_ctx)
    store = SpeedStore(tmp_path / f"speeds-{speed}-{n_ctx}.json")
    if speed:
        store.add(engine.key, speed)
    return Assistant(engine, speeds=store, **kw)


def _body(paper: Paper) -> list[Paragraph]:
    return [p for p in paper.paragraphs if p.kind in passage_qa.INCLUDED_KINDS and p.text.strip()]


QUESTION = "What dataset is the model trained on?"


def test_a_faster_machine_reads_more_passages_and_a_gpu_the_whole_paper(tmp_path, real_paper):
    body = _body(real_paper)
    slow = passage_qa.paper_prompt(_assistant(tmp_path, 20), real_paper, QUESTION)
    unmeasured = passage_qa.paper_prompt(_assistant(tmp_path, None), real_paper, QUESTION)
    assert slow.budget == unmeasured.budget == QUICK_FLOOR and slow.tokens <= QUICK_FLOOR + 300
    faster = passage_qa.paper_prompt(_assistant(tmp_path, 150), real_paper, QUESTION)
    assert faster.budget > QUICK_FLOOR and faster.tokens > slow.tokens
    assert len(faster.paragraphs) > len(slow.paragraphs)
    # GPU-like speed, a context that holds the paper: the whole paper, in reading order
    gpu = passage_qa.paper_prompt(_assistant(tmp_path, 5000, n_ctx=131072), real_paper, QUESTION)
    assert [p.index for p in gpu.paragraphs.values()] == [p.index for p in body]
    # ... a context that does not: as much as it holds, and the prompt fits
    a = _assistant(tmp_path, 5000, n_ctx=2048)
    capped = passage_qa.paper_prompt(a, real_paper, QUESTION)
    assert len(slow.paragraphs) < len(capped.paragraphs) < len(body)
    assert capped.tokens <= capped.budget < 2048
    answer = a.ask_quick(real_paper, QUESTION)
    prefix, suffix, _ = a.engine.calls[-1]
    assert a.engine.count_tokens(prefix + suffix) + a.max_answer_tokens <= 2048
    assert answer.trace.passage_budget == capped.budget and answer.trace.passage_tokens == capped.tokens


def test_an_explicit_budget_still_wins(tmp_path, real_paper):
    a = _assistant(tmp_path, 5000, n_ctx=131072)
    small = passage_qa.paper_prompt(a, real_paper, QUESTION, budget=QUICK_FLOOR)
    assert small.budget == QUICK_FLOOR and small.tokens <= QUICK_FLOOR + 300


def test_the_wait_setting_and_the_option_set_the_target(tmp_path, real_paper, monkeypatch):
    monkeypatch.setenv("READER_APP_CONFIG_DIR", str(tmp_path / "config"))
    a = _assistant(tmp_path, 100)
    assert a.answer_ttft_s == settings.DEFAULTS["answer_ttft_s"] == 6.0
    ten = passage_qa.paper_prompt(a, real_paper, QUESTION).budget
    settings.set_value("answer_ttft_s", 20)
    assert a.answer_ttft_s == 20.0 and passage_qa.paper_prompt(a, real_paper, QUESTION).budget > ten
    for bad in ("soon", -3, 0, True, None):  # a bad stored value: the default
        settings.set_value("answer_ttft_s", bad)
        assert settings.current().answer_ttft_s == 6.0
    assert _assistant(tmp_path, 100, answer_ttft_s=20).answer_ttft_s == 20.0


def _topic_paper(pid: str, title: str, words: str, n: int) -> Paper:
    paras = [Paragraph(index=i, text=f"{words} paragraph {i} says something about {words} in detail. " * 6,
                       page=1, section_index=0, section="Body") for i in range(n)]
    return Paper(id=pid, title=title, pages=1, sections=[Section(0, "Body", 1, 1)], paragraphs=paras)


def test_library_answers_never_read_less_than_their_floor(tmp_path):
    from reader_app.library import Library

    with Library.open(tmp_path / "lib") as lib:
        for i, words in enumerate(("graph networks", "speech recognition", "bridge dampers")):
            lib.add_paper(_topic_paper(chr(97 + i) * 64, words.title(), words, 30))
        slow = Assistant(FakeEngine(), lib, speeds=SpeedStore(tmp_path / "s1.json"))
        slow.speeds.add(slow.engine.key, 20)
        question = "What do graph networks and speech recognition say?"
        at_floor = passage_qa.library_prompt(slow, question, Scope())
        assert at_floor.budget == LIBRARY_FLOOR
        fast = Assistant(FakeEngine(), lib, speeds=SpeedStore(tmp_path / "s2.json"))
        fast.speeds.add(fast.engine.key, 1000)
        more = passage_qa.library_prompt(fast, question, Scope())
        assert more.budget > LIBRARY_FLOOR and more.tokens > at_floor.tokens
        # a question one paper answers reads that paper alone, with the same floor
        alone = passage_qa.library_prompt(slow, "What do bridge dampers say?", Scope())
        assert [p.id for p in alone.papers] == ["c" * 64] and alone.budget == LIBRARY_FLOOR
        assert alone.tokens > at_floor.tokens // 2  # the budget is its own, not a share


# ---- measured while answering, and reported by the evaluation ----------------------------

def test_every_generation_of_the_assistant_records_its_speed(tmp_path, real_paper):
    a = _assistant(tmp_path, None)
    assert a.prompt_speed is None
    a.ask_quick(real_paper, QUESTION)
    assert a.prompt_speed is not None and len(a.speeds.samples(a.model_key)) == 1
    assert SpeedStore(a.speeds.path).speed(a.model_key) == pytest.approx(a.prompt_speed)


def test_eval_quick_reports_the_budget_and_takes_a_target(tmp_path, qasper_dir):
    import shutil

    from reader_app.assistant.eval import run_eval
    from tests.test_eval import tiny_qasper

    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny_qasper()))
    shutil.copy(qasper_dir / "qasper_evaluator.py", tmp_path / "qasper_evaluator.py")
    r = run_eval(FakeEngine("2]\nAnswer: PubMed corpus"), str(path), papers=1, mode="quick", ttft=4.0)
    assert r["answer_ttft_s"] == 4.0 and r["prompt_tokens_per_s"] > 0
    assert 0 < r["passage_tokens"] <= r["passage_budget"]
    res = run_cli("eval", "qasper", str(path), "--mode", "quick", "--ttft", "0", library=tmp_path / "lib")
    assert res.code == 2 and "--ttft" in res.err and "Traceback" not in res.err


@pytest.mark.model
def test_the_embedded_model_records_its_prompt_speed(tmp_path, real_paper):
    from reader_app.assistant import open_engine
    from reader_app.core.errors import ModelError

    try:
        engine = open_engine()
    except ModelError as exc:  # pragma: no cover - the embedded model ships with the package
        pytest.skip(f"embedded model unavailable: {exc}")
    try:
        a = Assistant(engine, speeds=SpeedStore(tmp_path / "speeds.json"))
        assert a.prompt_speed is None
        answer = a.ask_quick(real_paper, QUESTION)
        assert answer.trace.passage_budget == QUICK_FLOOR  # nothing measured before it
        assert answer.timings.prompt_tokens - answer.timings.cached_tokens >= speeds.MIN_TOKENS
        (speed,) = a.speeds.samples(engine.key)
        assert speed > 0 and SpeedStore(tmp_path / "speeds.json").speed(engine.key) == pytest.approx(speed)
        # the next answer's budget follows it (at least the floor, at most the context)
        assert QUICK_FLOOR <= passage_qa.paper_prompt(a, real_paper, QUESTION).budget < engine.n_ctx
    finally:
        engine.close()


def test_a_fixed_passage_budget_wins_over_the_speed_but_not_the_context(tmp_path):
    """Evals compare prompts on the same passages (``eval --passage-tokens``)."""
    fast = SpeedStore(tmp_path / "speeds.json")
    eng = FakeEngine()
    fast.record(eng.key, Timings(prompt_tokens=5000, ttft_s=1.0))
    assert Assistant(eng, speeds=fast, passage_tokens=500).passage_budget(20) == 500
    assert Assistant(eng, speeds=fast).passage_budget(20) > 500
    small = FakeEngine(n_ctx=600)
    assert Assistant(small, speeds=fast, passage_tokens=5000).passage_budget(20) < 600
