"""FAMA's helper agents (one module each), their registry and what they share.

Guidance helpers (run in parallel before a decision): ``constraints_extractor``,
``tool_suggester``, ``output_reformulator``, ``planner``, ``memory``. The
``decision_verifier`` checks proposed write actions after the decision. ``registry`` maps
failure categories to helpers (``HELPERS``, ``minimal_cover``); ``state`` holds the decision
graph's state and run settings; ``base`` and ``text`` the shared types and text tools.
"""
