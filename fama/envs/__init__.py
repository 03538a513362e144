"""Tool environments: the tau2 benchmark domains and the contract for user-supplied ones."""

from fama.core.env import ToolEnvironment, ToolKind, ToolOutput

__all__ = ["ToolEnvironment", "ToolKind", "ToolOutput"]
