"""``--screenshot --ask``: the driver waits for the answer's own job, then saves the window."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

from PySide6.QtGui import QImage  # noqa: E402

from reader_app.ui.window.screenshot import ScreenshotDriver  # noqa: E402


def test_screenshot_waits_for_the_answer(qtbot, ui_env, papers_dir):
    win = ui_env.window(respond="1]\nAnswer: " + " ".join(f"word{i}" for i in range(40)), delay=0.01)
    out = ui_env.tmp_path / "shot.png"
    driver = ScreenshotDriver(win, str(out), ask="What is this paper about?")
    answers = []
    win.side_panel.ask_panel.answered.connect(answers.append)
    with qtbot.waitSignal(driver.finished, timeout=60000) as done:
        driver.start(str(papers_dir / "2302.07302v1.pdf"))
    assert done.args == [0]
    assert len(answers) == 1  # saved after the answer was in
    assert not QImage(str(out)).isNull()
