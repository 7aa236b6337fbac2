"""Settings ▸ Get models…: the catalog with its fit check, a download with progress and
cancel from a loopback model host, and the new model selected in Settings."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QMessageBox  # noqa: E402

from reader_app.llm.catalog import CatalogModel  # noqa: E402
from reader_app.ui.window.model_catalog import ModelCatalogDialog  # noqa: E402
from reader_app.ui.background.ops import wait_for_ops  # noqa: E402
from reader_app.ui.window.settings_dialog import SettingsDialog  # noqa: E402
from tests.test_download import FileServer, sha  # noqa: E402
from tests.test_models import tiny_model  # noqa: E402

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")


@pytest.fixture
def host(tmp_path):
    data = tiny_model(tmp_path / "src.gguf", template="T" * 400_000).read_bytes()
    with FileServer() as server:
        server.files["small.gguf"] = data
        server.files["big.gguf"] = data
        yield server, data


def entries(server, data):
    base = dict(license="MIT", size=len(data), context=4096, parameters="1M", good_for="tests", qasper=None)
    return [CatalogModel(name="small", title="Small model", ram=10**6, url=server.resolve_url("small.gguf"),
                         sha256=None, **base),
            CatalogModel(name="big", title="Big model", ram=10**14, url=server.resolve_url("big.gguf"),
                         sha256=sha(data), **dict(base, qasper={"answer_f1": 0.3}))]


def make(qtbot, host, tmp_path, **kw):
    server, data = host
    dlg = ModelCatalogDialog(None, models=entries(server, data), folder=tmp_path / "models", free_ram=10**9, **kw)
    qtbot.addWidget(dlg)
    return dlg


def test_table_shows_fit_and_measured_f1(qtbot, host, tmp_path):
    dlg = make(qtbot, host, tmp_path)
    assert dlg.table.rowCount() == 2
    assert dlg.table.item(0, 3).text() == "Fits"
    assert dlg.table.item(1, 3).text().startswith("Too big") and "RAM" in dlg.table.item(1, 3).text()
    assert dlg.table.item(1, 4).text() == "0.30" and dlg.table.item(0, 4).text() == "not measured"
    assert not dlg.download_button.isEnabled()  # nothing selected
    dlg.table.selectRow(0)
    assert dlg.download_button.isEnabled()


def test_download_verifies_and_reports_ready(qtbot, host, tmp_path):
    dlg = make(qtbot, host, tmp_path)
    dlg.table.selectRow(0)
    progress = []
    dlg.progress.valueChanged.connect(progress.append)
    with qtbot.waitSignal(dlg.modelReady, timeout=30_000) as ready:
        dlg.download_selected()
        assert not dlg.cancel_button.isHidden() and not dlg.download_button.isEnabled()
    name, path = ready.args
    assert name == "small" and path.endswith("small.gguf")
    assert (tmp_path / "models" / "small.gguf").read_bytes() == host[1]
    assert "checksum verified" in dlg.status.text()
    assert progress and max(progress) == 1000
    assert dlg.table.item(0, 3).text() == "Downloaded" and not dlg.download_button.isEnabled()


def test_cancel_keeps_a_resumable_part(qtbot, host, tmp_path):
    server, data = host
    server.throttle = 0.02
    dlg = make(qtbot, host, tmp_path)
    dlg.table.selectRow(0)
    dlg.download_selected()
    part = tmp_path / "models" / "small.gguf.part"
    qtbot.waitUntil(lambda: part.exists() and part.stat().st_size > 0, timeout=10_000)
    dlg.cancel_download()
    qtbot.waitUntil(lambda: dlg.op is None, timeout=10_000)
    assert "cancelled" in dlg.status.text() and "resumes" in dlg.status.text()
    assert not (tmp_path / "models" / "small.gguf").exists()
    assert dlg.download_button.isEnabled()


def test_too_big_for_ram_asks_first(qtbot, host, tmp_path, monkeypatch):
    server, _data = host
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.No)
    dlg = make(qtbot, host, tmp_path)
    dlg.table.selectRow(1)
    dlg.download_selected()
    assert asked and "RAM" in asked[0]
    assert dlg.op is None and not server.requests and "not started" in dlg.status.text()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    with qtbot.waitSignal(dlg.modelReady, timeout=30_000):
        dlg.download_selected()


def test_settings_selects_the_downloaded_model(qtbot, host, tmp_path, panel_env, monkeypatch):
    monkeypatch.setenv("READER_APP_MODELS_DIR", str(tmp_path / "models"))
    settings = SettingsDialog(panel_env.services())
    qtbot.addWidget(settings)
    assert wait_for_ops()
    assert settings.get_button.text() == "Get models…"
    server, data = host
    dlg = settings.open_catalog(models=entries(server, data), folder=tmp_path / "models", free_ram=10**9)
    dlg.table.selectRow(0)
    with qtbot.waitSignal(dlg.modelReady, timeout=30_000):
        dlg.download_selected()
    qtbot.waitUntil(lambda: settings.model.currentData() == "small", timeout=10_000)
    assert "Downloaded small" in settings.message.text()
    dlg.reject()
    settings.accept()
    from reader_app import settings as assistant_settings

    assert assistant_settings.get("model") == "small"
