"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 (tests, benchmarks).

It answers every request with ``reply(messages)`` (LangChain messages in, an ``AIMessage``
or text out) after ``delay_s``, streamed as server-sent events when the request asks for a
stream; ``status`` other than 200 makes it answer that error, and
``fail_after`` makes it stop listening (connections refused) once it has served that many.
Without ``keep_alive`` every answer closes its connection (a stopped server then refuses
every later request); with it, connections stay open (HTTP/1.1) as with a real server.

Run as a program it serves the gold-replaying tau2 retail agent of ``framework_overhead``
until stdin closes (``concurrency.py --server`` starts it so):

    python benchmarks/scripted_server.py [--data-dir DIR]   # prints the base URL
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, convert_to_messages

Reply = Callable[[list[BaseMessage]], AIMessage | str]


def completion(model: str, reply: AIMessage | str) -> dict[str, Any]:
    """The chat-completion JSON of a reply (tool calls in OpenAI form)."""
    message = reply if isinstance(reply, AIMessage) else AIMessage(content=reply)
    body: dict[str, Any] = {"role": "assistant", "content": message.text or None}
    if message.tool_calls:
        body["tool_calls"] = [
            {
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
            }
            for call in message.tool_calls
        ]
    return {
        "id": "scripted",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": body, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def stream_events(model: str, reply: AIMessage | str) -> bytes:
    """The same reply streamed as server-sent events: the message in one chunk, the finish
    reason, the usage, ``[DONE]``."""
    body = completion(model, reply)
    message = body["choices"][0]["message"]
    delta: dict[str, Any] = {"role": "assistant", "content": message["content"] or ""}
    if "tool_calls" in message:
        delta["tool_calls"] = [{"index": i, **c} for i, c in enumerate(message["tool_calls"])]
    head = {"id": body["id"], "object": "chat.completion.chunk", "created": 0, "model": model}
    finish = "tool_calls" if "tool_calls" in message else "stop"
    events = [
        {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
        {**head, "choices": [], "usage": body["usage"]},
    ]
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"


class ScriptedServer:
    """See the module docstring; ``served`` counts the answered requests."""

    def __init__(
        self,
        name: str,
        reply: Reply | None = None,
        *,
        delay_s: float = 0.05,
        port: int = 0,
        fail_after: int | None = None,
        keep_alive: bool = False,
    ) -> None:
        self.name, self.delay_s, self.status, self.served = name, delay_s, 200, 0
        self.reply: Reply = reply or (lambda messages: f"from {name}")
        self.fail_after = fail_after
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(owner.delay_s)
                answer = owner.reply(convert_to_messages(request["messages"]))
                streamed = bool(request.get("stream"))
                if owner.status != 200:
                    data, streamed = b"{}", False
                elif streamed:
                    data = stream_events(request["model"], answer)
                else:
                    data = json.dumps(completion(request["model"], answer)).encode()
                self.send_response(owner.status)
                kind = "text/event-stream" if streamed else "application/json"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                owner.served += 1
                if owner.fail_after is not None and owner.served == owner.fail_after:
                    threading.Thread(target=owner.stop, daemon=True).start()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 1024  # a burst of connections is queued, not refused

        self.httpd = Server(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        """Stop listening (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self.httpd.shutdown()
        self.httpd.server_close()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the gold-replaying retail agent; print the base URL; stop when stdin closes."""
    from framework_overhead import DEFAULT_DATA, gold_agent, load

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    _, tasks, _ = load(args.data_dir, None)
    server = ScriptedServer("gold", gold_agent(tasks), delay_s=0.0, keep_alive=True)
    print(server.url, flush=True)
    sys.stdin.read()  # until the parent closes the pipe
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
