"""``FamaMiddleware``: FAMA on an agent built with LangChain v1's ``create_agent``.

::

    agent = create_agent(model, tools, middleware=[FamaMiddleware(
        policy=POLICY, config="fama_config.json", write_tools=["refund"])])

Around every model call of the agent it runs one FAMA decision (``fama.integrations.decision``):
the helpers' guidance goes into that call's request only (one trailing message, as in the
FAMA graph; never into the agent's messages), and a proposal calling a write tool is checked
by the decision verifier before any tool runs; a withdrawn proposal is asked again with the
remediation, at most ``max_redecisions`` times. Sync (``invoke`` / ``stream``) and async
(``ainvoke`` / ``astream``) agents are both served; an async-only tool also runs under
``invoke``. FAMA's per-conversation record (decision count, helper use, the planner's cached
plan, verifier blocks) is agent state (``fama_diagnosis``), so a checkpointer keeps it across
calls on one thread; every decision is appended to ``fama_decisions`` with its model calls and
latency, passed to ``on_decision`` and, with a ``RunRecorder``, saved to the run store.
"""

from __future__ import annotations

import asyncio
import operator
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NotRequired, cast

from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
from langchain.agents.middleware.types import ExtendedModelResponse
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.config import get_config
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.runtime import Runtime
from langgraph.types import Command

from fama.core.fama_config import FamaConfig, FamaMode
from fama.core.fama_state import DEFAULT_GUIDANCE_BUDGET, Diagnosis, merge_diagnosis
from fama.core.retry import RetryPolicy
from fama.core.state import LLMCall
from fama.core.sync import run_sync
from fama.envs.tool_runner import sync_capable
from fama.graph.fama_agent import default_mode
from fama.helpers import decision_verifier
from fama.helpers.settings import fama_settings, prompt_names
from fama.integrations.decision import (
    DecisionSetup,
    MiddlewareDecision,
    Pending,
    agent_call,
    finish,
    prepare,
    verify,
)
from fama.integrations.options import resolve_config, resolve_model
from fama.integrations.recorder import RunRecorder

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

DecisionCallback = Callable[[MiddlewareDecision], None]


class FamaAgentState(AgentState[Any]):
    """The agent state keys FAMA adds (per thread, kept by a checkpointer)."""

    fama_diagnosis: NotRequired[Annotated[Diagnosis, merge_diagnosis]]
    fama_decisions: NotRequired[Annotated[list[MiddlewareDecision], operator.add]]


def _proposal(response: ModelResponse[Any] | AIMessage) -> AIMessage | None:
    if isinstance(response, AIMessage):
        return response
    return next((m for m in response.result if isinstance(m, AIMessage)), None)


def _thread_id() -> str:
    try:
        configurable = get_config().get("configurable") or {}
    except RuntimeError:  # outside a graph run
        return "default"
    return str(configurable.get("thread_id") or "default")


class FamaMiddleware(AgentMiddleware[FamaAgentState, Any, Any]):
    """FAMA's helpers and decision verifier for a ``create_agent`` agent.

    ``policy``: the domain policy the helpers read (keep it in your system prompt too).
    ``config``: a ``FamaConfig`` or the path of ``fama_config.json`` from ``fama analyze``;
    ``mode`` defaults to ``static`` with a configuration and ``dynamic`` without.
    ``write_tools``: the tools that change state (the verifier checks calls to them).
    ``helper_model``: the model the helpers call (a chat model or ``provider:model``);
    without one they call the agent's model, and their calls are recorded under
    ``helper:<name>``, apart from the agent's. ``on_decision`` receives every decision
    record; ``recorder`` saves each conversation to the run store.
    """

    state_schema = FamaAgentState

    def __init__(
        self,
        *,
        policy: str,
        config: FamaConfig | str | Path | None = None,
        mode: FamaMode | None = None,
        write_tools: Iterable[str] = (),
        helper_model: BaseChatModel | str | None = None,
        taxonomy: Iterable[Mapping[str, Any] | Any] | None = None,
        guidance_budget: int = DEFAULT_GUIDANCE_BUDGET,
        on_decision: DecisionCallback | None = None,
        recorder: RunRecorder | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__()
        from fama.prompts import PromptSet

        fama_config = resolve_config(config)
        settings = fama_settings(
            default_mode(fama_config, mode), fama_config, taxonomy, guidance_budget
        )
        self.setup = DecisionSetup(
            settings=settings,
            prompts=PromptSet.resolve(prompt_names(settings)),
            policy=policy,
            write_tools=frozenset(write_tools),
            helper_model=resolve_model(helper_model),
            retry=retry or RetryPolicy(),
        )
        self.on_decision = on_decision
        self.recorder = recorder
        self._checked_tools = False
        if recorder is not None:
            recorder.open(self.run_config(), self.setup.prompts.refs)

    def run_config(self) -> dict[str, Any]:
        """What a recorded run stores as its configuration."""
        settings = self.setup.settings
        model = self.setup.helper_model
        return {
            "mode": settings.mode,
            "fama_config": None if settings.config is None else settings.config.model_dump(),
            "write_tools": sorted(self.setup.write_tools),
            "helper_model": None if model is None else type(model).__name__,
            "guidance_budget": settings.guidance_budget,
            "trials": 1,
        }

    # ------------------------------------------------------------------- model calls

    def _open(self, request: ModelRequest[Any]) -> Coroutine[Any, Any, Pending]:
        if not self._checked_tools:
            self._checked_tools = True
            names = {getattr(t, "name", None) for t in request.tools}
            unknown = sorted(self.setup.write_tools - names)
            if unknown:
                warnings.warn(
                    f"FamaMiddleware write_tools not among the agent's tools: {unknown}",
                    stacklevel=3,
                )
        record = cast(Diagnosis, request.state.get("fama_diagnosis") or {})
        return prepare(self.setup, request.messages, request.tools, request.model, record)

    def _limit(self) -> int:
        return int(self.setup.settings.params(decision_verifier.NAME)["max_redecisions"])

    def _done(
        self, pending: Pending, response: ModelResponse[Any] | AIMessage, calls: list[LLMCall]
    ) -> ExtendedModelResponse[Any]:
        decision = finish(pending, calls)
        if self.on_decision is not None:
            self.on_decision(decision)
        if isinstance(response, AIMessage):
            response = ModelResponse(result=[response])
        update = {"fama_diagnosis": pending.update, "fama_decisions": [decision]}
        return ExtendedModelResponse(model_response=response, command=Command(update=update))

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ExtendedModelResponse[Any]:
        """One FAMA decision around a sync model call."""
        pending = run_sync(self._open(request))
        calls: list[LLMCall] = []
        for _ in range(self._limit() + 1):  # a withdrawn proposal is asked again, bounded
            started = time.perf_counter()
            response = handler(request.override(messages=pending.model_messages()))
            proposal = _proposal(response)
            calls += agent_call(request.model, proposal, (time.perf_counter() - started) * 1e3)
            if not run_sync(verify(pending, proposal)):
                break
        return self._done(pending, response, calls)

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ExtendedModelResponse[Any]:
        """One FAMA decision around an async model call."""
        pending = await self._open(request)
        calls: list[LLMCall] = []
        for _ in range(self._limit() + 1):
            started = time.perf_counter()
            response = await handler(request.override(messages=pending.model_messages()))
            proposal = _proposal(response)
            calls += agent_call(request.model, proposal, (time.perf_counter() - started) * 1e3)
            if not await verify(pending, proposal):
                break
        return self._done(pending, response, calls)

    # -------------------------------------------------------------------- tool calls

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        """Run async-only tools under ``invoke`` too (LangChain would refuse them)."""
        if request.tool is not None:
            request = request.override(tool=sync_capable(request.tool))
        return handler(request)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        """Tools run unchanged under the async API."""
        return await handler(request)

    # ------------------------------------------------------------------ recording

    def after_agent(self, state: FamaAgentState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        """Save the conversation of this thread, if a recorder was given."""
        if self.recorder is not None:
            self._save(_thread_id(), state)
        return None

    async def aafter_agent(
        self, state: FamaAgentState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        """Save the conversation without blocking the event loop."""
        if self.recorder is not None:
            thread = _thread_id()
            await asyncio.to_thread(self._save, thread, state)
        return None

    def _save(self, thread: str, state: FamaAgentState) -> None:
        decisions = state.get("fama_decisions", [])
        if self.recorder is None:
            return
        self.recorder.save(
            thread,
            state["messages"],
            decisions,
            [c for d in decisions for c in d["llm_calls"]],
            [{"node": "fama_decision", "latency_ms": d["latency_ms"]} for d in decisions],
        )
