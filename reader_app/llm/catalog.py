"""The model catalog: recommended GGUFs a laptop can run, whether each fits this
machine (free RAM and disk), and getting one (download, verify, make it selectable).

The list itself is ``catalog.json`` beside this module; ``$READER_APP_CATALOG`` may name
another file of the same shape (a lab's own list, or a mirror).  Standard library only.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import sys
import threading
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from reader_app import settings
from reader_app.llm.download import Progress, download_model, filename_from_url
from reader_app.core.errors import BadInput

CATALOG_FILE = Path(__file__).with_name("catalog.json")


@dataclass(frozen=True)
class CatalogModel:
    name: str
    title: str
    license: str
    size: int
    ram: int
    context: int
    parameters: str
    url: str
    sha256: str | None
    good_for: str
    qasper: dict | None = None

    @property
    def filename(self) -> str:
        return filename_from_url(self.url)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["filename"] = self.filename
        return d


def load_catalog() -> tuple[CatalogModel, ...]:
    return _load(os.environ.get("READER_APP_CATALOG") or str(CATALOG_FILE))


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[CatalogModel, ...]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return tuple(CatalogModel(**entry) for entry in data["models"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"cannot read the model catalog {path}: {exc}") from None


def find_entry(name: str) -> CatalogModel:
    """The catalog entry called ``name`` (case-insensitive; a unique prefix will do)."""
    key = name.strip().lower()
    models = load_catalog()
    exact = [m for m in models if m.name == key or m.filename.lower() == key]
    hits = exact or [m for m in models if m.name.startswith(key)]
    if len(hits) == 1:
        return hits[0]
    names = ", ".join(m.name for m in models)
    if not hits:
        raise BadInput(f"no model {name!r} in the catalog; choose one of: {names}")
    raise BadInput(f"{name!r} matches several catalog models: {', '.join(m.name for m in hits)}")


# ---------------------------------------------------------------- this machine


def available_ram() -> int | None:
    """Bytes of memory available to a new process now (None when it cannot be told)."""
    try:
        if sys.platform.startswith("linux"):
            with open("/proc/meminfo", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        if sys.platform == "win32":
            class MemoryStatus(ctypes.Structure):
                _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong),
                            ("total_phys", ctypes.c_ulonglong), ("avail_phys", ctypes.c_ulonglong),
                            ("total_page", ctypes.c_ulonglong), ("avail_page", ctypes.c_ulonglong),
                            ("total_virtual", ctypes.c_ulonglong), ("avail_virtual", ctypes.c_ulonglong),
                            ("avail_ext", ctypes.c_ulonglong)]
            status = MemoryStatus(length=ctypes.sizeof(MemoryStatus))
            if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
                return int(status.avail_phys)
            return None
        # macOS and other Unixes: free pages (an underestimate: the file cache counts as used)
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def free_disk(folder: Path) -> int:
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


@dataclass
class Fit:
    ram_ok: bool | None  # None: free memory unknown
    disk_ok: bool
    free_ram: int | None
    free_disk: int
    installed: bool

    @property
    def fits(self) -> bool:
        return self.ram_ok is not False and self.disk_ok

    def reason(self, model: CatalogModel) -> str | None:
        """Why the model does not fit ("needs ... GB of RAM, ... available now"), or None."""
        if not self.disk_ok:
            return f"needs {model.size / 1e9:.1f} GB of disk, {self.free_disk / 1e9:.1f} GB free"
        if self.ram_ok is False:
            return (f"needs about {model.ram / 1e9:.1f} GB of RAM, "
                    f"{(self.free_ram or 0) / 1e9:.1f} GB available now")
        return None

    def problem(self, model: CatalogModel) -> str | None:
        """One line on why the model does not fit, or None."""
        reason = self.reason(model)
        return f"{model.name} {reason}" if reason else None


def check_fit(model: CatalogModel, folder: Path | None = None, *, free_ram: int | None = None,
              disk: int | None = None) -> Fit:
    folder = Path(folder) if folder else settings.models_dir()
    ram = available_ram() if free_ram is None else free_ram
    dest = folder / model.filename
    installed = dest.exists()
    part = folder / (model.filename + ".part")
    have = part.stat().st_size if part.exists() else 0
    space = free_disk(folder) if disk is None else disk
    return Fit(ram_ok=None if ram is None else ram >= model.ram,
               disk_ok=installed or space >= model.size - have, free_ram=ram, free_disk=space,
               installed=installed)


def catalog_rows(folder: Path | None = None) -> list[dict]:
    """Every catalog entry with its fit on this machine (for ``models catalog`` and the dialog)."""
    rows = []
    for m in load_catalog():
        fit = check_fit(m, folder)
        rows.append({**m.to_dict(), "installed": fit.installed, "fits": fit.fits,
                     "fit_problem": fit.problem(m), "free_ram": fit.free_ram, "free_disk": fit.free_disk})
    return rows


def get_model(name: str | CatalogModel, *, folder: Path | None = None, progress: Progress | None = None,
              cancel: threading.Event | None = None, report: dict | None = None) -> Path:
    """Download catalog model ``name`` (or the entry itself; resumable, verified) into the models dir.

    Returns the model's path; one already downloaded is returned as it is.  The caller
    decides what to do when ``check_fit`` says it does not fit (ask, or refuse).
    """
    model = name if isinstance(name, CatalogModel) else find_entry(name)
    folder = Path(folder) if folder else settings.models_dir()
    dest = folder / model.filename
    if dest.exists():
        if report is not None:
            report.update(sha256=None, verified="already downloaded")
        return dest
    return download_model(model.url, sha256=model.sha256, name=model.filename, dest_dir=folder,
                          progress=progress, cancel=cancel, report=report)
