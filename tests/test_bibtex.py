"""BibTeX export: entries, keys, escaping, the `reader-app bibtex` command, on real shared papers."""

from __future__ import annotations

import json
import re

import pytest

from conftest import PAPERS, add_shared_papers, run_cli
from reader_app.core.model import Paper
from reader_app.export.bibtex import bibliography, bibtex_name, cite_key, cite_keys, entry, latex_escape

KEY_RE = re.compile(r"[a-z0-9_]+")


# ---- a tiny BibTeX reader (what BibTeX itself does: count braces, backslash or not) -------

def braces_balance(text: str) -> bool:
    depth = 0
    for c in text:
        depth += (c == "{") - (c == "}")
        if depth < 0:
            return False
    return depth == 0


def parse_value(body: str, i: int) -> tuple[str, int]:
    """The braced value starting at body[i] == '{'; returns (inner text, index after it)."""
    assert body[i] == "{", body[i:i + 40]
    depth, j = 0, i
    while True:
        depth += (body[j] == "{") - (body[j] == "}")
        j += 1
        if depth == 0:
            return body[i + 1:j - 1], j


def parse_bib(text: str) -> list[dict]:
    """Entries as {"type", "key", fields...}; asserts the structure BibTeX needs."""
    entries, i = [], 0
    while True:
        i = text.find("@", i)
        if i < 0:
            return entries
        m = re.compile(r"@(\w+)\{([^,\s{}]+),").match(text, i)
        assert m, f"bad entry head: {text[i:i + 60]!r}"
        start_body = m.end()
        depth, j = 1, start_body
        while depth:  # find the entry's closing brace
            assert j < len(text), "unterminated entry"
            depth += (text[j] == "{") - (text[j] == "}")
            j += 1
        body = text[start_body:j - 1]
        fields = {"type": m.group(1), "key": m.group(2)}
        k = 0
        while True:
            fm = re.compile(r"\s*(\w+)\s*=\s*").match(body, k)
            if not fm:
                assert body[k:].strip() in ("", ","), f"junk in entry: {body[k:]!r}"
                break
            name = fm.group(1).lower()
            assert name not in fields, f"duplicate field {name}"
            fields[name], k = parse_value(body, fm.end())
            rest = body[k:].lstrip()
            if not rest.startswith(","):
                assert rest == "", f"junk after field {name}: {rest!r}"
                break
            k = body.index(",", k) + 1
        entries.append(fields)
        i = j


# ---- unit ---------------------------------------------------------------------------------

def test_entry_for_an_arxiv_paper():
    p = Paper(id="ab" * 32, title="S2ORC: The Semantic Scholar Open Research Corpus",
              authors=["Kyle Lo", "Lucy Lu Wang", "Daniel S. Weld"], year=2020, arxiv_id="1911.02782")
    text = entry(p)
    assert text.startswith("@article{lo2020s2orc,\n") and text.endswith("\n}")
    [e] = parse_bib(text)
    assert e["title"] == "{S2ORC: The Semantic Scholar Open Research Corpus}"  # capitals protected
    assert e["author"] == "Lo, Kyle and Wang, Lucy Lu and Weld, Daniel S."
    assert e["journal"] == "arXiv preprint arXiv:1911.02782" and e["eprint"] == "1911.02782"
    assert e["archiveprefix"] == "arXiv" and e["year"] == "2020"
    assert e["url"] == "https://arxiv.org/abs/1911.02782" and "doi" not in e


def test_misc_entry_with_doi_and_nothing_empty():
    p = Paper(id="cd" * 32, title="Beyond Summarization", authors=["Zejiang Shen"], year=None,
              doi="https://doi.org/10.1145/3544548.3580847")
    [e] = parse_bib(entry(p))
    assert e["type"] == "misc" and e["key"] == "shenbeyond"
    assert e["doi"] == "10.1145/3544548.3580847" and e["url"] == "https://doi.org/10.1145/3544548.3580847"
    assert "year" not in e and "journal" not in e and "eprint" not in e
    assert "None" not in entry(p)
    bare = entry(Paper(id="ef" * 32))
    assert bare == "@misc{paper_efefefef,\n}" and parse_bib(bare)[0]["key"] == "paper_efefefef"


@pytest.mark.parametrize("name, expected", [
    ("Kyle Lo", "Lo, Kyle"), ("Marti A. Hearst", "Hearst, Marti A."), ("Plato", "Plato"),
    ("Lo, Kyle", "Lo, Kyle"), ("Laurens van der Maaten", "van der Maaten, Laurens"),
    ("Martin Luther King Jr.", "King, Jr., Martin Luther"), ("José Ñúñez", "Ñúñez, José"),
    ("R&D and Sons", "{R\\&D and Sons}"), ("  Ada \n Lovelace ", "Lovelace, Ada"),
])
def test_names(name, expected):
    assert bibtex_name(name) == expected


@pytest.mark.parametrize("paper, key", [
    (Paper(title="S2ORC: The Semantic Scholar", authors=["Kyle Lo"], year=2020), "lo2020s2orc"),
    (Paper(title="The Über-Model of a Thing", authors=["Jörg Müller-Lüdenscheidt"], year=2019),
     "mullerludenscheidt2019uber"),
    (Paper(title="On Ærø", authors=["Sørina Ødegård"], year=2001), "odegard2001aero"),
    (Paper(title="A Study", authors=["Laurens van der Maaten"], year=2008), "vandermaaten2008study"),
    (Paper(title="Aardvarks", authors=["Lo, Kyle"], year=2020), "lo2020aardvarks"),
    (Paper(title="Aardvarks", authors=[], year=2020), "anon2020aardvarks"),
    (Paper(id="0123abcdef" * 6, title="1903.10676", year=2021), "paper2021_0123abcd"),
    (Paper(id="qasper:1903.10676"), "paper_qasper19"),
    (Paper(), "paper"),
])
def test_keys(paper, key):
    assert cite_key(paper) == key and KEY_RE.fullmatch(key)


def test_clashing_keys_get_letters():
    same = [Paper(id=str(i), title="Deep Learning", authors=["Yann LeCun"], year=2015) for i in range(30)]
    keys = cite_keys(same)
    assert keys[:4] == ["lecun2015deep", "lecun2015deepa", "lecun2015deepb", "lecun2015deepc"]
    assert len(set(keys)) == 30 and keys[27] == "lecun2015deepaa"
    assert [e["key"] for e in parse_bib(bibliography(same))] == keys
    many = cite_keys([Paper(id=str(i), title="Deep", authors=["Yann LeCun"], year=2015) for i in range(800)])
    assert len(set(many)) == 800 and many[-1].startswith("lecun2015deep_")  # past "zz": numbered


def test_escaping_specials():
    assert latex_escape("a & b % c $ d # e _ f { g } h ~ i ^ j \\ k") == (
        r"a \& b \% c \$ d \# e \_ f \textbraceleft{} g \textbraceright{} h \textasciitilde{} i "
        r"\textasciicircum{} j \textbackslash{} k")
    p = Paper(id="1" * 64, title="50% of $x_i$ & #tags ~ ^ \\LaTeX{}", authors=["Tom & Jerry_Co"], year=2024)
    [e] = parse_bib(entry(p))
    assert e["title"] == (r"{50\% of \$x\_i\$ \& \#tags \textasciitilde{} \textasciicircum{} "
                          r"\textbackslash{}LaTeX\textbraceleft{}\textbraceright{}}")
    assert e["author"] == r"Jerry\_Co, Tom \&"
    assert "ü" in entry(Paper(title="Über", authors=["Jürgen Schmidhuber"]))  # UTF-8 kept


@pytest.mark.parametrize("title", ["}{" * 200, "}" * 50, "{" * 50, "x" * 1000, "é{}\\" * 300,
                                   "\\}\\{ \\\\", "a\nb\x00c\x1bd\u2028e", "@misc{evil, title={x}}"])
def test_hostile_titles_still_parse(title):
    p = Paper(id="2" * 64, title=title, authors=["A } B", "{C"], year=2024, doi="10.1/{x}\\y z",
              arxiv_id="arXiv:2401.0001{")
    text = entry(p)
    assert text.startswith("@") and text.endswith("}") and braces_balance(text)
    [e] = parse_bib(text)
    assert e["doi"] == "10.1/xyz" and e["eprint"] == "2401.0001"
    assert "\x00" not in text and "\x1b" not in text and "\u2028" not in text
    whole = bibliography([p, p])
    keys = [x["key"] for x in parse_bib(whole)]
    assert braces_balance(whole) and keys[1] == keys[0] + "a" and keys[0].startswith("b2024")
    assert KEY_RE.fullmatch(keys[0]) and len(keys[0]) <= 30


def test_empty_bibliography():
    assert bibliography([]) == ""


# ---- real library, through the CLI ------------------------------------------------------------

needs_papers = pytest.mark.skipif(not PAPERS.exists(), reason="shared papers not present")


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    path = tmp_path_factory.mktemp("bib") / "library"
    return path, add_shared_papers(path)


@needs_papers
def test_whole_library_bib_parses(lib, tmp_path):
    path, added = lib
    r = run_cli("bibtex", "--all", library=path)
    assert r.code == 0 and r.err == "", r
    entries = parse_bib(r.out)
    assert len(entries) == len(added) == 7 and braces_balance(r.out)
    assert r.out.count("\n@") == 6 and r.out.startswith("@") and r.out.rstrip().endswith("}")
    keys = [e["key"] for e in entries]
    assert len(set(keys)) == 7 and all(KEY_RE.fullmatch(k) for k in keys)
    shown = {a["id"]: run_cli("show", a["id"], "--json", library=path).json() for a in added}
    by_title = {e.get("title", "")[1:-1]: e for e in entries}
    for meta in shown.values():
        e = by_title[meta["title"]]
        if meta["authors"]:
            first_last = meta["authors"][0].split()[-1].lower()
            assert e["key"].startswith(re.sub(r"[^a-z]", "", first_last) + str(meta["year"] or ""))
            names = e["author"].split(" and ")
            assert len(names) == len(meta["authors"])
            assert all(re.fullmatch(r"[^,]+, [^,]+", n) for n in names), names  # "Last, First"
        if meta["arxiv_id"]:
            assert e["type"] == "article" and e["eprint"] == meta["arxiv_id"]
            assert e["journal"] == f"arXiv preprint arXiv:{meta['arxiv_id']}"
        else:
            assert e["type"] == "misc" and "eprint" not in e
        assert "None" not in str(e)
    s2orc = by_title["S2ORC: The Semantic Scholar Open Research Corpus"]
    assert s2orc["key"] == "lo2020s2orc" and s2orc["author"].startswith("Lo, Kyle and Wang, Lucy Lu")
    assert sum(e["type"] == "article" for e in entries) >= 3  # the arXiv papers


@needs_papers
def test_cli_selection_out_and_json(lib, tmp_path):
    path, added = lib
    ids = [a["id"] for a in added]
    r = run_cli("bibtex", ids[0][:8], ids[1], ids[0], "--json", library=path)
    assert r.code == 0, r
    obj = json.loads(r.out)  # nothing but the JSON on stdout
    assert set(obj) == {"entries", "keys", "out", "bib"} and obj["entries"] == 2 and obj["out"] is None
    assert [e["key"] for e in parse_bib(obj["bib"])] == obj["keys"]  # no --out: the entries are in the JSON
    tagged = run_cli("bibtex", "--tag", "shared", "--json", library=path).json()
    assert tagged["entries"] == 7 and len(set(tagged["keys"])) == 7

    out = tmp_path / "refs.bib"
    out.write_text("old contents")
    r = run_cli("bibtex", "--tag", "shared", "--out", out, library=path)
    assert r.code == 0 and r.out.strip() == str(out), r
    text = out.read_text(encoding="utf-8")
    assert [e["key"] for e in parse_bib(text)] == tagged["keys"] and "old contents" not in text
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    r = run_cli("bibtex", ids[2][:10], "--out", tmp_path / "one.bib", "--json", library=path)
    assert r.json()["out"] == str(tmp_path / "one.bib") and r.json()["entries"] == 1


@needs_papers
@pytest.mark.parametrize("args, message", [
    ((), "exactly one of"),
    (("--all", "--tag", "shared"), "exactly one of"),
    (("abc", "--all"), "exactly one of"),
    (("ffffffff",), "no paper with id"),
    (("--tag", "nope"), "no papers tagged"),
    (("--all", "--out", "{tmp}"), "is a folder"),
    (("--all", "--out", "{tmp}/missing/x.bib"), "no such folder"),
    (("--all", "--bogus"), "unrecognized arguments"),
])
def test_cli_errors_are_one_line(lib, tmp_path, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = run_cli("bibtex", *args, library=lib[0])
    assert r.code == 2, r
    assert r.out == "" and "Traceback" not in r.err and r.err.count("\n") == 1 and message in r.err, r
    assert not (tmp_path / "missing").exists()
