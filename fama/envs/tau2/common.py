"""Behaviour shared by several tau2 domains: the ``calculate`` tool's arithmetic.

``calculate_expression`` gives the official tool's output and error texts: only the characters
``0-9 + - * / ( ) . space`` are allowed (checked as upstream does, so a non-string argument
fails the way upstream's does), the expression is Python arithmetic without builtins, and the
result is ``str(round(float(result), 2))``. It walks the parsed expression instead of calling
``eval``, which lets it bound the work (tau-bench v1 and tau-trait use it too):

- an integer intermediate result may have at most ``MAX_INT_BITS`` bits (about 30,000
  digits); a larger one stops the evaluation with ``int too large to convert to float``, what
  Python says in the end for such a result. Powers are refused before they are computed
  (``9 ** 9 ** 9`` would take Python minutes). Only an expression that divides such a number
  back into float range (``9 ** 40000 / 9 ** 39999``) answers differently from upstream.
- the evaluation stops after ``TIME_LIMIT`` seconds with ``TimeoutError`` (ours, no upstream
  counterpart; no bounded expression of normal length comes near it).

The walk uses an explicit stack, so a long chain such as ``1+1+...+1`` (thousands of terms)
evaluates as with ``eval`` instead of exhausting Python's recursion limit.
"""

from __future__ import annotations

import ast
import math
import operator
import time
from collections.abc import Callable
from typing import Any

ALLOWED_CHARS = "0123456789+-*/(). "
MAX_INT_BITS = 100_000
TIME_LIMIT = 1.0  # seconds

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


def calculate_expression(expression: Any, *, time_limit: float = TIME_LIMIT) -> str:
    """Evaluate an arithmetic expression like the official ``calculate`` tool.

    Raises ValueError("Invalid characters in expression") for other characters, TypeError
    for a non-string expression (eval's text), Python's own exceptions (SyntaxError,
    ZeroDivisionError, OverflowError, ...) otherwise, and TimeoutError past ``time_limit``.
    """
    # upstream's test, iteration and substring semantics included (a list of strings passes
    # it element by element, an int is not iterable)
    if not all(char in ALLOWED_CHARS for char in expression):
        raise ValueError("Invalid characters in expression")
    if not isinstance(expression, str):
        raise TypeError("eval() arg 1 must be a string, bytes or code object")
    # eval() strips leading spaces of a source string; parse the same text it would compile.
    tree = ast.parse(expression.lstrip(" "), filename="<string>", mode="eval")
    value = _evaluate(tree.body, time.monotonic() + time_limit, time_limit)
    return str(round(float(value), 2))


def _children(node: ast.expr) -> list[ast.expr]:
    """The operands of a supported node, left to right (evaluated before the node)."""
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return [node.operand]
    if isinstance(node, ast.BinOp) and (isinstance(node.op, ast.Pow) or type(node.op) in _BINARY):
        return [node.left, node.right]
    if isinstance(node, ast.Tuple):
        return list(node.elts)
    if isinstance(node, ast.Call) and not node.keywords:
        return [node.func, *node.args]
    raise ValueError("Unsupported expression")


def _evaluate(root: ast.expr, deadline: float, time_limit: float) -> Any:
    """Post-order evaluation with an explicit stack, bounded in size and time."""
    stack: list[tuple[ast.expr, bool]] = [(root, False)]
    values: list[Any] = []
    while stack:
        if time.monotonic() >= deadline:
            raise TimeoutError(f"the calculation took longer than {time_limit:g} s")
        node, operands_ready = stack.pop()
        if isinstance(node, ast.Constant):
            values.append(node.value)
            continue
        children = _children(node)
        if not operands_ready:
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(children))
            continue
        operands = values[len(values) - len(children) :]
        del values[len(values) - len(children) :]
        values.append(_bounded(_apply(node, operands)))
    return values[0]


def _apply(node: ast.expr, operands: list[Any]) -> Any:
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](operands[0])
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow):
            return _power(operands[0], operands[1])
        return _BINARY[type(node.op)](operands[0], operands[1])
    if isinstance(node, ast.Tuple):
        return tuple(operands)
    raise TypeError(f"'{type(operands[0]).__name__}' object is not callable")


def _bounded(value: Any) -> Any:
    if type(value) is int and value.bit_length() > MAX_INT_BITS:
        raise OverflowError("int too large to convert to float")
    return value


def _power(base: Any, exponent: Any) -> Any:
    huge = (
        type(base) is int
        and type(exponent) is int
        and exponent > 0
        and abs(base) > 1
        and exponent * math.log2(abs(base)) > MAX_INT_BITS
    )
    if huge:
        raise OverflowError("int too large to convert to float")
    return operator.pow(base, exponent)
