"""docs/architecture.md names every module of reader_app, and no module that does not exist.

A module is named by its path relative to ``reader_app/`` (``llm/engine.py``,
``ui/ask/ask_flow.py``, ``__init__.py``); ``__init__.py`` files with nothing but a docstring
need no line.  Every ``*.py`` path the page mentions must exist: one under a package of
``reader_app`` (or ``reader_app/...``) in the package, one under another folder (``tests/``)
in the repository, and a bare file name (``reply.py``) as the name of some module.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "reader_app"
DOC = ROOT / "docs" / "architecture.md"

# bare *.py names the page may mention that are not modules of ours
OUTSIDE = {"qasper_evaluator.py"}  # QASPER's official evaluator, beside the data set

# a path-like token ending in .py, not part of a longer path or name
PATH_TOKEN = re.compile(r"(?<![\w/.-])((?:[A-Za-z_][\w-]*/)*[A-Za-z_]\w*\.py)(?![\w/])")


def _holds_code(path: Path) -> bool:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]  # the docstring
    return bool(body)


def modules(pkg: Path = PKG) -> list[str]:
    """Every module of the package that the page must name, relative to the package."""
    return sorted(p.relative_to(pkg).as_posix() for p in pkg.rglob("*.py")
                  if p.name != "__init__.py" or _holds_code(p))


def named_paths(text: str) -> set[str]:
    """The ``*.py`` paths a text mentions, with a leading ``reader_app/`` dropped."""
    return {t.removeprefix("reader_app/") for t in PATH_TOKEN.findall(text)}


def unnamed(text: str, pkg: Path = PKG) -> list[str]:
    named = named_paths(text)
    return [m for m in modules(pkg) if m not in named]


def stale(text: str, pkg: Path = PKG, root: Path = ROOT) -> list[str]:
    """Paths the text names that do not exist."""
    packages = {p.name for p in pkg.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    basenames = {p.name for p in pkg.rglob("*.py")}
    bad = []
    for path in sorted(named_paths(text)):
        if "/" not in path:
            ok = path in basenames or path in OUTSIDE
        elif path.split("/")[0] in packages:
            ok = (pkg / path).is_file()
        else:
            ok = (root / path).is_file()
        if not ok:
            bad.append(path)
    return bad


def test_every_module_is_named_in_architecture_md():
    missing = unnamed(DOC.read_text(encoding="utf-8"))
    assert not missing, ("docs/architecture.md does not name these modules (add a line to the "
                         f"code map, path relative to reader_app/): {missing}")


def test_architecture_md_names_no_missing_module():
    bad = stale(DOC.read_text(encoding="utf-8"))
    assert not bad, f"docs/architecture.md names files that do not exist: {bad}"


def test_the_check_sees_the_real_tree():
    mods = modules()
    assert "llm/engine.py" in mods and "ui/ask/ask_flow.py" in mods and "cli.py" in mods
    assert "llm/__init__.py" not in mods  # a docstring alone
    assert "pdf/__init__.py" in mods  # re-exports: code


def test_a_missing_module_fails_the_check():
    text = DOC.read_text(encoding="utf-8")
    cut = text.replace("`llm/engine.py`", "`the engine`")
    assert unnamed(cut) == ["llm/engine.py"]
    # a bare or differently rooted name does not count as the module's path
    assert "llm/engine.py" in unnamed("`engine.py` and `reader_app/llm/engine_child.py`")
    assert "__init__.py" in unnamed("`ui/__init__.py`")


def test_a_stale_name_fails_the_check():
    assert stale("`assistant/engine_base.py` and `llm/engine.py`") == ["assistant/engine_base.py"]
    assert stale("the old `engine_process.py`, `ui/ask_flow.py`") == ["engine_process.py", "ui/ask_flow.py"]
    assert stale("`tests/test_nothing_here.py`, `tests/test_docs.py`") == ["tests/test_nothing_here.py"]
    assert stale("`reader_app/settings.py`, `reply.py`, `qasper_evaluator.py`") == []


def test_a_new_module_must_be_named(tmp_path):
    pkg = tmp_path / "reader_app"
    (pkg / "llm").mkdir(parents=True)
    (pkg / "llm" / "__init__.py").write_text('"""The model."""\n')
    (pkg / "llm" / "engine.py").write_text("x = 1\n")
    (pkg / "llm" / "embedder.py").write_text("x = 1\n")
    (pkg / "__init__.py").write_text("VERSION = 1\n")
    text = "| `__init__.py` | version |\n| `llm/engine.py` | engines |\n"
    assert unnamed(text, pkg) == ["llm/embedder.py"]
    assert unnamed(text + "| `llm/embedder.py` | embeddings |\n", pkg) == []


def test_readme_names_no_missing_module_and_stays_short():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert not stale(text), f"README.md names files that do not exist: {stale(text)}"
    assert len(text.splitlines()) <= 250, "README is for users: keep it at 250 lines or fewer"
