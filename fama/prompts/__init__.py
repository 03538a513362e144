"""Versioned prompt templates and their registry."""

from fama.prompts.registry import Prompt, all_prompt_names, load_prompt, versions

__all__ = ["Prompt", "all_prompt_names", "load_prompt", "versions"]
