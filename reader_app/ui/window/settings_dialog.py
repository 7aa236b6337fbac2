"""Settings: the model (from the model manager, the catalog's "Get models…", or import a
GGUF), context size, threads,
the library location, searching by meaning, and an optional OpenAI-compatible server.

All of them persist in the one settings store (``reader_app.settings``, a JSON
file shared with the CLI); the library location (``library_path``) and searching by meaning
(``semantic_search``) are read at start-up.  On OK the dialog
saves, hands the new :class:`EngineConfig` to the LLM worker (the model reloads lazily on
the next question) and emits ``settingsChanged(config)``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from reader_app import settings as assistant_settings
from reader_app.llm.model_files import add_model, list_models, model_name
from reader_app.llm.engines import EngineConfig
from reader_app.ui.window.model_catalog import ModelCatalogDialog
from reader_app.ui.background.ops import run_op

AUTO_EVIDENCE = -1  # the "Cite from" choice that leaves it to the answer style

LIBRARY_KEY = "library_path"
BACKENDS = (("llama", "Local model (llama.cpp)"), ("openai", "Server (OpenAI-compatible)"))


def current_engine_config() -> EngineConfig:
    """The engine settings as stored (a broken settings file means defaults)."""
    return EngineConfig.from_settings(assistant_settings.current())


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB") else f"{n:.1f} {unit}"
        n /= 1024
    return ""


class SettingsDialog(QDialog):
    settingsChanged = Signal(object)  # EngineConfig

    def __init__(self, services=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.services = services
        self.values = assistant_settings.load()
        self._loading_models = False
        self._build()
        self._load()
        self.refresh_models()

    # ---- layout ----------------------------------------------------------------------
    def _build(self) -> None:
        lay = QVBoxLayout(self)

        model_box = QGroupBox("Model", self)
        form = QFormLayout(model_box)
        self.backend = QComboBox(model_box)
        for key, label in BACKENDS:
            self.backend.addItem(label, key)
        self.backend.currentIndexChanged.connect(self._update_enabled)
        form.addRow("Runs on", self.backend)

        row = QHBoxLayout()
        self.model = QComboBox(model_box)
        self.model.setMinimumContentsLength(28)
        self.model.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.import_button = QPushButton("Import GGUF…", model_box)
        self.import_button.clicked.connect(self._import_clicked)
        self.get_button = QPushButton("Get models…", model_box)
        self.get_button.setToolTip("Download a recommended model (checked against its published checksum)")
        self.get_button.clicked.connect(self.open_catalog)
        row.addWidget(self.model, 1)
        row.addWidget(self.get_button)
        row.addWidget(self.import_button)
        self.model_row = QWidget(model_box)
        self.model_row.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        form.addRow("Model", self.model_row)

        self.n_ctx = QSpinBox(model_box)
        self.n_ctx.setRange(512, 1_048_576)
        self.n_ctx.setSingleStep(1024)
        self.n_ctx.setSuffix(" tokens")
        self.n_ctx.setToolTip("Upper limit; the model's own trained context is used when smaller")
        form.addRow("Context size (max)", self.n_ctx)

        self.threads = QSpinBox(model_box)
        self.threads.setRange(0, 512)
        self.threads.setSpecialValueText(f"Automatic ({assistant_settings.physical_cores()} cores)")
        form.addRow("Threads", self.threads)

        self.evidence = QComboBox(model_box)
        for label, value in (("Automatic (best 5; 10 for 1B+ models)", AUTO_EVIDENCE), ("Best 3 paragraphs", 3),
                             ("Best 5 paragraphs", 5), ("Best 10 paragraphs", 10), ("Best 20 paragraphs", 20),
                             ("Any paragraph", 0)):
            self.evidence.addItem(label, value)
        self.evidence.setToolTip("Answers may cite only the question's best-matching paragraphs (by search rank). "
                                 "Small models pick better from a few; a large model may cite any paragraph.")
        form.addRow("Cite from", self.evidence)

        self.answer_style = QComboBox(model_box)
        for label, value in (("Automatic (by model size)", "auto"),
                             ("Short, for small models (one sentence, word-for-word support)", "small"),
                             ("Complete sentences, for 1B+ models (paraphrase allowed)", "capable")):
            self.answer_style.addItem(label, value)
        self.answer_style.setToolTip("How answers are shaped. Automatic: complete sentences for models of "
                                     "1B parameters or more and for servers, short ones for smaller models.")
        form.addRow("Answers", self.answer_style)

        self.quick_answer = QCheckBox("Quick answer while a paper is being prepared", model_box)
        self.quick_answer.setToolTip("DoubleDipper questions on a paper not prepared yet are answered at once from "
                                     "its best passages; the full answer follows when preparation completes.")
        form.addRow("", self.quick_answer)

        self.base_url = QLineEdit(model_box)
        self.base_url.setPlaceholderText("http://127.0.0.1:8080  (llama-server, vLLM, …)")
        form.addRow("Server URL", self.base_url)
        self.server_model = QLineEdit(model_box)
        self.server_model.setPlaceholderText("optional; the server's default model when empty")
        form.addRow("Server model", self.server_model)
        self.api_key = QLineEdit(model_box)
        self.api_key.setEchoMode(QLineEdit.Password)
        self.api_key.setPlaceholderText("optional")
        form.addRow("API key", self.api_key)
        lay.addWidget(model_box)

        lib_box = QGroupBox("Library", self)
        lform = QFormLayout(lib_box)
        lrow = QHBoxLayout()
        lrow.setContentsMargins(0, 0, 0, 0)
        self.library = QLineEdit(lib_box)
        self.library.setPlaceholderText("default: the user data folder")
        browse = QPushButton("Browse…", lib_box)
        browse.clicked.connect(self._browse_library)
        lrow.addWidget(self.library, 1)
        lrow.addWidget(browse)
        lwrap = QWidget(lib_box)
        lwrap.setLayout(lrow)
        lform.addRow("Location", lwrap)
        self.semantic = QCheckBox("Search by meaning as well as by words", lib_box)
        self.semantic.setToolTip("Passages and answers also find paragraphs that say the same thing in other "
                                 "words: a small embedding model computes each paragraph's vector in the "
                                 "background (\"Indexing by meaning\" in the status bar).")
        lform.addRow("", self.semantic)
        hint = QLabel("A new location, and searching by meaning, take effect from the next start.", lib_box)
        hint.setStyleSheet("color: palette(placeholder-text);")
        lform.addRow("", hint)
        lay.addWidget(lib_box)

        self.message = QLabel(self)
        self.message.setObjectName("settingsMessage")
        self.message.setWordWrap(True)
        self.message.hide()
        lay.addWidget(self.message)

        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)

    def _load(self) -> None:
        v = self.values
        idx = self.backend.findData(v.get("backend") or "llama")
        self.backend.setCurrentIndex(max(0, idx))
        self.n_ctx.setValue(int(v.get("n_ctx_cap") or assistant_settings.DEFAULTS["n_ctx_cap"]))
        self.threads.setValue(int(v.get("threads") or 0))
        try:
            evidence = max(0, int(v.get("evidence_candidates")))
        except (TypeError, ValueError):  # unset or unreadable: automatic
            evidence = AUTO_EVIDENCE
        if self.evidence.findData(evidence) < 0:  # a number set in the file
            self.evidence.addItem(f"Best {evidence} paragraphs", evidence)
        self.evidence.setCurrentIndex(self.evidence.findData(evidence))
        self.answer_style.setCurrentIndex(max(0, self.answer_style.findData(v.get("answer_style") or "auto")))
        quick = v.get("quick_answer")
        self.quick_answer.setChecked(assistant_settings.DEFAULTS["quick_answer"] if quick is None else bool(quick))
        self.base_url.setText(v.get("base_url") or "")
        self.api_key.setText(v.get("api_key") or "")
        server_model = v.get("server_model")
        if server_model is None and v.get("backend") == "openai":
            server_model = v.get("model")
        self.server_model.setText(server_model or "")
        self.library.setText(str(v.get(LIBRARY_KEY) or ""))
        semantic = v.get("semantic_search")
        self.semantic.setChecked(semantic if isinstance(semantic, bool) else assistant_settings.DEFAULTS["semantic_search"])
        self._update_enabled()

    # ---- models ----------------------------------------------------------------------
    def refresh_models(self, select: str | None = None) -> None:
        self._loading_models = True
        self.model.clear()
        self.model.addItem("Loading the model list…", None)
        self.model.setEnabled(False)
        run_op(self, list_models, on_success=lambda infos: self._fill_models(infos, select),
               on_failure=lambda exc: self._fill_models([], select, error=str(exc)))

    def _fill_models(self, infos, select: str | None = None, error: str = "") -> None:
        local = self.values.get("local_model")
        if local is None and (self.values.get("backend") or "llama") == "llama":
            local = self.values.get("model")
        want = select or local
        self._loading_models = False
        self.model.clear()
        self.model.addItem("Default (the embedded model)", None)
        for info in infos:
            if info.error:
                continue
            bits = [_size(info.size)]
            if info.context_length:
                bits.append(f"{info.context_length:,} ctx")
            if info.source:
                bits.append(info.source)
            self.model.addItem(f"{info.name}  ({', '.join(bits)})", info.name)
            i = self.model.count() - 1
            self.model.setItemData(i, info.path, Qt.ToolTipRole)
        if want:
            idx = self.model.findData(want)
            if idx < 0:  # a stored path or a name the manager no longer finds: keep it
                self.model.addItem(f"{Path(str(want)).name}  (not found)", want)
                idx = self.model.count() - 1
            self.model.setCurrentIndex(idx)
        if error:
            self._say(f"Could not list the models: {error}")
        self._update_enabled()

    def _import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a GGUF model", str(Path.home()),
                                              "GGUF models (*.gguf);;All files (*)")
        if path:
            self.import_model(path)

    def import_model(self, path: str) -> None:
        """Copy a GGUF into the models folder (background) and select it."""
        self._say(f"Importing {Path(path).name}…")
        self.import_button.setEnabled(False)

        def done(info):
            self.import_button.setEnabled(True)
            self._say(f"Imported {info.name}.")
            self.refresh_models(select=info.name)

        def failed(exc):
            self.import_button.setEnabled(True)
            self._say(f"Could not import {Path(path).name}: {exc}")

        run_op(self, lambda: add_model(path), on_success=done, on_failure=failed,
               label="Importing model")

    def open_catalog(self, **kwargs):
        """Settings ▸ Get models…; a finished download becomes the selected model."""
        dialog = ModelCatalogDialog(self, **kwargs)
        dialog.modelReady.connect(self._model_downloaded)
        dialog.open()
        return dialog

    def _model_downloaded(self, name: str, path: str) -> None:
        self._say(f"Downloaded {name}: selected; OK switches to it.")
        self.refresh_models(select=model_name(Path(path)))

    # ---- save ------------------------------------------------------------------------
    def _browse_library(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Library folder", self.library.text() or str(Path.home()))
        if folder:
            self.library.setText(folder)

    def _update_enabled(self) -> None:
        server = self.backend.currentData() == "openai"
        for w in (self.base_url, self.api_key, self.server_model):
            w.setEnabled(server)
        self.model_row.setEnabled(not server)
        self.model.setEnabled(not server and not self._loading_models)
        self.threads.setEnabled(not server)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def validate(self) -> str:
        """A one-line problem with the entered values, or ''."""
        if self.backend.currentData() == "openai":
            url = self.base_url.text().strip()
            if not url:
                return "A server needs its URL, e.g. http://127.0.0.1:8080"
            if not url.startswith(("http://", "https://")):
                return "The server URL must start with http:// or https://"
        lib = self.library.text().strip()
        if lib and Path(lib).expanduser().exists() and not Path(lib).expanduser().is_dir():
            return "The library location must be a folder"
        return ""

    def save(self) -> EngineConfig:
        backend = self.backend.currentData() or "llama"
        local = self.model.currentData()
        server_model = self.server_model.text().strip() or None
        values = {
            "backend": backend,
            "local_model": local,
            "server_model": server_model,
            "model": server_model if backend == "openai" else local,
            "n_ctx_cap": int(self.n_ctx.value()),
            "threads": int(self.threads.value()) or None,
            "evidence_candidates": None if self.evidence.currentData() == AUTO_EVIDENCE else self.evidence.currentData(),
            "answer_style": self.answer_style.currentData() or "auto",
            "quick_answer": self.quick_answer.isChecked(),
            "semantic_search": self.semantic.isChecked(),
            "base_url": self.base_url.text().strip() or None,
            "api_key": self.api_key.text().strip() or None,
            LIBRARY_KEY: str(Path(self.library.text().strip()).expanduser()) if self.library.text().strip() else None,
        }
        assistant_settings.save(values)
        config = current_engine_config()
        worker = None
        if self.services is not None and callable(getattr(self.services, "llm_worker", None)):
            worker = self.services.llm_worker()
        if worker is not None and worker.config != config:
            worker.configure(config)
        self.settingsChanged.emit(config)
        return config

    def accept(self) -> None:
        problem = self.validate()
        if problem:
            self._say(problem)
            return
        try:
            self.save()
        except Exception as exc:  # noqa: BLE001 - e.g. an unwritable config folder
            self._say(f"Could not save the settings: {' '.join(str(exc).split())}")
            return
        super().accept()
