"""User tools as LangChain tools, run synchronously whether they are sync or async.

The episode loop calls ``ToolEnvironment.execute`` synchronously; an async-only tool (a
``StructuredTool`` with only a coroutine) is run to completion with ``fama.core.sync.run_sync``,
so it works inside a running loop too. Any exception, including an argument that does not
fit the schema, becomes an ``Error: ...`` output. Used by users' own domains
(``fama.envs.custom``) and by the environment over plain LangChain tools.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, ValidationError

from fama.core.env import ToolOutput
from fama.core.sync import run_sync


def as_tool(tool: Any) -> BaseTool:
    """A LangChain tool as is; a plain function (sync or async) becomes a ``StructuredTool``
    whose description and argument docs come from its docstring."""
    if isinstance(tool, BaseTool):
        return tool
    if not callable(tool):
        raise TypeError(f"not a tool or a function: {tool!r}")
    if inspect.iscoroutinefunction(tool):
        return StructuredTool.from_function(coroutine=tool, parse_docstring=True)
    return StructuredTool.from_function(func=tool, parse_docstring=True)


def _is_async_only(tool: BaseTool) -> bool:
    return isinstance(tool, StructuredTool) and tool.func is None and tool.coroutine is not None


def sync_capable(tool: BaseTool) -> BaseTool:
    """The tool itself, or for an async-only tool a twin whose sync side runs the coroutine
    with ``run_sync`` (same name, description, schema and response format)."""
    if not _is_async_only(tool):
        return tool
    assert isinstance(tool, StructuredTool) and tool.coroutine is not None
    coroutine = tool.coroutine

    async def call(**kwargs: Any) -> Any:
        return await coroutine(**kwargs)

    def run(**kwargs: Any) -> Any:
        return run_sync(call(**kwargs))

    return StructuredTool(
        name=tool.name,
        description=tool.description,
        args_schema=tool.args_schema,
        func=run,
        coroutine=coroutine,
        response_format=tool.response_format,
        return_direct=tool.return_direct,
        metadata=tool.metadata,
        tags=tool.tags,
    )


def output_text(result: Any) -> str:
    """A tool's return value as the text the model reads."""
    if isinstance(result, str):
        return result
    if isinstance(result, BaseModel):
        return result.model_dump_json()
    if isinstance(result, dict | list | tuple):
        return json.dumps(result, ensure_ascii=False, default=str)
    return str(result)


def run_tool(tool: BaseTool, arguments: dict[str, Any]) -> ToolOutput:
    """Run one tool call synchronously; failures come back as ``Error: ...`` outputs."""
    try:
        if _is_async_only(tool):
            result = run_sync(tool.ainvoke(arguments))
        else:
            result = tool.invoke(arguments)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
        return ToolOutput(f"Error: invalid arguments for {tool.name}: {problems}", error=True)
    except Exception as exc:  # a tool's failure is the model's information, not a crash
        return ToolOutput(f"Error: {exc}", error=True)
    return ToolOutput(output_text(result))
