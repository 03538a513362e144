"""Base class for a tau2 domain's tools: dispatch, official output strings, LangChain schemas.

A domain toolkit subclasses ``Toolkit`` and marks each tool method with ``@tool("read")`` (or
"write", "generic", "think"). Tool docstrings are the official tool descriptions (Google style,
parsed like upstream: description = first line, then a blank line and the rest).
Methods are called with the model's arguments as keyword arguments and no schema validation,
so a missing or extra argument gives Python's own TypeError text, as upstream does.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from fama.core.env import ToolKind, ToolOutput
from fama.envs.tau2.db import DocumentDB

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

F = TypeVar("F", bound=Callable[..., Any])

_KIND_ATTR = "__fama_tool_kind__"


def tool(kind: ToolKind) -> Callable[[F], F]:
    """Mark a toolkit method as a tool of the given kind."""

    def mark(fn: F) -> F:
        setattr(fn, _KIND_ATTR, kind)
        return fn

    return mark


def format_output(result: Any) -> str:
    """Turn a tool's return value into the official ToolMessage content string."""
    if isinstance(result, str):
        return result
    if result is None:
        return "null"
    if isinstance(result, dict):
        return json.dumps(result, default=str)
    if isinstance(result, list | tuple):
        return json.dumps(_stringify_scalars(result), default=str)
    return json.dumps(str(result))


def _stringify_scalars(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    if isinstance(value, list | tuple):
        return [_stringify_scalars(v) for v in value]
    if value is None:
        return None
    return str(value)


class Toolkit:
    """A domain's tools over one episode's DB view."""

    _tool_kinds_cache: dict[str, ToolKind]

    def __init__(self, db: DocumentDB) -> None:
        self.db = db

    @classmethod
    def tool_kinds(cls) -> dict[str, ToolKind]:
        """Tool name -> kind, in definition order (the official listing order); cached."""
        cached = cls.__dict__.get("_tool_kinds_cache")
        if cached is None:
            cached = {}
            for klass in cls.__mro__:
                for name, attr in vars(klass).items():
                    kind = getattr(attr, _KIND_ATTR, None)
                    if kind is not None and name not in cached:
                        cached[name] = kind
            cls._tool_kinds_cache = cached
        return cast(dict[str, ToolKind], cached)

    def execute(self, name: str, arguments: dict[str, Any]) -> ToolOutput:
        """Run one tool call; errors become ``Error: ...`` outputs, never exceptions."""
        if name not in self.tool_kinds():
            return ToolOutput(f"Error: Tool '{name}' not found.", error=True)
        method = getattr(self, name)
        try:
            result = method(**arguments)
        except Exception as exc:  # the official env turns any tool exception into content
            return ToolOutput(f"Error: {exc}", error=True)
        return ToolOutput(format_output(result))

    @classmethod
    def openai_schemas(cls) -> list[dict[str, Any]]:
        """The official OpenAI function schemas of every tool."""
        return [openai_schema(getattr(cls, name)) for name in cls.tool_kinds()]

    @classmethod
    def langchain_tools(cls) -> list[BaseTool]:
        """Schema-only LangChain tools (execution goes through ``execute``)."""
        from langchain_core.tools import StructuredTool

        def not_callable(**_: Any) -> str:
            raise RuntimeError("tau2 tools are executed by the environment, not LangChain")

        tools: list[BaseTool] = []
        for schema in cls.openai_schemas():
            fn = schema["function"]
            tools.append(
                StructuredTool.from_function(
                    func=not_callable,
                    name=fn["name"],
                    description=fn["description"],
                    args_schema=fn["parameters"],
                )
            )
        return tools


def openai_schema(method: Callable[..., Any]) -> dict[str, Any]:
    """OpenAI function schema built from a tool method's signature and docstring, as upstream."""
    from docstring_parser import parse
    from pydantic import Field, create_model

    doc = parse(method.__doc__ or "")
    params: dict[str, Any] = {}
    arg_docs = {p.arg_name: p.description for p in doc.params}
    for name, param in inspect.signature(method, eval_str=True).parameters.items():
        if name == "self":
            continue
        annotation = Any if param.annotation is param.empty else param.annotation
        default = ... if param.default is param.empty else param.default
        if name in arg_docs:
            default = Field(default, description=arg_docs[name])
        params[name] = (annotation, default)
    model = cast(Any, create_model)("parameters", **params)
    short, long = doc.short_description or "", doc.long_description or ""
    description = f"{short}\n\n{long}" if long else (short or method.__name__)
    return {
        "type": "function",
        "function": {
            "name": method.__name__,
            "description": description,
            "parameters": model.model_json_schema(),
        },
    }
