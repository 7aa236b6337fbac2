"""Create the QApplication, or say in one line why the window cannot open.

When Qt cannot load a platform plugin (on a minimal Debian, ``libxcb-cursor0`` and
friends are missing; on a server there is no display) it prints several lines and
aborts the process.  Here the fatal message is caught by a message handler that is
active only while the QApplication is constructed: it prints one ``reader-app: error:``
line naming the missing system packages, and exits with status 2.
"""

from __future__ import annotations

import ctypes.util
import os
import sys

from PySide6.QtCore import QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

# library (as ctypes.util.find_library names it) -> the Debian/Ubuntu package that has it
XCB_LIBS = {
    "xcb-cursor": "libxcb-cursor0",
    "xkbcommon-x11": "libxkbcommon-x11-0",
    "xkbcommon": "libxkbcommon0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
    "xcb-shape": "libxcb-shape0",
    "xcb-randr": "libxcb-randr0",
    "xcb-render-util": "libxcb-render-util0",
    "xcb-image": "libxcb-image0",
    "EGL": "libegl1",
    "GL": "libgl1",
    "fontconfig": "libfontconfig1",
    "dbus-1": "libdbus-1-3",
}
APT_LINE = "sudo apt-get install " + " ".join(dict.fromkeys(XCB_LIBS.values()))


def missing_packages(find=ctypes.util.find_library) -> list[str]:
    """Debian packages of the Qt platform plugin's libraries that cannot be found."""
    if not sys.platform.startswith("linux"):
        return []
    return [pkg for lib, pkg in XCB_LIBS.items() if not find(lib)]


def platform_hint(message: str, env: dict | None = None, missing: list[str] | None = None) -> str:
    """The one line to print for Qt's fatal platform-plugin ``message``."""
    env = os.environ if env is None else env
    first = next((line.strip() for line in message.splitlines() if line.strip()), "no platform plugin")
    platform = env.get("QT_QPA_PLATFORM", "")
    if sys.platform.startswith("linux") and not platform and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return ("no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set): "
                "run reader-app inside a desktop session, or use the CLI commands")
    if "connect to display" in message:
        return (f"cannot connect to the display {env.get('DISPLAY', '')!r}: run reader-app inside a desktop "
                "session, or use the CLI commands")
    if platform and not platform.startswith("xcb"):
        return f"the window cannot start: Qt has no usable platform plugin {platform!r} (QT_QPA_PLATFORM): {first}"
    missing = missing_packages() if missing is None else missing
    if missing:
        return ("the window cannot start: Qt's platform plugin needs system libraries that are missing; "
                f"on Debian/Ubuntu: sudo apt-get install {' '.join(missing)}")
    return f"the window cannot start: {first}; on Debian/Ubuntu: {APT_LINE}"


def create_application(argv: list[str]):
    """``QApplication(argv)``; on a fatal platform-plugin error, one line and exit 2."""
    held: list[tuple] = []

    def handler(mode, context, message):  # pragma: no cover - exercised in a subprocess
        if mode == QtMsgType.QtFatalMsg:
            text = "\n".join([m for _, _, m in held] + [message])
            print(f"reader-app: error: {platform_hint(text)}", file=sys.stderr, flush=True)
            os._exit(2)
        held.append((mode, context, message))

    previous = qInstallMessageHandler(handler)
    try:
        app = QApplication(argv)
    finally:
        qInstallMessageHandler(previous)
    for mode, context, message in held:  # the start worked: pass its warnings on
        if previous is not None:
            previous(mode, context, message)
        else:
            print(message, file=sys.stderr)
    return app
