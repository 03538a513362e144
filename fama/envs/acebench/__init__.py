"""ACEBench agent categories (``agent_multi_turn``, ``agent_multi_step``), English and Chinese.

Behaviour follows chenchen0103/ACEBench (MIT): the five API classes, the executor's dispatch,
state capture and the official end-to-end / process scoring.
"""
