"""The prompt-prefix KV states a ``LlamaEngine`` keeps: the live context, the RAM and disk
caches (kvcache.py), and the paper's part of a prefix saved on its own (``base``).

``PrefixStates`` is owned by the engine (``engine.states``): it holds the ``Llama``, the
caches and the disk writes deferred to the end of a call.  ``KVFormat`` is the KV cache's
number format (K and V types, flash attention): it is part of every state's cache key and
file header, so a state is only restored into a context of the same format.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from dataclasses import dataclass

import llama_cpp

from reader_app import settings
from reader_app.core.errors import BadInput
from reader_app.llm.kvcache import DiskKVCache, PrefixState, RamLRU, prefix_key

# ---------------------------------------------------------------- KV cache number format

KV_TYPES = {
    "f32": llama_cpp.GGML_TYPE_F32, "f16": llama_cpp.GGML_TYPE_F16,
    "q8_0": llama_cpp.GGML_TYPE_Q8_0, "q5_1": llama_cpp.GGML_TYPE_Q5_1, "q5_0": llama_cpp.GGML_TYPE_Q5_0,
    "q4_1": llama_cpp.GGML_TYPE_Q4_1, "q4_0": llama_cpp.GGML_TYPE_Q4_0, "iq4_nl": llama_cpp.GGML_TYPE_IQ4_NL,
}
_UNQUANTIZED = {"f32", "f16"}


@dataclass(frozen=True)
class KVFormat:
    """How the KV cache stores K and V.  A quantized V needs flash attention (llama.cpp)."""

    type_k: str = "f16"
    type_v: str = "f16"
    flash_attn: bool = False

    @property
    def tag(self) -> str:
        """Part of every cache key and file header: states of other formats never restore."""
        return f"k={self.type_k},v={self.type_v},fa={int(self.flash_attn)}"

    def llama_kwargs(self) -> dict:
        return {"flash_attn": self.flash_attn, "type_k": KV_TYPES[self.type_k], "type_v": KV_TYPES[self.type_v]}


def kv_format(type_k: str | None = None, type_v: str | None = None, flash_attn: bool | None = None) -> KVFormat:
    """The format for these arguments, the settings (``kv_type_k``, ``kv_type_v``,
    ``flash_attn``) filling those left out.  An unknown type given here is a BadInput; one in
    the settings file falls back to the default.  A quantized V without flash attention
    (which llama.cpp refuses) is stored as f16."""
    conf = settings.current()

    def pick(arg, key: str) -> str:
        if arg is not None:
            name = str(arg).lower()
            if name not in KV_TYPES:
                raise BadInput(f"unknown KV cache type {arg!r}; known: {', '.join(KV_TYPES)}")
            return name
        name = getattr(conf, key).lower()
        return name if name in KV_TYPES else settings.DEFAULTS[key]

    k, v = pick(type_k, "kv_type_k"), pick(type_v, "kv_type_v")
    if flash_attn is None:
        flash_attn = conf.flash_attn
    if not flash_attn and v not in _UNQUANTIZED:
        v = "f16"
    return KVFormat(k, v, bool(flash_attn))


# ---------------------------------------------------------------- prefix states


class PrefixStates:
    """The prefix states of one ``Llama`` context.

    ``key``: the model's identity (a string, or a function computing it on first use: the
    model file's hash).  ``tokenize_prefix``: how the engine tokenizes a prefix (BOS rules).
    """

    def __init__(self, llama, *, tokenize_prefix: Callable[[str], list[int]], key: str | Callable[[], str],
                 n_ctx: int, ram: RamLRU, disk: DiskKVCache | None, min_cache_tokens: int = 0,
                 kv: KVFormat = KVFormat()):
        self.llama = llama
        self.tokenize_prefix = tokenize_prefix
        self._key = key
        self.n_ctx = n_ctx
        self.ram = ram
        self.disk = disk
        self.min_cache_tokens = min_cache_tokens
        self.kv = kv
        self._pending: list[tuple[str, PrefixState]] = []  # disk writes deferred to the end of a call

    @property
    def model_key(self) -> str:
        if callable(self._key):
            self._key = self._key()
        return self._key

    def key_for(self, toks: list[int]) -> str:
        """The cache key of a prefix's tokens: model, context size and KV format."""
        return prefix_key(self.model_key, toks, f"n_ctx={self.n_ctx};{self.kv.tag}")

    # -- the context

    def truncate(self, n: int) -> None:
        """Keep only the context's first ``n`` tokens."""
        ll = self.llama
        if n >= ll.n_tokens:
            return
        if n <= 0 or not ll._ctx.kv_cache_seq_rm(-1, n, -1):
            ll.reset()
            ll._ctx.kv_cache_clear()
            return
        ll.n_tokens = n
        ll._requires_eval = True

    def snapshot(self, tokens: list[int]) -> PrefixState:
        """The context's state (``llama_state_seq_get_data``), which holds ``tokens``."""
        ctx = self.llama.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buf = (ctypes.c_uint8 * size)()
        n = llama_cpp.llama_state_seq_get_data(ctx, buf, size, 0)
        return PrefixState(tokens=list(tokens), data=ctypes.string_at(buf, n), kv=self.kv.tag)

    def restore(self, state: PrefixState) -> bool:
        """Load a state into the context; False (and an empty context) when it does not fit:
        another KV format, or data llama.cpp refuses."""
        ll = self.llama
        ll.reset()
        ll._ctx.kv_cache_clear()
        if state.kv != self.kv.tag:
            return False
        buf = (ctypes.c_uint8 * len(state.data)).from_buffer_copy(state.data)
        if llama_cpp.llama_state_seq_set_data(ll.ctx, buf, len(state.data), 0) != len(state.data):
            ll.reset()
            ll._ctx.kv_cache_clear()
            return False
        n = len(state.tokens)
        ll.input_ids[:n] = state.tokens
        ll.n_tokens = n
        ll._requires_eval = True
        return True

    def _eval(self, tokens: list[int], cancel: threading.Event | None) -> bool:
        """Evaluate in batches, checking ``cancel`` between them; False if cancelled."""
        ll = self.llama
        step = ll.n_batch
        for i in range(0, len(tokens), step):
            if cancel is not None and cancel.is_set():
                return False
            ll.eval(tokens[i : i + step])
        return True

    # -- the caches

    def flush_pending(self) -> None:
        """Write the states snapshotted during the last call to the disk cache."""
        pending, self._pending = self._pending, []
        if self.disk is None:
            return
        for key, state in pending:
            self.disk.put(self.model_key, key, state)

    def clear(self) -> None:
        """Forget the states held in RAM and the writes not yet done."""
        self._pending = []
        self.ram.clear()

    def shared_length(self, base: str | None, prefix: str, p_toks: list[int]) -> tuple[int, list[int]]:
        """How many of the prefix's tokens are ``base``'s, and base's tokens: tokens at the
        seam may merge differently ("\n\n" alone, "\n" "\n" before a word), so the common run
        counts when it covers all but the last few of base's tokens."""
        if not base or not prefix.startswith(base) or len(base) >= len(prefix):
            return 0, []
        b_toks = self.tokenize_prefix(base)
        n = 0
        for a, b in zip(b_toks, p_toks):
            if a != b:
                break
            n += 1
        return (n, b_toks) if n >= len(b_toks) - 4 else (0, [])

    def _cached_state(self, toks: list[int]) -> tuple[str | None, PrefixState | None, str]:
        """(cache key, restored state or None, where it came from) for a prefix's tokens."""
        if len(toks) < max(1, self.min_cache_tokens):
            return None, None, ""
        key = self.key_for(toks)
        state, source = self.ram.get(key), "ram"
        if state is None and self.disk is not None:
            state, source = self.disk.get(self.model_key, key, toks, kv=self.kv.tag), "disk"
            if state is not None:
                self.ram.put(key, state)
        if state is not None and not self.restore(state):
            self.ram.drop(key)
            if self.disk is not None:
                self.disk.path_for(self.model_key, key).unlink(missing_ok=True)
            state = None
        return key, state, source

    def _remember(self, key: str | None, toks: list[int]) -> None:
        if key is not None:
            snap = self.snapshot(toks)
            self.ram.put(key, snap)
            if self.disk is not None:
                self._pending.append((key, snap))

    def prepare(self, p_toks: list[int], s_toks: list[int], cancel: threading.Event | None, base: int = 0,
                base_toks: list[int] | None = None) -> tuple[int, bool, str]:
        """Make the context hold ``p_toks`` and all but the last part of the prompt.

        ``base``: the length of a part of the prefix shared with other prompts (the paper
        before its demonstrations); its state is cached too, and restored when the whole
        prefix is not cached, so new demonstrations do not re-read the paper.
        Returns (tokens evaluated here, completed, where the prefix came from: "kv" the
        context, "ram", "disk" or "eval"); leaves ``n_tokens`` at the point from which the
        rest of the prompt must be evaluated (at least one token).
        """
        ll = self.llama
        full = p_toks + s_toks
        cur = ll.input_ids[: ll.n_tokens]
        common = 0
        for a, b in zip(cur, full):
            if a != b:
                break
            common += 1
        evaluated = 0
        source = "kv" if common >= len(p_toks) else ""
        if common < len(p_toks):
            key, state, where = self._cached_state(p_toks)
            if state is not None:
                source = where
                common = len(p_toks)
            else:
                source = "eval"
                if not base and common < len(p_toks) - 4:
                    # a prompt that ends with a shared part (a zero-shot question on the paper):
                    # its state may have been saved under the seam's other tokenization
                    for cut in range(1, 5):
                        if self._cached_state(p_toks[:-cut])[1] is not None:
                            common = len(p_toks) - cut
                            break
                if 0 < base < len(p_toks) and common < base:
                    base_key, base_state, _ = self._cached_state(p_toks[:base])
                    if base_state is None and base_toks and base_toks != p_toks[:base]:
                        # the paper's state saved by a prompt that ended with it (a zero-shot
                        # question): the same KV up to the seam
                        base_state = self._cached_state(base_toks)[1]
                    if base_state is not None:
                        common = base
                    else:
                        self.truncate(common)
                        common = ll.n_tokens
                        if not self._eval(p_toks[common:base], cancel):
                            return evaluated, False, source
                        evaluated += base - common
                        common = base
                        self._remember(base_key, p_toks[:base])
                self.truncate(common)
                common = ll.n_tokens
                if not self._eval(p_toks[common:], cancel):
                    return evaluated, False, source
                evaluated += len(p_toks) - common
                common = len(p_toks)
                self._remember(key, p_toks)
        self.truncate(min(common, len(full) - 1))
        return evaluated, True, source
