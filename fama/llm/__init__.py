"""The LLM layer: model specs, model calls with retries and usage, tool-call repair.

It imports only ``fama.core`` and ``fama.prompts``.
"""
