"""An engine backed by an OpenAI-compatible server (llama.cpp's llama-server,
``python -m llama_cpp.server``, vLLM, ...).  Standard library only.

The prompt is rendered here, with the same chat template and prefix/suffix split as
the in-process engine, and sent as a raw prompt to ``/v1/completions`` (streamed as
server-sent events).  ``cache_prompt: true`` asks llama-server to keep the prefix's KV
between requests - the server's prompt cache stands in for our own KV reuse.

What the server can tell us is probed once, tolerating servers that lack it:

- ``GET /v1/models``: the model id (and ``max_model_len`` on vLLM);
- ``GET /props`` (llama-server): the GGUF chat template and ``n_ctx``;
- tokenization: ``/extras/tokenize`` (llama_cpp.server), ``/tokenize`` (llama-server,
  vLLM), else an estimate of 4 characters per token.

The chat template can also be given (Jinja text, a ``.jinja`` file or a local ``.gguf``
whose template to use; ``$READER_APP_CHAT_TEMPLATE``); otherwise ChatML is assumed.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from reader_app.llm.engine import Engine, GenerateOptions, Generation, load_template, split_chat
from reader_app.core.errors import BadInput, ModelError, ReaderError

DEFAULT_N_CTX = 4096


def _normalise_base(url: str) -> str:
    url = (url or "").strip().rstrip("/")
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise BadInput(f"--base-url must be an http(s) URL, got {url!r}")
    return url[: -len("/v1")] if url.endswith("/v1") else url


class OpenAIEngine(Engine):
    backend = "openai"

    def __init__(self, base_url: str, *, api_key: str | None = None, model: str | None = None,
                 n_ctx: int | None = None, chat_template: str | None = None,
                 timeout: float = 600.0, connect_timeout: float = 10.0):
        self.base_url = _normalise_base(base_url)
        self.api_key = api_key
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._tokenize_route: str | None = None  # "extras", "tokenize" or "" (estimate)
        self._bos_overhead = 0
        self._counts: OrderedDict[str, int] = OrderedDict()

        models = self._get_json("/v1/models", required=True)
        data = models.get("data") if isinstance(models, dict) else None
        ids = [m.get("id") for m in data or [] if isinstance(m, dict) and m.get("id")]
        if model and ids and model not in ids:
            raise ModelError(f"the server at {self.base_url} has no model {model!r} (it has: {', '.join(ids)})")
        self.model = model or (ids[0] if ids else None)
        max_len = next((m.get("max_model_len") for m in data or [] if isinstance(m, dict)
                        and m.get("id") == self.model and m.get("max_model_len")), None)
        props = self._get_json("/props") or {}
        server_template = props.get("chat_template") if isinstance(props, dict) else None
        props_ctx = None
        if isinstance(props, dict):
            props_ctx = props.get("n_ctx") or (props.get("default_generation_settings") or {}).get("n_ctx")
        self.n_ctx = int(n_ctx or props_ctx or max_len or DEFAULT_N_CTX)
        self.chat_template = (load_template(chat_template or os.environ.get("READER_APP_CHAT_TEMPLATE"))
                              or server_template or None)
        label = self.model or "server"
        self.name = Path(label).name.removesuffix(".gguf") if "/" in label or label.endswith(".gguf") else label
        self.key = f"openai:{self.base_url}:{self.model or ''}"

    # -- HTTP

    def _headers(self, extra: dict | None = None) -> dict:
        h = {"User-Agent": "reader-app", "Accept": "application/json"}
        if self.api_key:
            h["Authorization"] = f"Bearer {self.api_key}"
        h.update(extra or {})
        return h

    def _open(self, path: str, body: dict | None = None, *, timeout: float | None = None):
        data = json.dumps(body).encode() if body is not None else None
        headers = self._headers({"Content-Type": "application/json"} if data else None)
        req = urllib.request.Request(self.base_url + path, data=data, headers=headers,
                                     method="POST" if data is not None else "GET")
        return urllib.request.urlopen(req, timeout=timeout or self.connect_timeout)  # noqa: S310

    def _error(self, exc: Exception) -> ModelError:
        if isinstance(exc, urllib.error.HTTPError):
            detail = ""
            try:
                payload = json.loads(exc.read() or b"{}")
                err = payload.get("error", payload.get("detail", ""))
                if isinstance(err, dict):
                    err = err.get("message", "")
                detail = err if isinstance(err, str) else json.dumps(err)[:300]
            except (ValueError, OSError, AttributeError):
                pass
            msg = f"model server error {exc.code} {exc.reason}"
            return ModelError(f"{msg}: {detail[:300]}" if detail else msg)
        reason = getattr(exc, "reason", None) or exc
        return ModelError(f"cannot reach the model server at {self.base_url}: {reason}")

    def _get_json(self, path: str, required: bool = False):
        try:
            with self._open(path) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            if required or exc.code in (401, 403):
                raise self._error(exc) from None
            return None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            if required:
                raise self._error(exc) from None
            return None

    def _post_json(self, path: str, body: dict):
        with self._open(path, body) as resp:
            return json.loads(resp.read() or b"null")

    # -- tokens

    def _server_tokens(self, text: str) -> list[int] | None:
        routes = [self._tokenize_route] if self._tokenize_route is not None else ["extras", "tokenize"]
        for route in routes:
            try:
                if route == "extras":
                    out = self._post_json("/extras/tokenize", {"input": text, "model": self.model})
                elif route == "tokenize":
                    out = self._post_json("/tokenize", {"content": text, "prompt": text, "model": self.model,
                                                        "add_special": False})
                else:
                    return None
            except (urllib.error.URLError, OSError, ValueError):
                continue
            tokens = out.get("tokens") if isinstance(out, dict) else None
            if isinstance(tokens, list):
                if self._tokenize_route is None:
                    self._tokenize_route = route
                    empty = self._server_tokens("")  # some servers always add BOS
                    self._bos_overhead = len(empty or [])
                return tokens
        if self._tokenize_route is None:
            self._tokenize_route = ""
        return None

    def count_tokens(self, text: str) -> int:
        if text in self._counts:
            self._counts.move_to_end(text)
            return self._counts[text]
        tokens = self._server_tokens(text) if text else []
        n = max(0, len(tokens) - self._bos_overhead) if tokens is not None else max(1, (len(text) + 3) // 4)
        self._counts[text] = n
        if len(self._counts) > 4096:
            self._counts.popitem(last=False)
        return n

    def chat_prefix_suffix(self, system: str, user_prefix: str, user_tail: str) -> tuple[str, str]:
        prefix, suffix, used = split_chat(self.chat_template, system, user_prefix, user_tail)
        self.template_used = used
        return prefix, suffix

    def _explain_empty_stream(self, body: dict) -> ModelError:
        """Some servers (llama_cpp.server) answer a failing streamed request with an empty
        body; the same request unstreamed says why."""
        probe = dict(body, stream=False, max_tokens=1)
        try:
            self._post_json("/v1/completions", probe)
        except urllib.error.HTTPError as exc:
            err = self._error(exc)
            m = re.search(r"maximum context length is (\d+)", str(err))
            if m:  # learn the server's context size for the callers' budgets
                self.n_ctx = int(m.group(1))
            return err
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return self._error(exc)
        return ModelError("the model server ended the answer without sending anything")

    # -- generation

    def _run(self, out: Generation, prefix: str, suffix: str, opts: GenerateOptions,
             cancel: threading.Event | None) -> Iterator[str]:
        start = time.perf_counter()
        prompt = prefix + suffix
        if not prompt:
            raise BadInput("empty prompt")
        body = {"prompt": prompt, "max_tokens": opts.max_tokens, "temperature": max(0.0, opts.temperature),
                "seed": opts.seed, "stream": True, "cache_prompt": True}
        if self.model:
            body["model"] = self.model
        if opts.stop:
            body["stop"] = list(opts.stop)
        if opts.grammar:
            body["grammar"] = opts.grammar
        timings = out.timings
        n_out = 0
        ttft = None
        usage: dict = {}
        server_timings: dict = {}
        resp = None
        done = got_chunk = False
        try:
            if cancel is not None and cancel.is_set():
                return
            try:
                resp = self._open("/v1/completions", body, timeout=self.timeout)
            except (urllib.error.URLError, OSError) as exc:
                raise self._error(exc) from None
            while True:
                if cancel is not None and cancel.is_set():
                    break
                try:
                    line = resp.readline()
                except (OSError, ValueError) as exc:
                    raise ModelError(f"the model server dropped the connection: {exc}") from None
                if not line:
                    break
                line = line.strip()
                if not line.startswith(b"data:"):
                    continue  # comments (": ping"), event names, blank separators
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    done = True
                    break
                try:
                    chunk = json.loads(payload)
                except ValueError:
                    continue
                if not isinstance(chunk, dict):
                    continue
                got_chunk = True
                if chunk.get("error"):
                    err = chunk["error"]
                    msg = err.get("message") if isinstance(err, dict) else str(err)
                    raise ModelError(f"model server error: {' '.join(str(msg).split())[:300]}")
                usage = chunk.get("usage") or usage
                server_timings = chunk.get("timings") or server_timings
                for choice in chunk.get("choices") or []:
                    text = choice.get("text") or ""
                    if text:
                        n_out += 1
                        if ttft is None:
                            ttft = time.perf_counter() - start
                        yield text
                        if cancel is not None and cancel.is_set():
                            break
            if not done and not got_chunk and not (cancel is not None and cancel.is_set()):
                raise self._explain_empty_stream(body)
        finally:
            if resp is not None:
                resp.close()
            total = time.perf_counter() - start
            timings.total_s = total
            timings.ttft_s = ttft if ttft is not None else total
            timings.completion_tokens = int(usage.get("completion_tokens") or server_timings.get("predicted_n") or n_out)
            cached = int(server_timings.get("cache_n") or 0)
            prompt_n = server_timings.get("prompt_n")
            if prompt_n is not None:
                timings.prompt_tokens = int(prompt_n) + cached
            else:
                timings.prompt_tokens = int(usage.get("prompt_tokens") or 0)
            timings.cached_tokens = cached
            if not timings.prompt_tokens:  # the server reported no usage: count ourselves
                try:
                    timings.prompt_tokens = self.count_tokens(prompt)
                except ReaderError:
                    pass
