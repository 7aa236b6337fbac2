"""import-bib: JabRef, Mendeley and Better BibTeX file fields, matching by DOI and title,
TeX accents, broken entries and duplicate keys."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import run_cli

from reader_app.importers.bib import file_paths, import_bib
from reader_app.library import Library

ACL = "2020.acl-main.447.pdf"
EACL = "2023.eacl-main.121.pdf"
ARXIV = "2304.02623v1.pdf"


def test_file_field_formats(tmp_path):
    d = tmp_path
    assert file_paths(":papers/a.pdf:PDF", d) == [d / "papers/a.pdf", Path("/papers/a.pdf")]
    assert file_paths("Full Text PDF:/x/b.pdf:application/pdf;Snapshot:/x/b.html:text/html", d) == \
        [Path("/x/b.pdf")]
    assert file_paths(r":C$\backslash$:/Users/me/c.pdf:pdf", d)[-1] == d / "c.pdf"
    assert file_paths(r"C\:\\Users\\me\\d.pdf", d)[-1] == d / "d.pdf"
    assert file_paths(":home/u/e.pdf:pdf", d)[1] == Path("/home/u/e.pdf")
    assert file_paths("/abs/f.pdf", d) == [Path("/abs/f.pdf")]
    assert file_paths("notes:/x/n.txt:text/plain", d) == []


def test_import_bib_files_metadata_tags_and_matches(tmp_path, papers_dir):
    (tmp_path / "pdfs").mkdir()
    shutil.copy(papers_dir / ACL, tmp_path / "pdfs" / ACL)
    absolute = tmp_path / "elsewhere" / EACL
    absolute.parent.mkdir()
    shutil.copy(papers_dir / EACL, absolute)
    lib_dir = tmp_path / "lib"
    r = run_cli("add", papers_dir / ARXIV, "--json", library=lib_dir)  # already here, found by DOI below
    assert r.code == 0, r
    arxiv_id = r.json()[0]["id"]
    with Library.open(lib_dir) as lib:
        lib.update_paper(arxiv_id, title="Some Title Here, With Punctuation!")
        lib.db.execute("UPDATE papers SET doi = '10.48550/arXiv.2304.02623' WHERE id = ?", [arxiv_id])
    bib = tmp_path / "refs.bib"
    bib.write_text(r"""
@inproceedings{lo2020, title = {{S2ORC}: The Semantic Scholar Open Research Corpus},
  author = {Lo, Kyle and Wang, Lucy Lu and M{\"u}ller, J{\"o}rg}, year = {2020},
  doi = {10.18653/v1/2020.acl-main.447}, booktitle = {Proceedings of ACL},
  file = {:pdfs/2020.acl-main.447.pdf:PDF}, keywords = {corpus, nlp}, groups = {Reading group}}

@article{eacl, title = {Caf{\'e} na{\"\i}ve {\'E}tudes}, author = {Dupont, Andr{\'e}}, date = {2023-05},
  file = {Full Text PDF:""" + str(absolute) + r""":application/pdf;Snapshot:/nowhere/s.html:text/html},
  mendeley-groups = {Mendeley/Sub}}

@misc{bydoi, doi = {https://doi.org/10.48550/ARXIV.2304.02623}, keywords = {matched}}

@misc{bytitle, title = {Some title here with punctuation}, year = 2024, keywords = {by title}}

@misc{gone, title = {The file moved}, file = {:pdfs/moved.pdf:PDF}}

@misc{nothing, title = {No file and nothing like it here}}

@article{lo2020, title = {A second entry with the same key}}

@article{broken, title = {never closed, author = {X}

@misc{after, title = {Entry after the broken one}}
""", encoding="utf-8")
    with Library.open(lib_dir) as lib:
        r = import_bib(lib, bib)
        assert r["imported"] == 2 and r["matched"] == 2, r
        assert r["skipped"] == {"missing file": 1, "no PDF and no matching paper": 2, "duplicate key": 1,
                                "broken entry": 1}, r
        assert any(s["key"] == "lo2020" and "line" in s["detail"] for s in r["skipped_items"] if s["reason"] == "duplicate key")
        papers = {p.title: p for p in lib.list_papers()}
        s2 = papers["S2ORC: The Semantic Scholar Open Research Corpus"]
        assert s2.authors == ["Kyle Lo", "Lucy Lu Wang", "Jörg Müller"] and s2.year == 2020
        assert s2.tags == ["corpus", "nlp", "Reading group"]
        eacl = papers["Café naïve Études"]
        assert eacl.authors == ["André Dupont"] and eacl.year == 2023 and eacl.tags == ["Mendeley/Sub"]
        arxiv = lib.get_paper(arxiv_id)
        assert arxiv.tags == ["by title", "matched"]
        assert arxiv.title == "Some title here with punctuation" and arxiv.year == 2024
        again = import_bib(lib, bib)
        assert again["unchanged"] == 4 and again["imported"] == 0 and len(lib.list_papers()) == 3

    r = run_cli("import-bib", bib, library=lib_dir)
    assert r.code == 0 and "4 unchanged" in r.out and "1 duplicate key" in r.out, r
    assert "Traceback" not in r.err and "Parsing of" not in r.err + r.out


def test_bad_bib_files(tmp_path):
    r = run_cli("import-bib", tmp_path / "none.bib", library=tmp_path / "lib")
    assert r.code == 2 and "no such file" in r.err
    empty = tmp_path / "empty.bib"
    empty.write_text("just some text, no entries\n")
    r = run_cli("import-bib", empty, library=tmp_path / "lib")
    assert r.code == 2 and "has no BibTeX entries" in r.err and len(r.err.strip().splitlines()) == 1
    binary = tmp_path / "binary.bib"
    binary.write_bytes(b"\xff\xfe\x00\x01@article{x, title={\xe9t\xe9}}" * 3)
    r = run_cli("import-bib", binary, "--json", library=tmp_path / "lib")
    assert r.code == 0 and "Traceback" not in r.err, r
