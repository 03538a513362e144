"""Tool environments: the tau2 benchmark domains and the contract for user-supplied ones."""

from fama.envs.base import ToolEnvironment, ToolKind, ToolOutput

__all__ = ["ToolEnvironment", "ToolKind", "ToolOutput"]
