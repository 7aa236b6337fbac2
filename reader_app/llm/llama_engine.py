"""The in-process engine: any GGUF model through llama-cpp-python.

One ``LlamaEngine`` owns one ``llama_cpp.Llama``.  llama.cpp contexts are not
thread-safe: create, use and close an engine on one thread (the UI keeps it on a
worker thread).  Only ``cancel`` events may be set from other threads; they are
checked between tokens (and between 512-token batches while a prompt is evaluated).

KV reuse, cheapest first:

1. the context already holds a common token prefix (the previous call's prompt):
   only the rest is evaluated;
2. the prefix's state is in the RAM LRU or the disk cache (``kvcache``): it is
   restored, and only the suffix is evaluated;
3. otherwise the prefix is evaluated, its state snapshotted into the RAM LRU, and
   written to disk when the call ends.

The prefix and the suffix are tokenized separately, so the prefix's tokens - and its
cached state - do not depend on the question.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import numpy as np

from reader_app import settings
from reader_app.llm.build_check import check_build
from reader_app.llm.engine import (Engine, EngineInfo, GenerateOptions, Generation, load_template,
                                   specials_pattern, split_chat)
from reader_app.llm.kv_states import KVFormat, PrefixStates, kv_format
from reader_app.llm.kvcache import DiskKVCache, RamLRU, file_sha256
from reader_app.llm.model_files import model_name, read_gguf_header
from reader_app.core.errors import BadInput, ModelError
from reader_app.core.model import Timings

# ---------------------------------------------------------------- llama.cpp logging

_LOG: deque[str] = deque(maxlen=20)  # recent llama.cpp messages, for error reports


@llama_cpp.llama_log_callback
def _log_callback(level, text, _user_data):  # pragma: no cover - called from C
    try:
        if level in (3, 4):  # ggml's WARN and ERROR; never printed
            _LOG.append(text.decode("utf-8", errors="replace").strip())
    except Exception:  # noqa: BLE001
        pass


def _silence_llama_cpp() -> None:
    llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))


_silence_llama_cpp()


def last_llama_error() -> str:
    """What llama.cpp last logged as a warning or error (its log is silenced, not printed)."""
    for line in reversed(_LOG):
        if "error loading model:" in line:
            return line.split("error loading model:", 1)[1].strip()
    for line in reversed(_LOG):
        if line:
            return line
    return ""


@contextlib.contextmanager
def _quiet_stderr():
    """Point file descriptor 2 at /dev/null for a moment (C code that fprintf's)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# ---------------------------------------------------------------- stop strings


class _StopFilter:
    """Hold back text that may be the start of a stop string; cut at the first one."""

    def __init__(self, stops: list[str] | None):
        self.stops = [s for s in (stops or []) if s]
        self.buf = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        if not self.stops:
            return text
        self.buf += text
        cut = min((i for i in (self.buf.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            out, self.buf, self.stopped = self.buf[:cut], "", True
            return out
        hold = 0
        for s in self.stops:
            for k in range(min(len(s) - 1, len(self.buf)), 0, -1):
                if self.buf.endswith(s[:k]):
                    hold = max(hold, k)
                    break
        out = self.buf[: len(self.buf) - hold]
        self.buf = self.buf[len(self.buf) - hold :]
        return out

    def flush(self) -> str:
        out, self.buf = self.buf, ""
        return out


# ---------------------------------------------------------------- engine


class LlamaEngine(Engine):
    backend = "llama"

    def __init__(self, model_path: str | Path, *, n_ctx: int | None = None, threads: int | None = None,
                 n_ctx_cap: int | None = None, disk_cache: DiskKVCache | None | bool = True,
                 ram_states: int | None = None, n_batch: int = 512, chat_template: str | None = None,
                 type_k: str | None = None, type_v: str | None = None, flash_attn: bool | None = None):
        """``type_k``, ``type_v`` ("f16", "q8_0", "q4_0", ...) and ``flash_attn``: the KV cache's
        format; None takes the settings (``kv_type_k``, ``kv_type_v``, ``flash_attn``)."""
        check_build()  # a build that would die with SIGILL here: one line naming the fix
        path = Path(model_path).expanduser()
        header = read_gguf_header(path)  # ModelError for missing / non-GGUF / corrupt headers
        self.model_path = str(path)
        self.name = model_name(path)
        self.trained_ctx = header.context_length
        conf = settings.current()  # read once
        cap = n_ctx_cap or max(256, conf.n_ctx_cap) or 8192
        if n_ctx:  # never beyond what the model was trained for
            self.n_ctx = min(int(n_ctx), self.trained_ctx) if self.trained_ctx > 0 else int(n_ctx)
        else:
            self.n_ctx = min(self.trained_ctx, cap) if self.trained_ctx > 0 else min(4096, cap)
        self.threads = int(threads or (max(1, conf.threads) if conf.threads is not None else settings.physical_cores()))
        self.parameters = header.parameters
        self.chat_template = header.chat_template
        if chat_template:  # an override: Jinja text, a .jinja file or another GGUF's template
            self.chat_template = load_template(chat_template) or self.chat_template
        self.kv: KVFormat = kv_format(type_k, type_v, flash_attn)
        _silence_llama_cpp()
        _LOG.clear()
        try:
            self._llama = llama_cpp.Llama(
                model_path=str(path), n_ctx=self.n_ctx, n_batch=min(n_batch, self.n_ctx),
                n_threads=self.threads, n_threads_batch=self.threads,
                logits_all=False, verbose=False, seed=0, **self.kv.llama_kwargs())
        except Exception as exc:  # noqa: BLE001 - llama.cpp reports failures as ValueError/RuntimeError
            detail = last_llama_error() or str(exc)
            raise ModelError(f"cannot load model {path.name}: {detail}") from None
        _silence_llama_cpp()  # Llama() may have re-installed its own logger
        ll = self._llama
        vocab = ll._model.vocab
        self._vocab = vocab
        self._add_bos = bool(llama_cpp.llama_vocab_get_add_bos(vocab))
        bos, eos = ll.token_bos(), ll.token_eos()
        self.bos_token = self._piece(bos, special=True).decode("utf-8", "replace") if bos >= 0 else ""
        self.eos_token = self._piece(eos, special=True).decode("utf-8", "replace") if eos >= 0 else ""
        # prefix states: the context, the RAM and disk caches
        if disk_cache is True:
            disk_cache = DiskKVCache()
        model_file = self.model_path
        self.states = PrefixStates(
            ll, tokenize_prefix=self._tokenize_prefix, key=lambda: "gguf:" + file_sha256(model_file),
            n_ctx=self.n_ctx,
            ram=RamLRU(conf.kv_ram_states if ram_states is None else ram_states, conf.kv_ram_cap_bytes or settings.GIB),
            disk=disk_cache or None, min_cache_tokens=conf.kv_min_prefix_tokens or 0, kv=self.kv)
        self._gen = 0
        self._valid_grammars: set[str] = set()
        self._specials = None  # regex of the vocabulary's control-token texts, built on first use
        self._n_vocab = int(llama_cpp.llama_vocab_n_tokens(vocab))

    # -- identity

    def info(self) -> EngineInfo:
        return EngineInfo(name=self.name, backend=self.backend, n_ctx=self.n_ctx, model_path=self.model_path,
                          trained_ctx=self.trained_ctx, threads=self.threads, parameters=self.parameters,
                          chat_template=self.chat_template, bos_token=self.bos_token, eos_token=self.eos_token)

    @property
    def key(self) -> str:
        return self.states.model_key

    # -- tokens

    def _piece(self, token: int, special: bool = False) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, 64, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, -n, 0, special)
        return buf.raw[: max(n, 0)]

    def _live(self):
        if self._llama is None:
            raise ModelError(f"the model {self.name} was closed")
        return self._llama

    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
        if not text:
            return []
        return self._live().tokenize(text.encode("utf-8", errors="replace"), add_bos=add_bos, special=True)

    def _tokenize_prefix(self, prefix: str) -> list[int]:
        add_bos = self._add_bos and not (self.bos_token and prefix.startswith(self.bos_token))
        if not prefix:
            return [self._llama.token_bos()] if add_bos else []
        return self.tokenize(prefix, add_bos=add_bos)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def chat_prefix_suffix(self, system: str, user_prefix: str, user_tail: str) -> tuple[str, str]:
        if self._specials is None:
            n = llama_cpp.llama_vocab_n_tokens(self._vocab)
            wanted = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
            texts = [self._piece(i, special=True).decode("utf-8", "replace") for i in range(n)
                     if llama_cpp.llama_vocab_get_attr(self._vocab, i) & wanted]
            self._specials = specials_pattern(texts) or False
        prefix, suffix, used = split_chat(self.chat_template, system, user_prefix, user_tail,
                                          bos_token=self.bos_token, eos_token=self.eos_token,
                                          specials=self._specials or None)
        self.template_used = used
        return prefix, suffix

    def _grammar(self, grammar: str):
        """A LlamaGrammar, validated first: llama.cpp would crash on one it cannot parse."""
        if not grammar.strip():
            raise BadInput("empty grammar")
        if grammar not in self._valid_grammars:
            _LOG.clear()
            with _quiet_stderr():  # the grammar parser prints its errors straight to fd 2
                sampler = llama_cpp.llama_sampler_init_grammar(self._vocab, grammar.encode("utf-8"), b"root")
            if not sampler:
                detail = last_llama_error() or "it does not parse"
                raise BadInput(f"invalid GBNF grammar: {detail}")
            llama_cpp.llama_sampler_free(sampler)
            self._valid_grammars.add(grammar)
        return llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)

    # -- generation

    def _run(self, out: Generation, prefix: str, suffix: str, opts: GenerateOptions,
             cancel: threading.Event | None) -> Iterator[str]:
        """``opts.base``: a leading part of ``prefix`` that other prompts share (see ``PrefixStates.prepare``)."""
        start = time.perf_counter()
        self.states.flush_pending()
        self._gen += 1
        gen_id = self._gen
        ll = self._live()
        p_toks = self._tokenize_prefix(prefix)
        s_toks = self.tokenize(suffix)
        full = p_toks + s_toks
        if not full:
            raise BadInput("empty prompt")
        if len(full) >= self.n_ctx:
            raise ModelError(f"the prompt takes {len(full)} tokens but the model's context holds {self.n_ctx}")
        budget = min(opts.max_tokens, self.n_ctx - len(full))
        gram = self._grammar(opts.grammar) if opts.grammar else None
        timings = out.timings = Timings(prompt_tokens=len(full))
        n_out = 0
        ttft = None
        gen = None
        try:
            shared, b_toks = self.states.shared_length(opts.base, prefix, p_toks)
            evaluated, ok, out.cache = self.states.prepare(p_toks, s_toks, cancel, shared, b_toks)
            rest = full[ll.n_tokens :]
            timings.cached_tokens = len(full) - evaluated - len(rest)
            if not ok or budget <= 0 or (cancel is not None and cancel.is_set()):
                return
            ll.set_seed(opts.seed)
            gen = ll.generate(rest, reset=False, temp=max(0.0, opts.temperature), top_k=40, top_p=0.95,
                              min_p=0.05, repeat_penalty=1.0, grammar=gram)
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            stops = _StopFilter(list(opts.stop))
            for token in gen:
                if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    break
                n_out += 1
                decoded = decoder.decode(self._piece(token))
                out.logprobs.append((decoded, self._logprob(ll, token)))
                if n_out == 1:
                    out.first_top = self._top(ll)
                text = stops.feed(decoded)
                if text:
                    if ttft is None:
                        ttft = time.perf_counter() - start
                    yield text
                    if gen_id != self._gen:  # another generation ran while this one was paused
                        raise ModelError("this answer was interrupted by another request to the same model")
                if stops.stopped or n_out >= budget or (cancel is not None and cancel.is_set()):
                    break
            if not stops.stopped and not (cancel is not None and cancel.is_set()):
                tail = stops.feed(decoder.decode(b"", final=True)) + stops.flush()
                if tail:
                    if ttft is None:
                        ttft = time.perf_counter() - start
                    yield tail
        except RuntimeError as exc:  # llama_decode failures and the like
            raise ModelError(f"generation failed: {last_llama_error() or exc}") from None
        finally:
            if gen is not None:
                gen.close()
            total = time.perf_counter() - start
            timings.completion_tokens = n_out
            timings.total_s = total
            timings.ttft_s = ttft if ttft is not None else total
            self.states.flush_pending()

    def _top(self, ll, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` likeliest tokens at the last position, (text, log-probability), best first."""
        ptr = llama_cpp.llama_get_logits_ith(ll._ctx.ctx, -1)
        if not ptr:
            return []
        row = np.ctypeslib.as_array(ptr, shape=(self._n_vocab,))
        top = float(row.max())
        norm = top + float(np.log(np.exp(row - top).sum()))
        best = np.argpartition(row, -k)[-k:]
        best = best[np.argsort(row[best])[::-1]]
        return [(self._piece(int(t)).decode("utf-8", "replace"), float(row[t]) - norm) for t in best]

    def _logprob(self, ll, token: int) -> float:
        """The model's log-probability of ``token``, which it has just sampled: from the last
        position's logits (the raw distribution, before temperature, grammar or filters).
        No ``logits_all``: one row of n_vocab floats, read where llama.cpp left it."""
        ptr = llama_cpp.llama_get_logits_ith(ll._ctx.ctx, -1)
        if not ptr:
            return float("nan")
        row = np.ctypeslib.as_array(ptr, shape=(self._n_vocab,))
        top = float(row.max())
        return float(row[token]) - top - float(np.log(np.exp(row - top).sum()))

    def close(self) -> None:
        states = getattr(self, "states", None)  # (None when the model failed to load)
        if states is not None:
            states.flush_pending()
            states.clear()
        llama = getattr(self, "_llama", None)
        if llama is not None:
            llama.close()
            self._llama = None  # type: ignore[assignment]
