"""Users' own logged conversations (OpenAI, LangChain, LangSmith) as runs of the run store."""

from typing import Literal

Format = Literal["openai", "langchain", "langsmith-export"]
FORMATS: tuple[Format, ...] = ("openai", "langchain", "langsmith-export")
