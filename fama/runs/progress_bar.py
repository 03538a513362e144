"""A live one-line progress bar with rate and ETA for a terminal (``tqdm``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from tqdm import tqdm

if TYPE_CHECKING:
    from fama.runs.runner import RunSummary


class ProgressBar:
    """``[run] 5/8 episodes [|||   ] 62% 00:05<00:03, 1.2 ep/s, 4 ok, 1 infra, 0 errors``.

    Episodes stored before the run started count as done but not in the rate or the ETA.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._bar: tqdm[None] | None = None

    def update(self, summary: RunSummary, *, final: bool = False) -> None:
        """Show the counts of ``summary``; ``final`` leaves the bar on its own line."""
        if self._bar is None:
            self._bar = tqdm(
                total=summary.total,
                initial=summary.skipped,
                desc=f"[{summary.run_id}]",
                unit="ep",
                file=self._stream,
                dynamic_ncols=True,
                mininterval=0.0,
                leave=True,
            )
        self._bar.n = summary.skipped + summary.finished
        self._bar.set_postfix_str(
            f"{summary.successes} ok, {summary.infra_errors} infra, {summary.errors} errors",
            refresh=False,
        )
        self._bar.refresh()
        if final:
            self._bar.close()
            self._bar = None
