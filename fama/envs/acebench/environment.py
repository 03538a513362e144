"""The ACEBench tool environment of one episode (``agent_multi_turn`` / ``agent_multi_step``).

The agent gets the task's own function schemas as tools. Each agent message's tool calls
form one batch (``execute_batch``): in ``multi_turn`` the first failing call aborts the rest
of the batch, as upstream (which then returns one error text for the batch; we return a
readable error per call instead of its character list); in ``multi_step`` every call runs and
failures are reported per call. Every batch is recorded in the process log, both as
structured calls and as the official text ``[name(k='v', ...)]``. Behaviour follows
chenchen0103/ACEBench (MIT).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fama.core.env import ToolKind, ToolOutput
from fama.envs.acebench.calls import Call, render_calls
from fama.envs.acebench.data import AceTask
from fama.envs.acebench.session import ApiSession, UnknownApiError, result_text

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

ERROR_PREFIX = "Error during execution: "
ABORTED = (
    "Not executed: an earlier call in the same batch failed, so the rest of the batch was skipped."
)

# APIs that change state (the rest only read); helpers included
WRITE_APIS = frozenset(
    {
        "turn_on_wifi",
        "login_device",
        "send_message",
        "delete_message",
        "add_reminder",
        "delete_reminder",
        "mark_as_notified",
        "login_food_platform",
        "add_food_delivery_order",
        "reserve_flight",
        "modify_flight",
        "cancel_reservation",
        "update_balance",
        "process_refund",
    }
)

_TYPE_FIXES = {"dict": "object", "list": "array", "tuple": "array", "float": "number"}


@dataclass(frozen=True)
class ProcessEntry:
    """One agent message's tool calls: structured, and as the official call-list text."""

    calls: tuple[Call, ...]
    text: str


def json_schema(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """An ACEBench parameter schema as JSON Schema.

    ``dict``/``list`` types become ``object``/``array`` (recursively, items included) and a
    required name missing from the properties is replaced by its singular/plural twin when
    that exists (``reserve_flight`` lists ``payment_methods`` for ``payment_method``) or
    dropped. Descriptions, enums and defaults are kept.
    """
    schema: dict[str, Any] = {}
    for key, value in parameters.items():
        if key == "type" and isinstance(value, str):
            schema[key] = _TYPE_FIXES.get(value, value)
        elif key == "properties" and isinstance(value, Mapping):
            schema[key] = {
                name: json_schema(sub) if isinstance(sub, Mapping) else sub
                for name, sub in value.items()
            }
        elif key == "items" and isinstance(value, Mapping):
            schema[key] = json_schema(value)
        else:
            schema[key] = value
    if "required" in schema:
        schema["required"] = _fixed_required(schema["required"], schema.get("properties", {}))
    return schema


def _fixed_required(required: Sequence[str], properties: Mapping[str, Any]) -> list[str]:
    fixed: list[str] = []
    for name in required:
        if name not in properties:
            twin = name[:-1] if name.endswith("s") else f"{name}s"
            if twin not in properties:
                continue
            name = twin
        if name not in fixed:
            fixed.append(name)
    return fixed


def schema_tools(functions: Sequence[Mapping[str, Any]]) -> list[BaseTool]:
    """Schema-only LangChain tools for a task's function list (execution is the env's job)."""
    from langchain_core.tools import StructuredTool

    def not_callable(**_: Any) -> str:
        raise RuntimeError("ACEBench tools are executed by the environment, not LangChain")

    tools: list[BaseTool] = []
    for function in functions:
        parameters = json_schema(function.get("parameters") or {"type": "object"})
        parameters.setdefault("properties", {})
        tools.append(
            StructuredTool.from_function(
                func=not_callable,
                name=function["name"],
                description=function.get("description", ""),
                args_schema=parameters,
            )
        )
    return tools


class AceBenchEnvironment:
    """Live APIs of one ACEBench task, its tools for the agent, and the process log."""

    def __init__(self, task: AceTask, seed_state: Mapping[str, Any], policy: str) -> None:
        self.task = task
        self._policy = policy
        self.session = ApiSession(task.involved_classes, task.initial_config, seed_state, task.lang)
        self.process_log: list[ProcessEntry] = []
        self._state_kept = False
        self._orders = {
            f["name"]: list((f.get("parameters") or {}).get("properties") or {})
            for f in task.functions
        }

    @property
    def policy(self) -> str:
        """The task's rules (phone, travel or multi-step), in the task's language."""
        return self._policy

    def agent_tools(self) -> list[BaseTool]:
        """The task's function schemas as tools."""
        return schema_tools(self.task.functions)

    def tool_kind(self, name: str) -> ToolKind | None:
        """``write`` for state-changing APIs, ``read`` for the others, None if unknown.

        Known: the task's schemas (even ``search_reminders``, which English lacks) and every
        callable API of its classes (helpers included).
        """
        if name not in self.session.method_names and name not in self._orders:
            return None
        return "write" if name in WRITE_APIS else "read"

    def execute(
        self, name: str, arguments: dict[str, Any], requestor: str = "assistant"
    ) -> ToolOutput:
        """Run one call (a batch of one)."""
        return self.execute_batch([(name, arguments)], requestor)[0]

    def execute_batch(
        self, calls: Sequence[tuple[str, Any]], requestor: str = "assistant"
    ) -> list[ToolOutput]:
        """Run one agent message's calls in order; one output per call.

        ``multi_turn``: the first failing call aborts the rest (already executed calls keep
        their effects). ``multi_step``: every call runs. The batch is logged either way.
        """
        if requestor != "assistant":
            return [
                ToolOutput(f"{ERROR_PREFIX}ACEBench has no tools for the {requestor}", error=True)
                for _ in calls
            ]
        logged: list[Call] = [
            (name, copy.deepcopy(dict(args)) if isinstance(args, Mapping) else {})
            for name, args in calls
        ]
        self.process_log.append(
            ProcessEntry(calls=tuple(logged), text=render_calls(logged, self._orders))
        )
        outputs: list[ToolOutput] = []
        failed = False
        for name, arguments in calls:
            if failed and self.task.category == "multi_turn":
                outputs.append(ToolOutput(ABORTED, error=True))
                continue
            output = self._run(name, arguments)
            failed = failed or output.error
            outputs.append(output)
        # upstream keeps the end state once an execution completed: in multi_turn a batch
        # without errors, in multi_step any executed batch
        if self.task.category == "multi_step" or not failed:
            self._state_kept = True
        return outputs

    def _run(self, name: str, arguments: Any) -> ToolOutput:
        if not isinstance(arguments, Mapping):
            return ToolOutput(f"{ERROR_PREFIX}the arguments must be a JSON object", error=True)
        try:
            value = self.session.call(name, arguments)
        except UnknownApiError as exc:  # listing the task's APIs lets the agent recover
            available = ", ".join(n for n in self._orders if n in self.session.method_names)
            return ToolOutput(f"{ERROR_PREFIX}{exc}; the APIs are: {available}", error=True)
        except Exception as exc:  # any API failure is an execution error, as upstream
            return ToolOutput(f"{ERROR_PREFIX}{exc}", error=True)
        return ToolOutput(result_text(value))

    def final_state(self) -> list[dict[str, dict[str, Any]]]:
        """The scored end state; empty when no execution ever completed (the task then fails)."""
        return self.session.capture() if self._state_kept else []
