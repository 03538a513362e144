"""A scripted OpenAI-compatible chat server on 127.0.0.1 for tests, with fault modes.

``ScriptedServer(respond)`` serves ``POST /v1/chat/completions`` (plain and streamed) and
``GET /v1/models`` on an ephemeral loopback port in a background thread. ``respond`` gets
each request (``ChatRequest``: body, a per-role call number) and returns what to do:

* ``Reply(content, tool_calls, usage=True)`` -- a normal completion (``usage=False`` leaves
  out the ``usage`` object, as some servers do);
* ``HttpError(status, message)`` -- an OpenAI-style JSON error (``context_overflow()`` is
  the 400 llama.cpp and vLLM send when the prompt is too long);
* ``Html()`` -- status 200 with an HTML body (a proxy or login page);
* ``Drop()`` -- the connection is closed without an answer;
* ``Hang(seconds)`` -- no answer for ``seconds`` (released early when the server stops).

``closed_port()`` gives a loopback port with nothing listening. Tests using the server need
``@pytest.mark.enable_socket`` (pytest-socket blocks sockets by default).

Example::

    def respond(req: ChatRequest) -> Action:
        if req.role == "agent" and req.number >= 3:
            return context_overflow()
        return Reply("hello")

    with ScriptedServer(respond) as server:
        ... ChatOpenAI(base_url=server.base_url, api_key="none") ...
        assert server.count("agent") == 3
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Reply:
    """A normal assistant message (text and/or tool calls as ``(name, arguments)``)."""

    content: str = ""
    tool_calls: tuple[tuple[str, dict[str, Any] | str], ...] = ()
    usage: bool = True
    finish_reason: str | None = None


@dataclass(frozen=True)
class HttpError:
    """An HTTP error with an OpenAI-style JSON body."""

    status: int
    message: str
    type: str = "invalid_request_error"


@dataclass(frozen=True)
class Html:
    """Status 200 with an HTML body instead of JSON."""

    body: str = "<html><body><h1>Please sign in</h1></body></html>"


@dataclass(frozen=True)
class Drop:
    """Close the connection without sending anything."""


@dataclass(frozen=True)
class Hang:
    """Send nothing for ``seconds`` (or until the server stops), then close."""

    seconds: float = 30.0


Action = Reply | HttpError | Html | Drop | Hang


def context_overflow(tokens: int = 40_000, limit: int = 32_768) -> HttpError:
    """The 400 a server sends when the prompt does not fit its context."""
    return HttpError(
        400,
        f"This model's maximum context length is {limit} tokens. However, you requested "
        f"{tokens} tokens. Please reduce the length of the messages.",
    )


@dataclass(frozen=True)
class ChatRequest:
    """One chat-completions request as the server saw it."""

    body: dict[str, Any]
    role: str  # "agent" when the request carries tools, otherwise "plain"
    number: int  # 1-based count of requests of this role, this one included
    total: int  # 1-based count of all requests

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The request's messages."""
        return list(self.body.get("messages") or [])

    @property
    def last_text(self) -> str:
        """The text of the last message."""
        content = self.messages[-1].get("content") if self.messages else ""
        return content if isinstance(content, str) else json.dumps(content)


Responder = Callable[[ChatRequest], Action]


def _completion(reply: Reply, model: str, total: int) -> dict[str, Any]:
    calls = [
        {
            "id": f"call_{total}_{i}",
            "type": "function",
            "function": {
                "name": name,
                "arguments": args if isinstance(args, str) else json.dumps(args),
            },
        }
        for i, (name, args) in enumerate(reply.tool_calls)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
    if calls:
        message["tool_calls"] = calls
    finish = reply.finish_reason or ("tool_calls" if calls else "stop")
    body: dict[str, Any] = {
        "id": f"chatcmpl-{total}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if reply.usage:
        out = max(1, len(reply.content) // 4 + 10 * len(calls))
        body["usage"] = {"prompt_tokens": 100, "completion_tokens": out, "total_tokens": 100 + out}
    return body


def _chunks(completion: dict[str, Any]) -> list[dict[str, Any]]:
    """The completion as stream chunks: the whole message in one delta, then the usage."""
    choice = completion["choices"][0]
    delta = dict(choice["message"])
    if "tool_calls" in delta:
        delta["tool_calls"] = [{"index": i, **c} for i, c in enumerate(delta["tool_calls"])]
    head = {k: completion[k] for k in ("id", "created", "model")}
    chunks = [
        {
            **head,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": choice["finish_reason"]}],
        }
    ]
    if "usage" in completion:
        chunks.append(
            {**head, "object": "chat.completion.chunk", "choices": [], "usage": completion["usage"]}
        )
    return chunks


@dataclass
class _Log:
    requests: list[ChatRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ScriptedServer:
    """The scripted server; use as a context manager (stops and releases hangs on exit)."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self._log = _Log()
        self._stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """No log line per request."""

            def do_GET(self) -> None:
                server._send_json(self, 200, {"object": "list", "data": [{"id": "scripted"}]})

            def do_POST(self) -> None:
                server._handle(self)

        self._httpd = ThreadingHTTPServer((HOST, 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (``http://127.0.0.1:PORT/v1``)."""
        return f"http://{HOST}:{self.port}/v1"

    @property
    def requests(self) -> list[ChatRequest]:
        """Every chat request received so far, in arrival order."""
        with self._log.lock:
            return list(self._log.requests)

    def count(self, role: str | None = None) -> int:
        """How many chat requests arrived (of one role)."""
        return sum(role is None or r.role == role for r in self.requests)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving; hanging requests are released."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _record(self, body: dict[str, Any]) -> ChatRequest:
        role = "agent" if body.get("tools") else "plain"
        with self._log.lock:
            number = 1 + sum(r.role == role for r in self._log.requests)
            request = ChatRequest(body, role, number, len(self._log.requests) + 1)
            self._log.requests.append(request)
        return request

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        try:
            body = json.loads(handler.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._send_json(handler, 400, {"error": {"message": "request body is not JSON"}})
            return
        request = self._record(body)
        action = self.respond(request)
        if isinstance(action, Drop):
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
        elif isinstance(action, Hang):
            self._stopping.wait(action.seconds)
            handler.close_connection = True
        elif isinstance(action, Html):
            self._send(handler, 200, action.body.encode(), "text/html; charset=utf-8")
        elif isinstance(action, HttpError):
            error = {"message": action.message, "type": action.type, "code": action.status}
            self._send_json(handler, action.status, {"error": error})
        else:
            completion = _completion(action, str(body.get("model", "scripted")), request.total)
            if body.get("stream"):
                events = "".join(f"data: {json.dumps(c)}\n\n" for c in _chunks(completion))
                payload = (events + "data: [DONE]\n\n").encode()
                self._send(handler, 200, payload, "text/event-stream")
            else:
                self._send_json(handler, 200, completion)

    @staticmethod
    def _send_json(handler: BaseHTTPRequestHandler, status: int, data: Any) -> None:
        ScriptedServer._send(handler, status, json.dumps(data).encode(), "application/json")

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, kind: str) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def closed_port() -> int:
    """A loopback port with nothing listening on it (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])
