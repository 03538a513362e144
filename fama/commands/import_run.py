"""``fama import``: your own logged conversations into the run store, ready for analysis.

Examples::

    fama import chats.jsonl --format openai --run-id support-logs
    fama import traces.jsonl --format langsmith-export --feedback-key user_score --run-id ls
    fama analyze support-logs --analyst-model openai:gpt-4o-mini

Formats: ``openai`` (one conversation a line: OpenAI chat-completions ``messages``),
``langchain`` (LangChain message dicts) and ``langsmith-export`` (LangSmith runs, JSONL or a
JSON array). Each conversation needs an outcome label (success / failure, optional reason);
policy and tool schemas are optional (the policy defaults to the first system message, or
give --policy FILE). Conversations default to split ``train``, so ``fama analyze RUN_ID``
takes them all. A record that cannot be read is reported with its line number and skipped;
the others are imported (exit code 1 tells that some were skipped).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any

from fama.core.paths import DEFAULT_DB


class ImportFileError(ValueError):
    """A problem with the options or the file (reported without a traceback, exit code 2)."""


def register(subparsers: Any) -> None:
    """Add the ``import`` sub-command."""
    from fama.runs.imported import FORMATS

    parser = subparsers.add_parser(
        "import",
        help="import logged conversations (OpenAI, LangChain, LangSmith) as a run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--format", required=True, choices=FORMATS, help="the file's format")
    parser.add_argument("--run-id", required=True, help="id of the run to create")
    parser.add_argument(
        "--db", type=Path, default=DEFAULT_DB, help=f"run store (default {DEFAULT_DB})"
    )
    parser.add_argument("--policy", type=Path, help="policy text file (for every conversation)")
    parser.add_argument("--model", help="the agent model the conversations were made with")
    parser.add_argument(
        "--feedback-key",
        default="outcome",
        help="langsmith-export: the feedback whose average score labels a run (default outcome)",
    )
    parser.set_defaults(func=import_command)


def import_command(args: argparse.Namespace) -> int:
    """Import the file named by ``args``; returns the exit code."""
    from fama.runs.store import StoreError

    try:
        return _import(args)
    except ImportFileError as exc:
        print(f"fama import: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"fama import: {exc}", file=sys.stderr)
        return 1


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError(f"cannot read the {what} {path}: {exc}") from None


def _import(args: argparse.Namespace) -> int:
    from fama.benchmarks.registry import sha256_text
    from fama.runs.imported.formats import read_lines
    from fama.runs.imported.writer import (
        ImportSource,
        common_policy,
        run_config,
        save_imported_run,
    )
    from fama.runs.store import RunStore

    text = _read_text(args.file, "file")
    result = read_lines(text, args.format, args.feedback_key)
    for error in result.errors:
        print(f"fama import: {args.file} {error}", file=sys.stderr)
    conversations = result.conversations
    if not conversations:
        raise ImportFileError(f"no conversation could be read from {args.file}")
    policy, distinct = common_policy(conversations)
    if args.policy is not None:
        policy = _read_text(args.policy, "policy file")
    elif distinct > 1:
        print(
            f"note: the conversations carry {distinct} different policies; the analysts get "
            "the most common one (the others stay with their episodes); --policy FILE chooses",
            file=sys.stderr,
        )
    source = ImportSource(
        path=str(args.file),
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        format=args.format,
    )
    config = run_config(
        conversations, source, policy=policy, model=args.model, errors=result.errors
    )
    refs = (
        []
        if policy is None
        else [{"name": "imported_policy", "version": "data", "sha256": sha256_text(policy)}]
    )
    with RunStore(args.db) as store:
        existed = save_imported_run(store, args.run_id, conversations, config, refs)
    failures = sum(not c.success for c in conversations)
    verb = "re-imported" if existed else "imported"
    print(
        f"{verb} {len(conversations)} conversations ({failures} failures) into run "
        f"{args.run_id} (db {args.db})"
        + (f"; {len(result.errors)} records skipped (above)" if result.errors else "")
        + f"\n  fama analyze {args.run_id} --db {args.db} --analyst-model MODEL"
        + f"\n  fama view {args.run_id} --db {args.db}",
        file=sys.stderr,
    )
    if policy is None:
        print("note: no policy text (the analysts work without it); see --policy", file=sys.stderr)
    return 1 if result.errors else 0
