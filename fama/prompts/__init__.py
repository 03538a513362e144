"""Versioned prompt templates and their registry."""

from fama.prompts.registry import Prompt, PromptSet, all_prompt_names, load_prompt, pins, versions

__all__ = ["Prompt", "PromptSet", "all_prompt_names", "load_prompt", "pins", "versions"]
