"""Section-aligned windows for long papers and BM25 routing."""

from __future__ import annotations

from reader_app.assistant.service import Assistant
from reader_app.assistant.windows import build_windows, rank_in_memory, route
from reader_app.core.model import Paper, Paragraph, Section
from tests.fakes import FakeEngine


def count(text: str) -> int:
    return max(1, len(text) // 4)


def long_paper(n_sections=6, per_section=5) -> Paper:
    topics = ["transformer attention heads", "protein folding energy", "graph neural message passing",
              "speech recognition acoustic", "reinforcement learning reward", "image segmentation masks",
              "compiler register allocation", "database query optimizer"]
    sections, paras = [], []
    for s in range(n_sections):
        sections.append(Section(s, f"{s + 1} Section about {topics[s]}", 1, s + 1))
        for j in range(per_section):
            text = (f"This paragraph discusses {topics[s]} in detail, part {j}. " * 6).strip()
            paras.append(Paragraph(len(paras), text, s + 1, (0, 0, 1, 1), s, sections[-1].title))
    return Paper(id="long" * 16, title="A Long Paper", sections=sections, paragraphs=paras)


def test_single_window_when_it_fits():
    paper = long_paper(2, 2)
    ws = build_windows(paper, count, 10_000)
    assert len(ws) == 1 and ws[0].numbers == [1, 2, 3, 4]


def test_windows_fit_budget_are_section_aligned_and_cover_everything():
    paper = long_paper()
    per_section = sum(count(p.text) for p in paper.paragraphs[:5])
    budget = int(per_section * 2.5)
    ws = build_windows(paper, count, budget)
    assert len(ws) >= 3
    assert all(w.tokens <= budget for w in ws)
    numbers = [n for w in ws for n in w.numbers]
    assert numbers == list(range(1, len(paper.paragraphs) + 1)), "every paragraph once, in order, global numbers"
    for w in ws:  # whole sections per window when a section fits a window
        sec = {w.paragraphs[n].section_index for n in w.numbers}
        for s in sec:
            assert sum(1 for p in paper.paragraphs if p.section_index == s) == sum(
                1 for n in w.numbers if w.paragraphs[n].section_index == s)
    assert all(w.text.count("<paper>") == 1 for w in ws)
    assert len({w.key for w in ws}) == len(ws)


def test_section_longer_than_window_is_cut_at_paragraphs():
    paper = long_paper(1, 12)
    budget = sum(count(p.text) for p in paper.paragraphs[:4])
    ws = build_windows(paper, count, budget)
    assert len(ws) >= 3 and all(w.tokens <= budget for w in ws)
    assert all("## 1 Section about transformer" in w.text for w in ws), "each part keeps its section header"


def test_runaway_paragraph_is_truncated():
    paper = long_paper(1, 1)
    paper.paragraphs[0].text = "word " * 20_000
    ws = build_windows(paper, count, 2000)
    assert len(ws) == 1 and ws[0].tokens <= 2000


def test_bm25_and_routing():
    paper = long_paper()
    ranking = rank_in_memory(paper, "How are protein folding energies computed?")
    assert paper.paragraphs[ranking[0][0]].section_index == 1
    pets = Paper(id="p", paragraphs=[Paragraph(index=i, text=t, page=1) for i, t in
                                     enumerate(["cats purr", "dogs bark loudly", "cats and dogs", "a dog barked"])])
    assert {i for i, _ in rank_in_memory(pets, "Which dogs bark?")} == {1, 2, 3}  # stems: dog/dogs, bark/barked
    assert rank_in_memory(pets, "Which dogs bark?")[0][0] == 1
    ws = build_windows(paper, count, sum(count(p.text) for p in paper.paragraphs[:5]) + 80)
    target = route(ws, rank_in_memory(paper, "image segmentation masks"))
    assert all(target.paragraphs[n].section_index == 5 for n in target.numbers)


def test_assistant_routes_question_to_the_right_window():
    paper = long_paper()
    eng = FakeEngine("1]\nAnswer: attention", n_ctx=1400)
    a = Assistant(eng, k=0)
    ws = a.windows(paper, "zero-shot-evidence")
    assert len(ws) > 1
    prefix, suffix, w = a.prompt(paper, "What about reinforcement learning reward?", mode="zero-shot-evidence")
    assert "reinforcement learning reward" in w.text and w is not ws[0]
    assert "transformer attention heads" not in prefix
    assert eng.count_tokens(prefix + suffix) + a.max_answer_tokens <= eng.n_ctx


def test_routing_uses_library_ranking_when_given():
    paper = long_paper()

    class Lib:
        def get_paper(self, pid):
            return paper

        def rank_paragraphs(self, pid, q, limit=None):
            self.asked = (pid, q)
            return [(27, 9.0), (26, 8.0)]  # section 5 (image segmentation)

        def add_qa(self, ans):
            return 1

    lib = Lib()
    eng = FakeEngine("28]\nAnswer: masks", n_ctx=1400)
    a = Assistant(eng, lib, k=0)
    _, _, w = a.prompt(paper, "anything at all", mode="zero-shot-evidence")
    assert lib.asked == (paper.id, "anything at all")
    assert 28 in w.numbers
