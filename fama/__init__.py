"""FAMA: Failure-Aware Meta-Agentic framework for small open LLM agents in multi-turn tool use."""

__version__ = "0.1.0"
