"""A scripted OpenAI-compatible chat server on 127.0.0.1 that streams runaway replies.

Each request takes the next reply of the script. A reply is streamed as server-sent events,
one chat-completion chunk per "token", and it IGNORES the request's ``max_tokens`` and
``stop``, like a server that forgets the limit:

* ``Endless(token)``: the same token forever, until the client hangs up;
* ``Looping(text)``: the text's tokens over and over (e.g. a tool call followed by a fake
  ``<tool_response>`` block), until the client hangs up;
* ``Finite(text, usage=True, tool_call=None)``: the text's tokens, then the native tool call
  (its arguments in 8-character pieces), ``finish_reason`` ``stop`` (``tool_calls``), then a
  usage chunk (when ``usage``) and ``[DONE]``.

The server is bounded too: it stops any reply after ``MAX_SERVER_TOKENS`` tokens (runaway
replies are paced at ``TOKEN_DELAY_S`` per token, so that a hang-up is noticed). Every
request body is kept in ``requests`` and the number of tokens each reply actually sent
before the client hung up in ``sent``. Tests using it need ``@pytest.mark.enable_socket``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_SERVER_TOKENS = 20_000
TOKEN_DELAY_S = 0.002  # pace of the runaway replies, so a hang-up is noticed within a few tokens


@dataclass(frozen=True)
class Endless:
    token: str = "la "


@dataclass(frozen=True)
class Looping:
    text: str


@dataclass(frozen=True)
class Finite:
    text: str
    usage: bool = True
    tool_call: tuple[str, str] | None = None  # (name, JSON arguments), streamed in pieces


ScriptedReply = Endless | Looping | Finite


def tokens_of(text: str) -> list[str]:
    """Split text into word-and-space "tokens" (tags and punctuation stay in words)."""
    return re.findall(r"\S+\s*|\s+", text)


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "scripted",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _stream(reply: ScriptedReply) -> Iterator[tuple[dict[str, Any], bool]]:
    """(chunk, is a token) pairs of one streamed reply, at most ``MAX_SERVER_TOKENS`` tokens."""
    yield _chunk({"role": "assistant", "content": ""}), False
    if isinstance(reply, Finite):
        parts = tokens_of(reply.text)
        for part in parts:
            yield _chunk({"content": part}), True
        if reply.tool_call is not None:
            name, arguments = reply.tool_call
            head = {"index": 0, "id": "call_1", "type": "function"}
            yield _chunk({"tool_calls": [{**head, "function": {"name": name}}]}), True
            for at in range(0, len(arguments), 8):
                piece = {"index": 0, "function": {"arguments": arguments[at : at + 8]}}
                yield _chunk({"tool_calls": [piece]}), True
        yield _chunk({}, "stop" if reply.tool_call is None else "tool_calls"), False
        if reply.usage:
            usage = {"prompt_tokens": 50, "completion_tokens": len(parts)}
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            yield {**_chunk({}), "choices": [], "usage": usage}, False
        return
    loop = [reply.token] if isinstance(reply, Endless) else tokens_of(reply.text)
    for n in range(MAX_SERVER_TOKENS):
        yield _chunk({"content": loop[n % len(loop)]}), True
    yield _chunk({}, "length"), False


class EndlessServer:
    """The scripted server; use it as a context manager (``base_url`` ends in ``/v1``)."""

    def __init__(self, script: list[ScriptedReply]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.sent: list[int] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> EndlessServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _next(self, body: dict[str, Any]) -> tuple[ScriptedReply, int]:
        with self._lock:
            self.requests.append(body)
            if not self.script:
                raise AssertionError(f"EndlessServer ran out at request {len(self.requests)}")
            self.sent.append(0)
            return self.script.pop(0), len(self.sent) - 1

    def _count(self, index: int) -> None:
        with self._lock:
            self.sent[index] += 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                reply, index = server._next(body)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                try:
                    for chunk, is_token in _stream(reply):
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                        if is_token:
                            server._count(index)
                            if not isinstance(reply, Finite):
                                time.sleep(TOKEN_DELAY_S)
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client hung up: what a bounded client does

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
