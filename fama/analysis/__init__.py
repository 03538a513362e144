"""Failure analysis (FAMA stage 1): failed trajectories -> taxonomy -> FAMA configuration.

Entry points: ``fama.runs.analysis.analyze_episodes`` (library),
``fama.graph.analysis_graph.build_analysis_graph`` (the graph), ``fama analyze`` (CLI).
"""
