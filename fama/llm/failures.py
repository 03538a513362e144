"""What an exception that ended an episode means: context overflow, infrastructure or a bug.

* ``context_overflow`` -- the server refused the prompt as too long (HTTP 400/413 whose
  message speaks of the context length); the episode ends as termination
  ``context_overflow`` and is scored like upstream scores a run that crashed (reward 0 in
  tau2 and tau-trait, where only ``user_stop``/``agent_stop`` are scored normally).
* ``infrastructure`` -- the model server or the user simulator failed: retries exhausted
  (``ModelUnavailableError``), any other API error (4xx, a body that is not a completion,
  such as an HTML page with status 200), or the user simulator broke.
* ``error`` -- anything else: a bug in our code or bad settings (stored as status ``error``).

In every case the episode keeps what it did up to the failure (see ``fama.graph.episode``).
"""

from __future__ import annotations

import re
import traceback
from typing import Literal, TypedDict

import openai

from fama.core.users import UserSimulatorError
from fama.llm.call import ModelUnavailableError

FailureKind = Literal["context_overflow", "infrastructure", "error"]

_CONTEXT = re.compile(
    r"context[ _-]?(length|size|window)|maximum.{0,40}(length|tokens)|too many tokens|"
    r"prompt is too long|exceeds? (the )?(available )?context",
    re.I,
)
# LangChain's messages for a 200 answer that is not a completion (e.g. an HTML page): plain
# (langchain-openai) and streamed (langchain-core: the stream held no chunk)
_NOT_A_COMPLETION = (
    "Unexpected response type from OpenAI-compatible endpoint",
    "No generation chunks were returned",
)
MAX_MESSAGE_CHARS = 500


class FailureInfo(TypedDict):
    """An episode-ending exception as stored with the episode (``extra["exception"]``)."""

    kind: FailureKind
    type: str
    message: str


def is_context_overflow(exc: BaseException) -> bool:
    """True for a server's refusal of a prompt longer than the model's context."""
    status = getattr(exc, "status_code", None)
    if isinstance(exc, openai.APIStatusError) and status in (400, 413):
        return bool(_CONTEXT.search(str(exc)))
    return False


def failure_kind(exc: BaseException) -> FailureKind:
    """How an episode-ending exception is classified (see the module docstring)."""
    if is_context_overflow(exc):
        return "context_overflow"
    if isinstance(exc, ModelUnavailableError | UserSimulatorError | openai.APIError):
        return "infrastructure"
    if isinstance(exc, ValueError) and str(exc).startswith(_NOT_A_COMPLETION):
        return "infrastructure"
    return "error"


def failure_info(exc: BaseException) -> FailureInfo:
    """Kind, exception type and (clipped, one-line) message."""
    message = " ".join(str(exc).split())
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 3] + "..."
    return {"kind": failure_kind(exc), "type": type(exc).__name__, "message": message}


def failure_detail(exc: BaseException) -> str:
    """The ``error_detail`` text: ``Type: message`` for server faults, the traceback for bugs
    (ending with that line too, which ``fama report`` shows)."""
    info = failure_info(exc)
    summary = f"{info['type']}: {info['message']}"
    if info["kind"] != "error":
        return summary
    trace = "".join(traceback.format_exception(exc)).rstrip()
    # LangGraph adds a note ("During task with name ...") after the exception line
    return trace if trace.endswith(summary) else f"{trace}\n{summary}"
