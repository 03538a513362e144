"""LangGraph graphs: the episode loop, the FAMA decision graph and the failure-analysis graph."""
