"""The bottom layer: state types, run context, views, trajectory records, the env contract.

Nothing here imports any other part of ``fama`` except ``fama.prompts`` (see
``docs/architecture.md``; ``tests/test_layers.py`` keeps it so).
"""
