"""Markdown export: content (front matter, notes, summaries, Q&A, index) and safety."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

from reader_app.core.errors import BadInput, NotFound
from reader_app.core.model import Answer, Citation, Timings
from reader_app.export.markdown import export_papers, md_text, yaml_str
from reader_app.export.slug import slugify
from reader_app.library import Library

from test_library import make_paper


@pytest.fixture
def lib(tmp_path):
    with Library.open(tmp_path / "lib") as lib:
        yield lib


def front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    head, _, _ = text[4:].partition("\n---\n")
    return yaml.safe_load(head)


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_export_content(lib, tmp_path):
    p = make_paper("a" * 64, title='Attention: "All" you need — ünïcode', pages=10, tags=["nlp", "to read"])
    p.abstract = "We *propose* a model."
    pid, _ = lib.add_paper(p)
    lib.add_note(pid, "Third-page **thought**", page=3, quote="A quoted line\nand a second <b>line</b>")
    lib.add_note(pid, "first page", page=1)
    lib.add_note(pid, "overall: great paper")
    lib.add_note(pid, "page ten", page=10)
    lib.put_summary(pid, "smol", "s2", {"title": "Results", "summary": "It wins.",
                                        "citations": [{"paragraph": 5, "page": 3}]})
    lib.put_summary(pid, "smol", "tldr", {"title": "TL;DR", "summary": "Attention helps.",
                                          "citations": [{"paragraph": 12, "page": 4}, {"paragraph": 2, "page": 0}]})
    lib.add_qa(Answer(pid, "What does it use?", "Attention heads.", True,
                      [Citation(1, 1, "Introduction", "We study attention in transformers.", (0, 0, 1, 1), True),
                       Citation(7, 2, "Results", "Other text.", (0, 0, 1, 1), False)],
                      "doubledipper", "SmolLM2", Timings()))
    lib.add_qa(Answer(pid, "Who funded it?", "", False, [], "doubledipper", "SmolLM2", Timings()))

    files = export_papers(lib, [pid[:6]], tmp_path / "out")
    assert [f.name for f in files] == ["attention-all-you-need-ünïcode.md", "references.bib"]
    text = files[0].read_text(encoding="utf-8")
    fm = front_matter(text)
    assert fm["title"] == 'Attention: "All" you need — ünïcode'
    assert fm["authors"] == ["Ada Lovelace", "Alan Turing"] and fm["year"] == 2024
    assert fm["doi"] == "10.1/x" and fm["arxiv"] == "2401.00001"
    assert fm["tags"] == ["nlp", "to-read"] and fm["id"] == pid and "source" in fm
    # the citation key: front matter, a "Cite as" line under the byline, and references.bib
    assert fm["citekey"] == "lovelace2024attention"
    assert "Ada Lovelace, Alan Turing (2024)\n\nCite as: `lovelace2024attention`" in text
    bib = files[1].read_text(encoding="utf-8")
    assert bib.startswith("@article{lovelace2024attention,\n") and bib.count("\n@") == 0
    assert "author = {Lovelace, Ada and Turing, Alan}" in bib and "eprint = {2401.00001}" in bib

    body = text.split("\n---\n", 1)[1]
    assert body.lstrip().startswith('# Attention: "All" you need — ünïcode')
    assert "We \\*propose\\* a model." in body
    # notes: general first, then page order, page reference and blockquote
    order = [body.index(s) for s in ("overall: great paper", "### p. 1\n\nfirst page",
                                     "### p. 3", "Third-page **thought**", "### p. 10\n\npage ten")]
    assert order == sorted(order)
    assert "### p. 3\n\n> A quoted line\n> and a second \\<b\\>line\\</b\\>\n\nThird-page **thought**" in body
    # summaries: TL;DR before sections, citations
    assert body.index("### TL;DR") < body.index("### Results") and "## Summaries" in body
    assert "Attention helps. [¶12, p. 4] [¶2]" in body and "It wins. [¶5, p. 3]" in body
    # Q&A history with citations
    assert "### Q: What does it use?" in body and "Attention heads." in body
    assert "- [¶1, p. 1] *Introduction*: We study attention in transformers." in body
    assert "- [¶7, p. 2] *Results* (unverified): Other text." in body
    assert "### Q: Who funded it?" in body and "does not seem to answer" in body
    assert body.index("## Notes") < body.index("## Summaries") < body.index("## Questions and answers")
    assert not (tmp_path / "out" / "index.md").exists()


def test_export_with_index_and_many_papers(lib, tmp_path):
    ids = [lib.add_paper(make_paper(f"{i:x}" * 64, title=t, tags=["x"]))[0]
           for i, t in enumerate(["Same Title", "Same Title", "Index", "", "Other"])]
    files = export_papers(lib, ids, tmp_path / "out", index_title="Papers tagged x")
    names = [f.name for f in files]
    assert len(set(names)) == 7 and names[-2:] == ["references.bib", "index.md"]
    assert names[0] == "same-title.md" and names[1].startswith("same-title-") and names[1] != names[0]
    assert names[2] != "index.md" and names[2].startswith("index-")
    assert names[3] == f"{ids[3][:12]}.md"  # empty title -> id prefix
    index = (tmp_path / "out" / "index.md").read_text(encoding="utf-8")
    assert front_matter(index)["title"] == "Papers tagged x" and "# Papers tagged x" in index
    links = re.findall(r"\]\(([^)]+)\)", index)
    assert len(links) == 5
    assert all((tmp_path / "out" / unquote(link)).is_file() for link in links)
    assert "[Other](other.md)" in index
    # one entry per paper; the two "Same Title" papers get distinct keys, each named in its file
    bib = (tmp_path / "out" / "references.bib").read_text(encoding="utf-8")
    keys = re.findall(r"^@\w+\{([^,]+),$", bib, flags=re.M)
    assert keys == ["lovelace2024same", "lovelace2024samea", "lovelace2024index", "lovelace2024",
                    "lovelace2024other"]
    for f, key in zip(files, keys):
        assert front_matter(f.read_text(encoding="utf-8"))["citekey"] == key
        assert f"Cite as: `{key}`" in f.read_text(encoding="utf-8")


EVIL = ["../../../evil", "/etc/passwd", "..", ".", "a/b/../../c", "nul\x00byte", "CON", "con", "LPT1",
        "com1", "aux.txt", "x" * 1000, "é" * 1000, "中" * 1000, "", "   ", "\n\t", "<>:\"/\\|?*",
        ".hidden", "~", "$(rm -rf ~)", "C:\\Windows\\System32", "\u202eevil\u202d", "index"]


def test_evil_titles_stay_inside_out_dir(lib, tmp_path):
    ids = [lib.add_paper(make_paper(f"{i:02x}" * 32, title=t))[0] for i, t in enumerate(EVIL)]
    out = tmp_path / "a" / "out"
    before = tree(tmp_path) - {"a"}
    files = export_papers(lib, ids, out, index_title="All")
    assert len(files) == len(EVIL) + 2 and len({f.name.casefold() for f in files}) == len(files)
    bib = files.pop(-2)
    assert bib.name == "references.bib" and bib.read_text(encoding="utf-8").count("\n@") == len(EVIL) - 1
    for f in files:
        assert f.parent == out.resolve() and f.is_file()
        assert len(f.name.encode("utf-8")) <= 200 and not f.name.startswith(".")
        stem = f.name.split(".")[0].lower()
        assert stem not in {"con", "prn", "aux", "nul", "lpt1", "com1"}
        assert all(c not in f.name for c in '<>:"/\\|?*\x00') and f.suffix == ".md"
        fm = front_matter(f.read_text(encoding="utf-8"))
        assert fm["title"]
    assert tree(tmp_path) - before == {"a", "a/out", "a/out/references.bib"} | {f"a/out/{f.name}" for f in files}
    texts = {f.name: f.read_text(encoding="utf-8") for f in files}
    ix = files[[i for i, t in enumerate(EVIL) if t == "nul\x00byte"][0]]
    assert "\x00" not in texts[ix.name] and front_matter(texts[ix.name])["title"] == "nulbyte"


def test_no_overwrite_without_force_and_nothing_half_written(lib, tmp_path):
    a, _ = lib.add_paper(make_paper("a" * 64, title="Alpha"))
    b, _ = lib.add_paper(make_paper("b" * 64, title="Beta"))
    out = tmp_path / "out"
    out.mkdir()
    (out / "beta.md").write_text("my own precious file")
    with pytest.raises(BadInput) as e:
        export_papers(lib, [a, b], out, index_title="Lib")
    assert "beta.md" in str(e.value) and "--force" in str(e.value) and "\n" not in str(e.value)
    assert tree(out) == {"beta.md"}  # alpha.md, references.bib and index.md were not written either
    assert (out / "beta.md").read_text() == "my own precious file"
    files = export_papers(lib, [a, b], out, force=True, index_title="Lib")
    assert "Beta" in (out / "beta.md").read_text() and len(files) == 4
    lib.add_note(a, "new note", page=1)
    with pytest.raises(BadInput):
        export_papers(lib, [a], out)
    assert "new note" not in (out / "alpha.md").read_text()
    export_papers(lib, [a], out, force=True)
    assert "new note" in (out / "alpha.md").read_text()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_symlink_targets_are_never_followed(lib, tmp_path):
    a, _ = lib.add_paper(make_paper("a" * 64, title="Alpha"))
    outside = tmp_path / "outside.txt"
    outside.write_text("do not touch")
    out = tmp_path / "out"
    out.mkdir()
    (out / "alpha.md").symlink_to(outside)
    for force in (False, True):
        with pytest.raises(BadInput):
            export_papers(lib, [a], out, force=force)
    assert outside.read_text() == "do not touch"


def test_export_bad_arguments(lib, tmp_path):
    a, _ = lib.add_paper(make_paper("a" * 64, title="Alpha"))
    with pytest.raises(BadInput):
        export_papers(lib, [], tmp_path / "out")
    with pytest.raises(NotFound):
        export_papers(lib, ["ffff"], tmp_path / "out")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(BadInput):
        export_papers(lib, [a], f)
    assert not (tmp_path / "out").exists()
    files = export_papers(lib, [a, a[:5]], tmp_path / "out")  # the same paper twice -> one file
    assert [f.name for f in files] == ["alpha.md", "references.bib"]
    assert files[1].read_text(encoding="utf-8").count("@article{") == 1


def test_export_paper_without_anything(lib, tmp_path):
    p = make_paper("a" * 64, title="Bare")
    p.authors, p.year, p.doi, p.arxiv_id, p.abstract = [], None, None, None, ""
    lib.add_paper(p)
    text = export_papers(lib, ["a"], tmp_path)[0].read_text(encoding="utf-8")
    fm = front_matter(text)
    assert fm["authors"] == [] and fm["year"] is None and fm["doi"] is None and fm["tags"] == []
    assert "*No notes.*" in text and "## Summaries" not in text and "## Questions" not in text
    assert fm["citekey"] == "anonbare" and "Cite as: `anonbare`" in text
    assert (tmp_path / "references.bib").read_text(encoding="utf-8") == \
        "@misc{anonbare,\n  title = {{Bare}}\n}\n"


def test_existing_references_bib_is_merged_never_lost(lib, tmp_path):
    a, _ = lib.add_paper(make_paper("a" * 64, title="Alpha"))
    out = tmp_path / "out"
    out.mkdir()
    mine = "% my thesis\n@misc{mine, title = {My own {braced} title}}\n"
    (out / "references.bib").write_text(mine)
    files = export_papers(lib, [a], out)  # no --force needed: nothing is lost
    assert [f.name for f in files] == ["alpha.md", "references.bib"]
    text = (out / "references.bib").read_text()
    assert text.startswith(mine.strip()) and text.count("@article{lovelace2024alpha,") == 1
    export_papers(lib, [a], out, force=True)  # again: the entry is replaced, not added twice
    again = (out / "references.bib").read_text()
    assert again == text and again.count("@") == 2


def test_merge_keeps_other_entries_and_replaces_same_keys():
    from reader_app.export.bibtex import merge, split_entries

    old = "@string{acl = {ACL}}\n\n@misc{a, title = {Old {A}}}\n@misc{b, note = {at @misc{x, inside}}}\n"
    new = "@misc{a, title = {New A}}\n\n@misc{c, title = {C}}\n"
    merged = merge(old, new)
    assert [k for k, _ in split_entries(merged) if k] == ["b", "a", "c"]
    assert merged.startswith("@string{acl = {ACL}}") and "Old" not in merged and "New A" in merged and "inside" in merged
    assert merge("", new).strip() == new.strip()


@pytest.mark.parametrize("value", ['plain', 'with "quotes" and \\ backslash', "new\nline", "tab\there",
                                   "colon: value", "- dash", "# hash", "yes", "null", "123", "@at", "`tick`",
                                   "\x07bell\x1b", "\u2028sep\u0085", "émoji 😀", "{a: b}", "[1, 2]", "'single'"])
def test_yaml_strings_round_trip(value):
    assert yaml.safe_load(f"k: {yaml_str(value)}")["k"] == value


@pytest.mark.parametrize("text", ["# heading", "- item", "+ item", "1. item", "2) item", "> quote", "*em*",
                                  "_em_", "`code`", "[link](http://x)", "<script>alert(1)</script>", "a | b",
                                  "$x^2$", "==highlight==", "%%comment%%", "~~strike~~", "&amp;", "![img](x)"])
def test_md_text_neutralises_markup(text):
    esc = md_text(text)
    assert esc.replace("\\", "") == text.replace("\\", "")  # only backslashes added
    assert not esc.startswith(("#", "-", "+", ">", "1.", "2)"))
    for c in "*_`[<$~|&":
        assert f"{c}" not in esc.replace(f"\\{c}", "")


def test_slugify_limits():
    assert slugify("Attention Is All You Need") == "attention-is-all-you-need"
    assert slugify("../../etc/passwd") == "etc-passwd"
    assert slugify("", "abc123") == "abc123" and slugify("...", "") == "paper"
    assert slugify("CON") == "con-paper" and slugify("lpt¹") == "lpt1-paper"
    assert len(slugify("x" * 1000)) == 80 and len(slugify("中" * 1000).encode()) <= 150


@pytest.mark.skipif(not (Path(__file__).resolve().parents[1].parent / "shared" / "papers").is_dir(),
                    reason="shared papers not present")
def test_real_pdf_round_trip(lib, tmp_path):
    pdfmod = pytest.importorskip("reader_app.pdf")
    extract = getattr(pdfmod, "extract_paper", None)
    if extract is None:
        pytest.skip("reader_app.pdf.extract_paper not available yet")
    src = sorted((Path(__file__).resolve().parents[1].parent / "shared" / "papers").glob("*.pdf"))[0]
    paper = extract(str(src))
    pid, dup = lib.add_paper(paper, src)
    assert not dup and len(pid) == 64
    assert lib.add_paper(extract(str(src)), src) == (pid, True)
    got = lib.get_paper(pid[:8])
    assert got.pages == paper.pages > 0 and len(got.paragraphs) == len(paper.paragraphs) > 10
    assert [s.title for s in got.sections] == [s.title for s in paper.sections]
    assert Path(got.file).read_bytes() == src.read_bytes()
    word = max((w for p in paper.paragraphs for w in p.text.split() if w.isalpha()), key=len)
    hits = lib.search(word, paper_id=pid)
    assert hits and all(h.page >= 1 for h in hits)
    lib.add_note(pid, "real note", page=1, quote=paper.paragraphs[0].text[:80])
    text = export_papers(lib, [pid], tmp_path / "out")[0].read_text(encoding="utf-8")
    assert front_matter(text)["title"] == " ".join(paper.title.split()) or front_matter(text)["title"] == paper.title
    assert "### p. 1" in text and "real note" in text
    assert lib.integrity_check() == "ok"
