"""FAMA for the user's own agent: LangChain middleware, a one-call agent, run recording."""
