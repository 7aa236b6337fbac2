"""How fast each model reads a prompt on this machine: measured prompt speeds, kept per model.

After a generation whose ``Timings`` show at least ``MIN_TOKENS`` prompt tokens evaluated
(not taken from a cached KV state), its speed is those tokens over its time to the first
token (``measured``).  ``SpeedStore`` keeps the last ``KEEP`` speeds of each model key
(``Engine.key``) in one small JSON file in the cache dir (``prompt-speeds.json``), written
atomically, and gives their median: one slow outlier (a KV state saved to disk meanwhile, a
machine busy with something else) does not move it.  A missing, unreadable or malformed
file starts fresh; a cache dir that cannot be written only loses the measurements.
"""

from __future__ import annotations

import json
import math
import statistics
import threading
from pathlib import Path

from reader_app import settings
from reader_app.core.files import atomic_write
from reader_app.core.model import Timings

MIN_TOKENS = 64  # fewer evaluated prompt tokens say more about overheads than about speed
KEEP = 9  # speeds kept per model (the median of these is the model's speed)
FILE_NAME = "prompt-speeds.json"


def measured(timings: Timings) -> float | None:
    """Prompt tokens per second that ``timings`` show, or None when they show too few
    evaluated tokens (or no time) to tell."""
    uncached = (timings.prompt_tokens or 0) - (timings.cached_tokens or 0)
    if uncached < MIN_TOKENS or not timings.ttft_s or timings.ttft_s <= 0:
        return None
    return uncached / timings.ttft_s


def _speeds(value) -> list[float]:
    """The valid speeds of a stored list (anything else in it is dropped)."""
    if not isinstance(value, list):
        return []
    return [float(v) for v in value
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0][-KEEP:]


class SpeedStore:
    """Measured prompt speeds per model key, in ``path`` (default: the cache dir's
    ``prompt-speeds.json``).  Safe to share between threads; other processes writing the
    same file lose nothing of other models (each write merges with the file as it is)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else settings.cache_dir() / FILE_NAME
        self._lock = threading.Lock()
        self._speeds = self._read()

    def _read(self) -> dict[str, list[float]]:
        models = settings.read_json_dict(self.path).get("models")
        if not isinstance(models, dict):
            return {}
        return {k: s for k, v in models.items() if isinstance(k, str) and (s := _speeds(v))}

    def speed(self, key: str) -> float | None:
        """The model's prompt speed in tokens per second (the median of its last measurements),
        or None before the first."""
        with self._lock:
            found = self._speeds.get(key)
        return statistics.median(found) if found else None

    def samples(self, key: str) -> list[float]:
        """The model's kept measurements, oldest first."""
        with self._lock:
            return list(self._speeds.get(key, ()))

    def add(self, key: str, speed: float) -> None:
        """Keep one measured speed (tokens per second) of the model ``key``."""
        if not key or not math.isfinite(speed) or speed <= 0:
            return
        with self._lock:
            stored = {**self._speeds, **self._read()}  # with what other processes wrote meanwhile
            stored[key] = (stored.get(key, []) + [round(speed, 3)])[-KEEP:]
            self._speeds = stored
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # a cache: no fsync (a torn file reads as malformed, which starts fresh)
                atomic_write(self.path, json.dumps({"version": 1, "models": stored}, indent=1, sort_keys=True),
                             mode=0o600, sync=False)
            except OSError:
                pass  # a read-only cache dir only loses the measurements

    def record(self, key: str, timings: Timings) -> float | None:
        """Keep the speed ``timings`` show, if they show one (``measured``); returns it."""
        speed = measured(timings)
        if speed is not None:
            self.add(key, speed)
        return speed
