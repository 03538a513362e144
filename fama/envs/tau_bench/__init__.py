"""tau-bench v1 (sierra-research/tau-bench): retail and airline on the tau-trait v1 runtime.

The tools, the reward and the agent loop are tau-trait's (identical to v1's for these two
domains); this package adds v1's own task lists and v1's initial data and user prompt.
Behaviour follows sierra-research/tau-bench (MIT).
"""
