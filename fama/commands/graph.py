"""``fama graph``: draw an agent's episode graph as Mermaid text or a PNG (offline).

``--agent fama`` shows the episode loop with the FAMA decision graph expanded inside the
``agent`` node (orchestrator, mitigation, the helpers, the tool-use node and the decision
verifier); ``fc`` and ``react`` show the baseline loops. Mermaid text comes from
``draw_mermaid()``; PNG needs pygraphviz (``pip install 'fama[graph-png]'``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

AGENTS = ("fama", "fc", "react")
FORMATS = ("mermaid", "png")


def register(subparsers: Any) -> None:
    """Add the ``graph`` sub-command."""
    parser = subparsers.add_parser(
        "graph",
        help="draw an agent's graph (Mermaid text or PNG)",
        description="Draw the episode graph of an agent. With --agent fama the FAMA decision "
        "graph is expanded inside the agent node. PNG output needs pygraphviz "
        "(pip install 'fama[graph-png]').",
    )
    parser.add_argument("--agent", choices=AGENTS, default="fama", help="(default fama)")
    parser.add_argument("--format", choices=FORMATS, default="mermaid", help="(default mermaid)")
    parser.add_argument(
        "-o", "--output", type=Path, help="output file (default: stdout; required for png)"
    )
    parser.set_defaults(func=graph_command)


def agent_graph(agent: str) -> CompiledStateGraph[Any]:
    """The compiled episode graph of an agent kind, for drawing."""
    from fama.graph.episode import build_episode_graph

    if agent == "fc":
        return build_episode_graph().compile(name="episode")
    if agent == "react":
        from fama.nodes.react_agent import react_agent_node

        return build_episode_graph(react_agent_node).compile(name="episode")
    if agent == "fama":
        from fama.graph.decision import FamaDecisions

        # The drawing does not depend on the mode: every helper node is always in the graph.
        return build_episode_graph(FamaDecisions()).compile(name="episode")
    raise ValueError(f"unknown agent {agent!r} (choose from {', '.join(AGENTS)})")


def mermaid(agent: str) -> str:
    """The Mermaid text of an agent's graph (subgraphs expanded)."""
    return agent_graph(agent).get_graph(xray=True).draw_mermaid()


def graph_command(args: argparse.Namespace) -> int:
    """Write the drawing; exit code 2 when PNG drawing is impossible."""
    if args.format == "mermaid":
        text = mermaid(args.agent)
        if args.output is None:
            sys.stdout.write(text)
        else:
            args.output.write_text(text, encoding="utf-8")
        return 0
    if args.output is None:
        print("fama graph: --format png needs -o FILE", file=sys.stderr)
        return 2
    try:
        import pygraphviz  # noqa: F401
    except ImportError:
        print(
            "fama graph: PNG drawing needs pygraphviz, which is not installed. Install it with "
            "pip install 'fama[graph-png]', or use --format mermaid.",
            file=sys.stderr,
        )
        return 2
    agent_graph(args.agent).get_graph(xray=True).draw_png(str(args.output))
    return 0
