"""Behaviour shared by several tau2 domains: the ``calculate`` tool's arithmetic.

``calculate_expression`` gives the official tool's output and error texts: only the characters
``0-9 + - * / ( ) . space`` are allowed, the expression is Python arithmetic without builtins,
and the result is ``str(round(float(result), 2))``. It walks the parsed expression instead of
calling ``eval``, so it can refuse integer powers too large to ever become a float (Python
would spend minutes computing ``9 ** 9 ** 9`` before failing); those fail at once with the
text Python would eventually give, ``int too large to convert to float``.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

_ALLOWED_CHARS = frozenset("0123456789+-*/(). ")
_MAX_POWER_BITS = 100_000

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


def calculate_expression(expression: str) -> str:
    """Evaluate an arithmetic expression like the official ``calculate`` tool.

    Raises ValueError("Invalid characters in expression") for other characters, and Python's
    own exceptions (SyntaxError, ZeroDivisionError, TypeError, OverflowError) otherwise.
    """
    if not all(char in _ALLOWED_CHARS for char in expression):
        raise ValueError("Invalid characters in expression")
    # eval() strips leading spaces of a source string; parse the same text it would compile.
    tree = ast.parse(expression.lstrip(" "), filename="<string>", mode="eval")
    return str(round(float(_evaluate(tree.body)), 2))


def _evaluate(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp):
        left = _evaluate(node.left)
        right = _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
        if type(node.op) in _BINARY:
            return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Tuple):
        return tuple(_evaluate(element) for element in node.elts)
    if isinstance(node, ast.Call) and not node.keywords:
        func = _evaluate(node.func)
        for arg in node.args:
            _evaluate(arg)
        raise TypeError(f"'{type(func).__name__}' object is not callable")
    raise ValueError("Unsupported expression")


def _power(base: Any, exponent: Any) -> Any:
    huge = (
        type(base) is int
        and type(exponent) is int
        and exponent > 0
        and abs(base) > 1
        and exponent * math.log2(abs(base)) > _MAX_POWER_BITS
    )
    if huge:
        raise OverflowError("int too large to convert to float")
    return operator.pow(base, exponent)
