"""Call lists in ACEBench's text form: ``[name(k='v', ...), name2(...)]``.

The official process log holds the agent's raw call text, and the milestones are written the
same way. ``render_calls`` writes our structured calls in that form (Python ``repr`` values,
arguments in schema order); ``parse_call_list`` reads a milestone back into structured calls,
repairing the unescaped apostrophes some milestones contain (``merchant_name='Domino's'``).
Behaviour follows chenchen0103/ACEBench (MIT).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any

Call = tuple[str, dict[str, Any]]

# a string literal ends at a quote followed (after spaces) by one of these, or at the end
_CLOSERS = frozenset(",)]}:")


def render_call(name: str, arguments: Mapping[str, Any], order: Sequence[str] = ()) -> str:
    """``name(k=repr(v), ...)`` with the arguments in ``order`` first, the rest as given."""
    keys = [k for k in order if k in arguments] + [k for k in arguments if k not in order]
    return f"{name}({', '.join(f'{k}={arguments[k]!r}' for k in keys)})"


def render_calls(calls: Sequence[Call], orders: Mapping[str, Sequence[str]] | None = None) -> str:
    """One agent turn's calls as the official bracketed list (parallel calls joined by ``, ``)."""
    orders = orders or {}
    return "[" + ", ".join(render_call(n, a, orders.get(n, ())) for n, a in calls) + "]"


def parse_call_list(text: str, *, repair: bool = True) -> list[Call] | None:
    """The calls of a bracketed call list, or None when it cannot be parsed.

    With ``repair`` a text that does not parse is tried again after ``repair_quotes``.
    Only keyword arguments are kept (as upstream). Values are Python literals; a bare name
    becomes its name as a string and any other expression its source text.
    """
    body = text.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    for candidate in (body, repair_quotes(body)) if repair else (body,):
        try:
            tree = ast.parse(candidate.strip(), mode="eval").body
        except SyntaxError:
            continue
        nodes = tree.elts if isinstance(tree, ast.Tuple | ast.List) else [tree]
        if not nodes or not all(isinstance(n, ast.Call) for n in nodes):
            return None
        return [_call(n) for n in nodes if isinstance(n, ast.Call)]
    return None


def _call(node: ast.Call) -> Call:
    name = ast.unparse(node.func)
    return name, {kw.arg: _value(kw.value) for kw in node.keywords if kw.arg is not None}


def _value(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return node.id if isinstance(node, ast.Name) else ast.unparse(node)


def repair_quotes(source: str) -> str:
    """Re-quote single-quoted strings that contain a bare apostrophe (``'Domino's'``).

    A single-quoted literal is taken to end at the first quote followed by a closing
    character (``, ) ] } :``) or the end of the text; its content is written back with
    ``repr``. Double-quoted strings are copied unchanged.
    """
    out: list[str] = []
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char == '"':
            end = _double_quoted_end(source, i)
            out.append(source[i:end])
            i = end
        elif char == "'":
            end = _single_quoted_end(source, i)
            out.append(repr(source[i + 1 : end]))
            i = end + 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _double_quoted_end(source: str, start: int) -> int:
    i = start + 1
    while i < len(source):
        if source[i] == "\\":
            i += 2
            continue
        if source[i] == '"':
            return i + 1
        i += 1
    return len(source)


def _single_quoted_end(source: str, start: int) -> int:
    for i in range(start + 1, len(source)):
        if source[i] != "'":
            continue
        rest = source[i + 1 :].lstrip()
        if not rest or rest[0] in _CLOSERS:
            return i
    return len(source)
