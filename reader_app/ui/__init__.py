"""The desktop UI: the only package that imports PySide6.

Work-around for a refcount bug in the installed PySide6/shiboken6 6.12 on Python < 3.12:
its wrappers return ``None`` (every void method: ``update()``, ``processEvents()``, ...)
and pass ``True``/``False`` through signals without taking a reference, as if those
objects were immortal (they are from Python 3.12 on).  Each call drops one reference, and
after a few thousand calls CPython aborts with "Fatal Python error: none_dealloc" /
"bool_dealloc".  Giving these singletons a huge reference count makes them effectively
immortal, exactly what Python 3.12 does.  Importing any ``reader_app.ui`` module applies it.
"""

import ctypes
import sys


def _immortalize_singletons() -> None:
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    for obj in (None, True, False, Ellipsis, NotImplemented):
        refcnt = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is PyObject's first field
        if refcnt.value < (1 << 40):
            refcnt.value += 1 << 40


_immortalize_singletons()
