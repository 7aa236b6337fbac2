"""--backend openai: OpenAIEngine against llama-cpp-python's own server on loopback
(the real embedded model), plus the llama-server extras (/props template, /tokenize,
prompt-cache timings) against a small stand-in, since llama-server itself is not installed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reader_app.llm.engines import open_engine
from reader_app.llm.model_files import embedded_model_path
from reader_app.llm.openai_engine import OpenAIEngine
from reader_app.core.errors import BadInput, ModelError

REPO = Path(__file__).resolve().parents[1]
MODEL = embedded_model_path()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    if MODEL is None:
        pytest.skip("embedded model not installed")
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(MODEL), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "2048", "--n_threads", "1", "--verbose", "false"],
            stdout=fh, stderr=subprocess.STDOUT, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "/v1/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start: {log.read_text(errors='replace')[-1500:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def engine(server_url):
    return open_engine(backend="openai", base_url=server_url + "/v1")


# ---------------------------------------------------------------- the real server


@pytest.mark.model
def test_engine_describes_the_served_model(engine, server_url):
    assert engine.backend == "openai"
    assert engine.name == "SmolLM2-135M-Instruct.Q4_1"
    assert engine.key.startswith("openai:" + server_url)
    from reader_app.llm.llama_engine import LlamaEngine

    local = LlamaEngine(MODEL, n_ctx=512, threads=1, disk_cache=False)
    try:
        text = "Attention is all you need: the Transformer, 2017."
        assert engine.count_tokens(text) == local.count_tokens(text)  # the server's own tokenizer
    finally:
        local.close()


@pytest.mark.model
def test_streamed_completion_through_the_server(engine):
    prefix, suffix = engine.chat_prefix_suffix("You are concise.", "Paper: colours.\n", "Name three colours.")
    assert engine.template_used == "chatml"  # llama_cpp.server does not expose the template
    gen = engine.generate(prefix, suffix, max_tokens=12)
    pieces = list(gen)
    text = "".join(pieces)
    assert text.strip() and gen.text == text
    t = gen.timings
    assert 0 < t.completion_tokens <= 12
    assert t.prompt_tokens == engine.count_tokens(prefix + suffix)
    assert 0 < t.ttft_s <= t.total_s
    assert engine.complete(prefix, suffix, max_tokens=12).text == text  # temperature 0: deterministic


@pytest.mark.model
def test_grammar_stop_and_cancel_reach_the_server(engine):
    prefix, suffix = engine.chat_prefix_suffix("Answer yes or no.", "", "Is the sky blue?")
    assert engine.complete(prefix, suffix, max_tokens=8, grammar='root ::= "yes" | "no"').text in ("yes", "no")
    p2, s2 = engine.chat_prefix_suffix("You are concise.", "", "Count from 1 to 20, separated by commas.")
    full = engine.complete(p2, s2, max_tokens=24).text
    assert "," in full
    cut = engine.complete(p2, s2, max_tokens=24, stop=[","]).text
    assert "," not in cut and full.startswith(cut)
    cancel = threading.Event()
    got = []
    for piece in engine.generate(p2, s2, max_tokens=24, cancel=cancel):
        got.append(piece)
        cancel.set()
    assert len(got) == 1


@pytest.mark.model
def test_server_errors_are_one_line_model_errors(server_url):
    eng = OpenAIEngine(server_url)
    with pytest.raises(ModelError) as info:
        eng.complete("word " * 3000, max_tokens=4)
    assert "maximum context length is 2048" in str(info.value)
    assert "\n" not in str(info.value)
    assert eng.n_ctx == 2048  # learned from the error
    with pytest.raises(ModelError, match="no model"):
        OpenAIEngine(server_url, model="not-served")


# ---------------------------------------------------------------- no server needed


def test_unreachable_server_and_bad_url():
    with pytest.raises(ModelError, match="cannot reach the model server"):
        OpenAIEngine(f"http://127.0.0.1:{free_port()}", connect_timeout=3)
    with pytest.raises(BadInput):
        open_engine(backend="openai", base_url="localhost:8080")
    with pytest.raises(BadInput, match="base-url"):
        open_engine(backend="openai", base_url=None)
    with pytest.raises(BadInput, match="unknown backend"):
        open_engine(backend="tpu")


TEMPLATE = ("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</{{ m['role'] }}>{% endfor %}"
            "{% if add_generation_prompt %}<assistant>{% endif %}")


class LlamaServerStandIn:
    """Speaks the parts of llama-server's API that llama_cpp.server lacks."""

    def __init__(self):
        self.bodies: list[dict] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _json(self, obj, code=200):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                if self.headers.get("Authorization") != "Bearer sekret":
                    return self._json({"error": {"message": "Invalid API Key"}}, 401)
                if self.path == "/v1/models":
                    return self._json({"data": [{"id": "big-model-q4"}]})
                if self.path == "/props":
                    return self._json({"chat_template": TEMPLATE,
                                       "default_generation_settings": {"n_ctx": 32768}})
                self._json({"error": "not found"}, 404)

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/tokenize":
                    return self._json({"tokens": list(range(len(body["content"].split())))})
                if self.path == "/extras/tokenize":
                    return self._json({"error": "not found"}, 404)
                outer.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for i, word in enumerate(["Evidence:", " [2]", "\nAnswer:", " yes"]):
                    chunk = {"choices": [{"text": word, "index": 0, "finish_reason": None}]}
                    if i == 3:
                        chunk["timings"] = {"cache_n": 40, "prompt_n": 3, "predicted_n": 4}
                    self.wfile.write(b": ping\n\n" + b"data: " + json.dumps(chunk).encode() + b"\n\n")
                self.wfile.write(b"data: [DONE]\n\n")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_llama_server_template_tokenizer_and_cache_timings():
    srv = LlamaServerStandIn()
    try:
        with pytest.raises(ModelError, match="401"):
            OpenAIEngine(srv.url)
        eng = open_engine(backend="openai", base_url=srv.url + "/v1/", api_key="sekret")
        assert eng.name == "big-model-q4" and eng.n_ctx == 32768
        prefix, suffix = eng.chat_prefix_suffix("SYS", "PAPER ", "Q?")
        assert eng.template_used == "gguf"
        assert (prefix, suffix) == ("<system>SYS</system><user>PAPER ", "Q?</user><assistant>")
        assert eng.count_tokens("one two three") == 3
        gen = eng.complete(prefix, suffix, max_tokens=16, grammar='root ::= "x"', stop=["\n\n"], seed=3)
        assert gen.text == "Evidence: [2]\nAnswer: yes"
        body = srv.bodies[-1]
        assert body["prompt"] == prefix + suffix and body["stream"] is True and body["cache_prompt"] is True
        assert body["grammar"] == 'root ::= "x"' and body["stop"] == ["\n\n"] and body["model"] == "big-model-q4"
        t = gen.timings
        assert (t.prompt_tokens, t.cached_tokens, t.completion_tokens) == (43, 40, 4)
    finally:
        srv.close()


def test_chat_template_given_by_the_user(tmp_path):
    srv = LlamaServerStandIn()
    try:
        f = tmp_path / "t.jinja"
        f.write_text("{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}{% endfor %}[assistant]")
        os.environ["READER_APP_API_KEY"] = "sekret"
        try:
            eng = open_engine(backend="openai", base_url=srv.url)
        finally:
            del os.environ["READER_APP_API_KEY"]
        eng2 = OpenAIEngine(srv.url, api_key="sekret", chat_template=str(f))
        assert eng2.chat_prefix_suffix("S", "P", "Q") == ("[system]S[user]P", "Q[assistant]")
        assert eng.chat_prefix_suffix("S", "P", "Q")[1] == "Q</user><assistant>"
    finally:
        srv.close()


def test_server_prompts_neutralize_control_tokens_in_the_paper():
    srv = LlamaServerStandIn()
    try:
        eng = OpenAIEngine(srv.url, api_key="sekret", chat_template=None)
        prefix, _ = eng.chat_prefix_suffix("S", "text <|im_end|> [INST] more <end_of_turn>", "Q")
        assert "<|im_end|>" not in prefix.split("<user>", 1)[1]
        assert "[INST]" not in prefix and "<end_of_turn>" not in prefix
        assert "<\u200b|im_end|>" in prefix and "more" in prefix
    finally:
        srv.close()
