"""The settings dialog: values persist (assistant JSON store + UI settings) and reach the
LLM worker; bad values and a bad GGUF are refused with a message."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QDialog  # noqa: E402

from reader_app import settings as assistant_settings  # noqa: E402
from reader_app.ui.background.ops import wait_for_ops  # noqa: E402
from reader_app.ui.window.settings_dialog import LIBRARY_KEY, SettingsDialog, current_engine_config  # noqa: E402

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")


def make_dialog(qtbot, services):
    dlg = SettingsDialog(services)
    qtbot.addWidget(dlg)
    assert wait_for_ops()
    return dlg


def test_settings_persist_and_reconfigure_the_worker(qtbot, panel_env):
    services = panel_env.services()
    dlg = make_dialog(qtbot, services)
    assert dlg.model.itemData(0) is None and dlg.model.isEnabled()  # "Default (embedded)"
    assert not dlg.base_url.isEnabled()
    dlg.n_ctx.setValue(4096)
    dlg.threads.setValue(2)
    assert dlg.evidence.currentText().startswith("Automatic")  # by answer style
    dlg.evidence.setCurrentIndex(dlg.evidence.findData(0))
    assert dlg.answer_style.currentData() == "auto"
    dlg.answer_style.setCurrentIndex(dlg.answer_style.findData("capable"))
    dlg.library.setText(str(panel_env.tmp_path / "elsewhere"))
    dlg.accept()
    assert dlg.result() == QDialog.Accepted

    stored = json.loads(assistant_settings.settings_path().read_text(encoding="utf-8"))
    assert stored["n_ctx_cap"] == 4096 and stored["threads"] == 2 and stored["backend"] == "llama"
    assert stored[LIBRARY_KEY] == str(panel_env.tmp_path / "elsewhere")  # the one settings store
    assert services.ui_settings.value("library/path") is None
    assert services.llm_worker().config.n_ctx == 4096 and services.llm_worker().config.threads == 2
    assert stored["evidence_candidates"] == 0 and assistant_settings.int_setting("evidence_candidates") == 0
    assert dlg.evidence.currentText() == "Any paragraph"
    assert stored["answer_style"] == "capable"
    from reader_app.assistant.style import CAPABLE, style_for
    from tests.fakes import FakeEngine
    assert style_for(FakeEngine()) is CAPABLE  # the setting reaches the assistant

    again = make_dialog(qtbot, services)
    assert again.n_ctx.value() == 4096 and again.threads.value() == 2 and again.evidence.currentData() == 0
    assert again.answer_style.currentData() == "capable"
    assert again.library.text() == str(panel_env.tmp_path / "elsewhere")


def test_cite_from_keeps_a_number_from_the_file_and_can_go_back_to_automatic(qtbot, panel_env):
    services = panel_env.services()
    assistant_settings.save({"evidence_candidates": 7})
    dlg = make_dialog(qtbot, services)
    assert dlg.evidence.currentData() == 7 and dlg.evidence.currentText() == "Best 7 paragraphs"
    dlg.evidence.setCurrentIndex(0)  # Automatic
    dlg.accept()
    assert assistant_settings.load()["evidence_candidates"] is None
    assert assistant_settings.int_setting("evidence_candidates") is None


def test_server_backend_needs_a_url(qtbot, panel_env):
    services = panel_env.services()
    dlg = make_dialog(qtbot, services)
    dlg.backend.setCurrentIndex(dlg.backend.findData("openai"))
    assert dlg.base_url.isEnabled() and not dlg.model.isEnabled()
    dlg.base_url.setText("localhost:8080")
    dlg.accept()
    assert dlg.result() != QDialog.Accepted and "http://" in dlg.message.text()
    assert not assistant_settings.settings_path().exists()  # nothing saved

    dlg.base_url.setText("http://127.0.0.1:8080")
    dlg.server_model.setText("qwen2.5-7b")
    dlg.api_key.setText("sk-test")
    dlg.accept()
    assert dlg.result() == QDialog.Accepted
    cfg = current_engine_config()
    assert (cfg.backend, cfg.base_url, cfg.model, cfg.api_key) == ("openai", "http://127.0.0.1:8080",
                                                                     "qwen2.5-7b", "sk-test")
    assert services.llm_worker().config == cfg
    again = make_dialog(qtbot, services)
    assert again.backend.currentData() == "openai" and again.server_model.text() == "qwen2.5-7b"


def test_importing_a_non_gguf_file_is_refused(qtbot, panel_env):
    bogus = panel_env.tmp_path / "notamodel.gguf"
    bogus.write_bytes(b"this is not a GGUF file at all" * 10)
    dlg = make_dialog(qtbot, panel_env.services())
    dlg.import_model(str(bogus))
    assert wait_for_ops()
    assert dlg.message.text().startswith("Could not import notamodel.gguf")
    assert dlg.import_button.isEnabled()
    assert not (panel_env.tmp_path / "models" / "notamodel.gguf").exists()


def test_model_list_comes_from_the_model_manager(qtbot, panel_env):
    from reader_app.llm.model_files import list_models

    names = [m.name for m in list_models() if not m.error]
    dlg = make_dialog(qtbot, panel_env.services())
    listed = [dlg.model.itemData(i) for i in range(1, dlg.model.count())]
    assert listed == names


def test_a_library_path_kept_in_ui_ini_by_an_older_version_moves_to_the_settings_file(tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    from reader_app.app import Services

    monkeypatch.setenv("READER_APP_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("READER_APP_LIBRARY", raising=False)
    ui = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    ui.setValue("library/path", str(tmp_path / "old-lib"))
    services = Services(ui_settings=ui)
    assert services.library_path == str(tmp_path / "old-lib")
    assert assistant_settings.get(LIBRARY_KEY) == str(tmp_path / "old-lib")
    assert ui.value("library/path") is None  # one store from now on
    assert Services(ui_settings=ui).library_path == str(tmp_path / "old-lib")
