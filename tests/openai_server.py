"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 for tests.

It answers every request with ``reply(messages)`` (LangChain messages in, an ``AIMessage``
or text out) after ``delay_s``; ``status`` other than 200 makes it answer that error, and
``fail_after`` makes it stop listening (connections refused) once it has served that many.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    ) -> None:
        self.name, self.delay_s, self.status, self.served = name, delay_s, 200, 0
        self.reply: Reply = reply or (lambda messages: f"from {name}")
        self.fail_after = fail_after
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(owner.delay_s)
                answer = owner.reply(convert_to_messages(request["messages"]))
                data = json.dumps(completion(request["model"], answer)).encode()
                if owner.status != 200:
                    data = b"{}"
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                owner.served += 1
                if owner.fail_after is not None and owner.served == owner.fail_after:
                    threading.Thread(target=owner.stop, daemon=True).start()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
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
