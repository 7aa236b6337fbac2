"""Composition root of the desktop app: services, the main window, ``run_gui``.

``Services`` is what every widget gets (never a Library or an engine directly):

- ``services.library_path`` - the library folder (None = the default location);
- ``services.library()`` - the ``Library`` of the *calling thread*, opened lazily.
  SQLite connections are per thread, so call it inside a ``run_op`` worker function,
  never keep the object across threads;
- ``services.ui_settings`` - a ``QSettings`` for window state (geometry, last page per
  paper, splitter sizes).  Model settings live in ``reader_app.settings``;
- ``services.engine_factory`` - ``None`` (the real ``reader_app.assistant.open_engine``)
  or a callable ``(**EngineConfig.kwargs()) -> Engine`` (tests pass a FakeEngine);
- ``services.llm_worker()`` - the one ``LlmWorker`` (one model on one thread), created
  lazily with the engine factory and a per-thread library opener.  This is the only place
  it is built: the side panel and the settings get it from here;
- ``services.import_pdf(path, password=None) -> (paper_id, duplicate)`` - extraction in a
  subprocess plus the library insert; call it on a worker thread;
- ``services.ranker`` - the one ranking of a question's paragraphs, shared by the Ask panel
  and the model's thread: by words (BM25) until the embedding model opens, then by words
  and meaning (``hybrid.hybrid_ranker``; ``ranker.kind`` says which);
- ``services.embed_worker()`` - the one ``EmbedWorker`` (paragraph vectors in the
  background), or None when the ``semantic_search`` setting is off.  ``start_indexing(win)``
  wires it to a window: the library's papers without vectors now, imported ones as they
  come, and the one line saying why ranking is by words only in the status bar.

``run_gui(paths, screenshot=None, ask=None, library=None, password=None) -> int`` starts
the app.  With ``screenshot`` it imports/opens ``paths[0]``, waits until the first page
is drawn (and, with ``ask``, until the answer finished), saves the window as PNG and
returns 0 (2 when the paper could not be opened).

One window per library (``reader_app.ui.window.single_instance``): a window that is not a
``--screenshot`` run listens for later starts on the same library.  ``hand_off(paths,
library, password)`` is what such a later start calls first: it passes the files to the
open window (which imports, opens and raises itself) and returns the line to print, or
None when no window runs there (then ``run_gui`` opens one).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from reader_app import RESOURCES, settings
from reader_app.assistant.hybrid import hybrid_ranker
from reader_app.assistant.ranking import Ranker
from reader_app.core.errors import BadInput, NotFound
from reader_app.library import Library, default_library_dir
from reader_app.llm.engines import EngineConfig
from reader_app.ui.background.embed_worker import EmbedWorker
from reader_app.ui.background.llm_worker import LlmWorker
from reader_app.ui.window.main_window import MainWindow
from reader_app.ui.background.ops import error_message
from reader_app.ui.window.platform_check import create_application
from reader_app.ui.window.screenshot import ScreenshotDriver

try:
    from reader_app.ui.window import single_instance
except ImportError as exc:  # QtNetwork missing: the window works without hand-offs
    logging.getLogger("reader_app").debug("no single-instance hand-off: %s", exc)
    single_instance = None

log = logging.getLogger("reader_app")


ORG = "reader-app"
APP = "reader-app"


class Services:
    def __init__(self, library_path: str | os.PathLike | None = None, *,
                 engine_factory: Callable | None = None, ui_settings=None, semantic_search: bool | None = None):
        """``semantic_search``: retrieval by meaning (None: the setting)."""
        self.library_path = str(library_path) if library_path else None
        self.engine_factory = engine_factory
        self._local = threading.local()
        self._all_libraries: list = []
        self._lock = threading.Lock()
        self._llm = None
        self._embed: EmbedWorker | None = None
        self.semantic_search = settings.current().semantic_search if semantic_search is None else bool(semantic_search)
        self.ranker = Ranker()  # one ranking per question, shared by the Ask panel and the model's thread
        if ui_settings is None:
            folder = os.environ.get("READER_APP_CONFIG_DIR")  # tests and portable set-ups
            ui_settings = (QSettings(os.path.join(folder, "ui.ini"), QSettings.Format.IniFormat)
                           if folder else QSettings(ORG, APP))
        self.ui_settings = ui_settings
        if self.library_path is None:  # --library and $READER_APP_LIBRARY win over the setting
            self.library_path = _saved_library_path(ui_settings)

    # ---- library -----------------------------------------------------------------------
    def library(self):
        """This thread's Library (opened on first use)."""
        lib = getattr(self._local, "lib", None)
        if lib is None or lib.db is None:
            lib = Library.open(self.library_path)
            self._local.lib = lib
            with self._lock:
                self._all_libraries.append(lib)
        return lib

    def library_folder(self) -> Path:
        """The absolute folder ``library()`` opens (the default location when none was set)."""
        if self.library_path:
            return Path(self.library_path).expanduser().resolve()
        return default_library_dir().expanduser().resolve()

    def open_library(self):
        """A new Library for a thread that manages its own (e.g. the LLM worker)."""
        lib = Library.open(self.library_path)
        with self._lock:
            self._all_libraries.append(lib)
        return lib

    def import_pdf(self, path: str, password: str | None = None, on_progress=None) -> tuple[str, bool]:
        """Import one PDF (worker thread).  ReaderError on refusal.

        ``on_progress(done, total, label)`` hears of slow stages (OCR: "OCR page 3 of 12");
        raising ``Cancelled`` from it stops the import.
        """
        # deferred: reader_app.pdf imports pymupdf (heavy), needed only here, on a worker thread
        from reader_app.pdf import extract_paper_isolated, sha256_file

        p = Path(path)
        if not p.is_file():
            raise BadInput(f"{p.name}: no such file")
        lib = self.library()
        try:
            digest = sha256_file(p)
        except OSError as exc:
            raise BadInput(f"cannot read {p.name}: {exc.strerror or exc}") from None
        try:
            return lib.resolve_id(digest), True
        except NotFound:
            pass
        paper = extract_paper_isolated(str(p), password=password, on_progress=on_progress)
        return lib.add_paper(paper, str(p))

    # ---- model -------------------------------------------------------------------------
    def engine_config(self) -> EngineConfig:
        return EngineConfig.from_settings(settings.current())  # (a broken settings file: defaults)

    def llm_worker(self):
        if self._llm is None:
            self._llm = LlmWorker(self.open_library, config=self.engine_config(),
                                  engine_factory=self.engine_factory, ranker=self.ranker)
        return self._llm

    # ---- retrieval by meaning ------------------------------------------------------------
    def embed_worker(self) -> EmbedWorker | None:
        """The one ``EmbedWorker``, created on first use; None when ``semantic_search`` is off."""
        if self._embed is None and self.semantic_search:
            self._embed = EmbedWorker(self.open_library, on_open=self._rank_by_meaning)
            self._embed.indexed.connect(self.ranker.forget)  # a ranking by words while it had no vectors
        return self._embed

    def _rank_by_meaning(self, embedder) -> None:
        """(the embedding worker's thread) The shared ranker fuses words with meaning from now
        on; a paper without vectors yet is ranked by words and computed next."""
        self.ranker.switch_to(hybrid_ranker(None, embedder, on_missing=self._embed.wanted))

    def model_name(self) -> str:
        """What the status bar shows before the model is loaded."""
        cfg = self.engine_config()
        if cfg.backend != "llama" and cfg.base_url:
            return f"{cfg.model or 'server model'} @ {cfg.base_url}"
        if cfg.model:
            return Path(str(cfg.model)).name
        return "SmolLM2-135M (embedded)" if self.engine_factory is None else "custom engine"

    def shutdown(self) -> None:
        if self._llm is not None:
            try:
                self._llm.shutdown()
            except Exception:  # noqa: BLE001
                pass
        if self._embed is not None:
            self.ranker.switch_to(Ranker())  # the embedding model closes next
            self._embed.shutdown()
        with self._lock:
            libs, self._all_libraries = self._all_libraries, []
        for lib in libs:
            try:
                lib.close()
            except Exception:  # noqa: BLE001
                pass


def start_indexing(win):
    """Retrieval by meaning for a window: paragraph vectors of the library's papers without
    them, computed in the background now, imported papers' as they come; when the embedding
    model is unusable, the one line saying so in the status bar (ranking stays by words).
    Returns the indexing job; None when the ``semantic_search`` setting is off."""
    worker = win.services.embed_worker()
    if worker is None:
        return None
    worker.unavailable.connect(lambda line: win.statusBar().showMessage(line, 15000))
    win.papersAdded.connect(worker.index)
    return worker.index()


def app_icon() -> QIcon:
    icon = QIcon()
    for name in ("icon.svg", "icon-256.png", "icon-64.png"):
        p = RESOURCES / name
        if p.exists():
            icon.addFile(str(p))
    return icon


def make_application(argv: list[str] | None = None):
    """The QApplication (created once), following the system palette and style."""
    app = QApplication.instance()
    if app is None:
        app = create_application(argv or [sys.argv[0]])
        app.setOrganizationName(ORG)
        app.setApplicationName(APP)
        app.setApplicationDisplayName("Reader")
        app.setDesktopFileName("reader-app")
    app.setWindowIcon(app_icon())
    return app


def hand_off(paths: list[str] | None = None, library: str | None = None,
             password: str | None = None) -> str | None:
    """Pass ``paths`` to the window already open on this library (or just raise it).

    Returns the line to print when that window took them; None when no window listens
    there, or when the exchange failed (a one-line warning on stderr): open normally then.
    """
    if single_instance is None:  # QtNetwork missing: no hand-offs
        return None
    global _start_lock
    try:
        name = single_instance.server_name(Services(library).library_folder())
        files = [os.path.abspath(p) for p in paths or []]
        _release_start_lock()
        _start_lock = single_instance.start_lock(name)  # held until this window listens
        if not single_instance.send(name, {"open": files, "password": password}):
            return None
        _release_start_lock()
    except (single_instance.HandOffError, OSError) as exc:
        print(f"reader-app: warning: could not reach the window already open on this library "
              f"({exc}); opening a new one", file=sys.stderr)
        return None
    if files:
        return f"handed {Path(files[-1]).name} to the reader-app window already open on this library"
    return "raised the reader-app window already open on this library"


_start_lock = None  # QLockFile held from hand_off() until this window listens


def _release_start_lock() -> None:
    global _start_lock
    if _start_lock is not None:
        _start_lock.unlock()
        _start_lock = None


def _listen(services: Services):
    """The single-instance server for this window's library, or None (logged) when not possible."""
    if single_instance is None:  # QtNetwork missing: no hand-offs
        return None
    try:
        server = single_instance.InstanceServer(single_instance.server_name(services.library_folder()))
        if server.listen():
            return server
        log.warning("another window on this library is listening; this one will not receive hand-offs (%s)",
                    server.error_string())
    except Exception as exc:  # noqa: BLE001 - a window without hand-off still works
        log.warning("no single-instance server: %s", exc)
    return None


def _on_hand_off(win, message: dict) -> None:
    single_instance.bring_to_front(win)
    if message.get("open"):
        win.import_files(message["open"], password=message.get("password"), open_last=True)


def run_gui(paths: list[str] | None = None, screenshot: str | None = None, ask: str | None = None,
            library: str | None = None, password: str | None = None,
            engine_factory: Callable | None = None, single_instance: bool | None = None) -> int:
    """Start the desktop app; see the module docstring.

    ``single_instance`` (default: not a screenshot run) listens for later starts on the
    same library; the caller is expected to have tried ``hand_off`` first.  The start lock
    taken there is released once the window's event loop runs (it can answer a hand-off
    then), or when starting fails.
    """
    try:
        return _run_gui(paths, screenshot, ask, library, password, engine_factory, single_instance)
    finally:
        _release_start_lock()


def _run_gui(paths, screenshot, ask, library, password, engine_factory, single_instance) -> int:
    app = make_application()
    services = Services(library, engine_factory=engine_factory)
    server = _listen(services) if (not screenshot if single_instance is None else single_instance) else None
    win = MainWindow(services)
    if server is not None:
        server.setParent(win)
        server.message.connect(lambda message: _on_hand_off(win, message))
    _install_excepthook(win)
    win.state.remember = not screenshot  # a screenshot shows the default layout, saves nothing
    win.restore_state()
    code = {"value": 0}

    if screenshot:
        driver = ScreenshotDriver(win, screenshot, ask=ask)
        driver.finished.connect(lambda c: (code.__setitem__("value", c), app.quit()))
        win.show()
        driver.start(paths[0] if paths else None, password=password)
    else:
        win.show()
        start_indexing(win)  # (not for a screenshot: it shows the ranking by words, the same every time)
        if paths:
            win.import_files(paths, password=password, open_last=True)
    _quit_on_sigint(app)
    QTimer.singleShot(0, _release_start_lock)  # the window answers hand-offs from now on
    app.exec()
    if server is not None:
        server.close()
    win.save_state()
    services.shutdown()
    if "reader_app.pdf.render" in sys.modules:
        sys.modules["reader_app.pdf.render"].stop_helper()
    return code["value"]


def _install_excepthook(win) -> None:
    """A bug in a Qt callback becomes a logged traceback and a one-line status message."""
    log_path = os.path.join(tempfile.gettempdir(), "reader-app-crash.log")

    def hook(etype, value, tb):
        try:
            with open(log_path, "a", encoding="utf-8") as fh:
                traceback.print_exception(etype, value, tb, file=fh)
        except OSError:
            pass
        try:
            win.statusBar().showMessage(error_message(value) + f" ({log_path})", 15000)
        except Exception:  # noqa: BLE001 - the window may be gone
            pass

    sys.excepthook = hook


def _quit_on_sigint(app) -> None:
    """Ctrl+C in the terminal (and SIGTERM, e.g. at log-out) closes the app cleanly: the
    window state is saved and the single-instance socket removed (Qt's loop would
    swallow the signal)."""
    try:
        for sig in (signal.SIGINT, getattr(signal, "SIGTERM", None)):
            if sig is not None:
                signal.signal(sig, lambda *_a: app.closeAllWindows() or app.quit())
    except ValueError:  # not the main thread
        return
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)  # lets Python run its signal handlers
    timer.start(250)


def _saved_library_path(ui_settings) -> str | None:
    """The library folder from the settings; one kept by an older version in ``ui.ini`` moves
    to the settings file (the one settings store)."""
    try:
        saved = settings.get("library_path")
        legacy = ui_settings.value("library/path")
        if not saved and legacy:
            settings.set_value("library_path", str(legacy))
            saved = str(legacy)
        if legacy is not None:
            ui_settings.remove("library/path")
    except OSError:  # a settings folder we cannot write: the old value still serves this session
        saved = saved or ui_settings.value("library/path")
    return str(saved) if saved else None
