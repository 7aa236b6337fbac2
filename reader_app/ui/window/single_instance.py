"""One window per library: a second ``reader-app open`` hands its file to the first.

The first window on a library listens on a ``QLocalServer`` whose name is derived from
the user and the library's absolute path (``server_name``), so two different libraries
each get their own window.  Later starts connect to it (``send``), pass one JSON line

    {"open": ["/abs/paper.pdf", ...], "password": "pw" | null}

(``"open": []`` only asks the window to come forward) and wait for ``ok``.  The socket is
only accessible to the same user.  A socket left by a crashed window is taken over
(``InstanceServer.listen``).

Two starts at the same instant are serialised by a ``QLockFile`` (``start_lock``) held
from the hand-off attempt until the first window listens: the second start waits, then
finds the first window and hands off to it.  A lock left by a dead process is stale and
taken over.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os

from PySide6.QtCore import QDir, QLockFile, QObject, Qt, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

CONNECT_MS = 1000
REPLY_MS = 5000
MAX_MESSAGE = 1 << 16
IDLE_CLIENT_MS = 10000  # a client that connects and says nothing is dropped after this
START_LOCK_MS = 30000  # how long a start waits for another start on the same library


class HandOffError(Exception):
    """A window listens on the library but the exchange failed (one-line message)."""


def server_name(library_folder: str | os.PathLike) -> str:
    """Short, per user and per library: ``reader-app-<16 hex>``."""
    folder = os.path.realpath(os.path.expanduser(os.fspath(library_folder)))
    try:
        user = f"uid{os.getuid()}"
    except AttributeError:  # Windows
        user = getpass.getuser()
    digest = hashlib.sha256(f"{user}\0{folder}".encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"reader-app-{digest}"


def start_lock(name: str, timeout_ms: int | None = None) -> QLockFile | None:
    """Lock "starting a window on this library" (None when another start holds it too long).

    Hold it from ``send`` until ``InstanceServer.listen`` (then ``unlock()``), so that two
    starts never both decide to listen.
    """
    lock = QLockFile(os.path.join(QDir.tempPath(), f"{name}.lock"))
    lock.setStaleLockTime(0)  # never stale by age: only when its process is gone
    return lock if lock.tryLock(START_LOCK_MS if timeout_ms is None else timeout_ms) else None


def _connect(name: str, timeout_ms: int) -> QLocalSocket | None:
    sock = QLocalSocket()
    sock.connectToServer(name)
    if sock.waitForConnected(timeout_ms):
        return sock
    return None


def is_listening(name: str, timeout_ms: int = 500) -> bool:
    """True when a live window accepts connections on ``name`` (a stale socket file is not)."""
    sock = _connect(name, timeout_ms)
    if sock is None:
        return False
    sock.abort()
    return True


def send(name: str, message: dict, *, connect_ms: int | None = None, reply_ms: int | None = None) -> bool:
    """Hand ``message`` to the window listening on ``name``.

    True when it acknowledged; False when no window listens (nothing there, or a stale
    socket); ``HandOffError`` when one was reached but did not acknowledge.
    """
    connect_ms = CONNECT_MS if connect_ms is None else connect_ms
    reply_ms = REPLY_MS if reply_ms is None else reply_ms
    sock = _connect(name, connect_ms)
    if sock is None:
        return False
    try:
        data = json.dumps(message, ensure_ascii=True).encode("ascii") + b"\n"
        sock.write(data)
        if not sock.waitForBytesWritten(reply_ms):
            raise HandOffError(f"the open window did not take the request ({sock.errorString()})")
        reply = b""
        while b"\n" not in reply:
            if not sock.waitForReadyRead(reply_ms):
                if sock.bytesAvailable() == 0:
                    if sock.state() == QLocalSocket.LocalSocketState.UnconnectedState:
                        raise HandOffError("the open window closed the connection without answering")
                    raise HandOffError("the open window did not answer in time")
            reply += bytes(sock.readAll().data())
        answer = reply.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
        if answer != "ok":
            raise HandOffError(f"the open window refused the request: {answer[:200]}")
        return True
    finally:
        sock.abort()


class InstanceServer(QObject):
    """The first window's listener; emits ``message(dict)`` for each valid request."""

    message = Signal(dict)

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        self._buffers: dict[int, bytearray] = {}

    def listen(self) -> bool:
        """Start listening; take over a stale socket.  False when another live window has it.

        (With ``UserAccessOption`` Qt's listen() would silently replace a live socket too,
        so look first.)
        """
        if is_listening(self.name):  # another window on this library
            return False
        QLocalServer.removeServer(self.name)  # a socket left by a window that crashed, if any
        return self._server.listen(self.name)

    def is_listening(self) -> bool:
        return self._server.isListening()

    def error_string(self) -> str:
        return self._server.errorString()

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            sock = self._server.nextPendingConnection()
            key = id(sock)
            self._buffers[key] = bytearray()
            sock.readyRead.connect(lambda s=sock, k=key: self._read(s, k))
            sock.disconnected.connect(lambda k=key: self._buffers.pop(k, None))
            sock.disconnected.connect(sock.deleteLater)
            QTimer.singleShot(IDLE_CLIENT_MS, sock, sock.abort)
            if sock.bytesAvailable():
                self._read(sock, key)

    def _read(self, sock: QLocalSocket, key: int) -> None:
        buf = self._buffers.get(key)
        if buf is None:
            return
        buf += bytes(sock.readAll().data())
        if b"\n" not in buf:
            if len(buf) > MAX_MESSAGE:
                self._buffers.pop(key, None)
                sock.abort()
            return
        self._buffers.pop(key, None)
        line = bytes(buf).split(b"\n", 1)[0]
        try:
            msg = json.loads(line.decode("utf-8"))
            files = msg.get("open")
            password = msg.get("password")
            if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
                raise ValueError("'open' must be a list of paths")
            if password is not None and not isinstance(password, str):
                raise ValueError("'password' must be text")
        except (ValueError, UnicodeDecodeError, AttributeError) as exc:
            sock.write(f"error: bad request ({exc})\n".encode("utf-8", "replace"))
            sock.disconnectFromServer()
            return
        sock.write(b"ok\n")
        sock.flush()
        sock.disconnectFromServer()
        self.message.emit({"open": files, "password": password})


def bring_to_front(win) -> None:
    """Show, un-minimise, raise and activate ``win`` (as far as the window system allows)."""
    state = win.windowState() & ~Qt.WindowState.WindowMinimized
    win.setWindowState(state | Qt.WindowState.WindowActive)
    win.show()
    win.raise_()
    win.activateWindow()
