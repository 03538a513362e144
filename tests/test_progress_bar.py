"""The runner's progress: a live bar with rate and ETA on a terminal."""

from __future__ import annotations

import io
import re

from fama.runs.runner import Progress, RunSummary


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_live_bar_with_eta() -> None:
    stream = Terminal()
    progress = Progress(stream)
    assert progress.tick_s == 1.0
    summary = RunSummary(run_id="r", total=8, skipped=2)
    progress.update(summary)
    summary.finished, summary.successes, summary.infra_errors = 3, 4, 1
    progress.update(summary)
    progress.update(summary, final=True)
    text = stream.getvalue()
    frames = [f for f in re.split(r"[\r\n]", text) if f.strip()]
    assert frames[0].startswith("[r]") and "2/8" in frames[0]
    last = frames[-1]
    assert "5/8" in last and "62%" in last and "4 ok, 1 infra, 0 errors" in last
    assert re.search(r"\d\d:\d\d<\d\d:\d\d", last)  # elapsed<remaining (the ETA)
    assert text.endswith("\n") and text.count("\n") == 1  # one line, kept at the end
    assert "episodes |" not in text  # not the plain periodic line


def test_no_bar_when_disabled_or_not_a_terminal() -> None:
    summary = RunSummary(run_id="r", total=2, finished=1)
    quiet = Terminal()
    Progress(quiet, enabled=False).update(summary, final=True)
    assert quiet.getvalue() == ""
    plain = io.StringIO()
    Progress(plain).update(summary, final=True)
    assert plain.getvalue().startswith("[r] 1/2 episodes |")
