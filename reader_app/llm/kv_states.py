"""How ``LlamaEngine`` keeps prompt-prefix KV states: the live context, the RAM and disk
caches (kvcache.py), and the paper's part of a prefix saved on its own (``base``).

A mixin: it uses the engine's ``_llama``, ``_tokenize_prefix``, ``key``, ``n_ctx``, ``ram``,
``disk``, ``min_cache_tokens`` and ``_pending``.
"""

from __future__ import annotations

import ctypes
import threading

import llama_cpp

from reader_app.llm.kvcache import PrefixState, prefix_key


class PrefixStates:
    def _truncate(self, n: int) -> None:
        ll = self._llama
        if n >= ll.n_tokens:
            return
        if n <= 0 or not ll._ctx.kv_cache_seq_rm(-1, n, -1):
            ll.reset()
            ll._ctx.kv_cache_clear()
            return
        ll.n_tokens = n
        ll._requires_eval = True

    def _snapshot(self, tokens: list[int]) -> PrefixState:
        ctx = self._llama.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buf = (ctypes.c_uint8 * size)()
        n = llama_cpp.llama_state_seq_get_data(ctx, buf, size, 0)
        return PrefixState(tokens=list(tokens), data=ctypes.string_at(buf, n))

    def _restore(self, state: PrefixState) -> bool:
        ll = self._llama
        ll.reset()
        ll._ctx.kv_cache_clear()
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
        ll = self._llama
        step = ll.n_batch
        for i in range(0, len(tokens), step):
            if cancel is not None and cancel.is_set():
                return False
            ll.eval(tokens[i : i + step])
        return True

    def _flush_pending(self) -> None:
        pending, self._pending = self._pending, []
        if self.disk is None:
            return
        for key, state in pending:
            self.disk.put(self.key, key, state)

    def _shared_length(self, base: str | None, prefix: str, p_toks: list[int]) -> tuple[int, list[int]]:
        """How many of the prefix's tokens are ``base``'s: tokens at the seam may merge
        differently ("\n\n" alone, "\n" "\n" before a word), so the common run counts when
        it covers all but the last few of base's tokens."""
        if not base or not prefix.startswith(base) or len(base) >= len(prefix):
            return 0, []
        b_toks = self._tokenize_prefix(base)
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
        key = prefix_key(self.key, toks, f"n_ctx={self.n_ctx}")
        state, source = self.ram.get(key), "ram"
        if state is None and self.disk is not None:
            state, source = self.disk.get(self.key, key, toks), "disk"
            if state is not None:
                self.ram.put(key, state)
        if state is not None and not self._restore(state):
            if self.disk is not None:
                self.disk.path_for(self.key, key).unlink(missing_ok=True)
            state = None
        return key, state, source

    def _remember(self, key: str | None, toks: list[int]) -> None:
        if key is not None:
            snap = self._snapshot(toks)
            self.ram.put(key, snap)
            if self.disk is not None:
                self._pending.append((key, snap))

    def _prepare(self, p_toks: list[int], s_toks: list[int], cancel, base: int = 0,
                 base_toks: list[int] | None = None) -> tuple[int, bool, str]:
        """Make the context hold ``p_toks`` and all but the last part of the prompt.

        ``base``: the length of a part of the prefix shared with other prompts (the paper
        before its demonstrations); its state is cached too, and restored when the whole
        prefix is not cached, so new demonstrations do not re-read the paper.
        Returns (tokens evaluated here, completed, where the prefix came from: "kv", "ram",
        "disk" or "eval"); leaves ``n_tokens`` at the point
        from which the rest of the prompt must be evaluated (at least one token).
        """
        ll = self._llama
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
                        self._truncate(common)
                        common = self._llama.n_tokens
                        if not self._eval(p_toks[common:base], cancel):
                            return evaluated, False, source
                        evaluated += base - common
                        common = base
                        self._remember(base_key, p_toks[:base])
                self._truncate(common)
                common = self._llama.n_tokens
                if not self._eval(p_toks[common:], cancel):
                    return evaluated, False, source
                evaluated += len(p_toks) - common
                common = len(p_toks)
                self._remember(key, p_toks)
        self._truncate(min(common, len(full) - 1))
        return evaluated, True, source
