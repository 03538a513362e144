"""No path escapes: output folders from run ids, the one-page server, temp files (issue 12)."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fama.cli import main
from fama.commands import analyze
from fama.core.paths import safe_name
from fama.runs.store import EpisodeRecord, RunStore
from fama.view import make_server
from fama.view.render import write_html
from tests.test_taxonomy import cancel_without_confirmation, parse, two_episode_router

ESCAPING_ID = "../../escape"


def make_store(path: Path, run_id: str) -> Path:
    episode = cancel_without_confirmation()
    with RunStore(path) as store:
        store.create_or_resume_run(
            run_id, {"env": "tau2:retail", "domain": "retail", "model": "openai:small"}, []
        )
        store.save_episode(
            run_id,
            EpisodeRecord(
                run_id=run_id,
                task_id=episode.task_id,
                trial=0,
                domain="retail",
                split="train",
                status="done",
                termination="user_stop",
                reward=0.0,
                reward_info=dict(episode.reward_info),
                records=list(episode.records),
            ),
        )
    return path


def test_safe_name_keeps_a_run_id_inside_its_folder() -> None:
    assert safe_name("../../x") == "_.._x"
    assert safe_name("/etc/passwd") == "_etc_passwd"
    assert safe_name("..") == "run" and safe_name("ok-run_1.2") == "ok-run_1.2"


def test_analyze_default_output_stays_in_fama_analysis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    db = make_store(tmp_path / "runs.sqlite", ESCAPING_ID)
    monkeypatch.chdir(work)
    model = two_episode_router().model(14)
    parser_args = ["analyze", ESCAPING_ID, "--db", str(db), "--no-propose", "--split", "all"]
    parser_args += ["--analyst-model", "openai:analyst"]
    assert analyze.analyze_command(parse(parser_args), model_factory=lambda spec: model) == 0
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.json"))
    assert written == [
        Path("a/b/fama-analysis/_.._escape/fama_config.json"),
        Path("a/b/fama-analysis/_.._escape/taxonomy.json"),
    ]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    site = tmp_path / "site"
    site.mkdir()
    page = site / "run.html"
    page.write_text("<html>the page</html>")
    (site / "secret.txt").write_text("do not serve")
    server = make_server(page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1]), page
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def get(port: int, path: str, host: str | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Host": host} if host is not None else {}
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    return response.status, body


@pytest.mark.enable_socket
def test_the_view_server_serves_only_its_page_to_its_own_host(served: tuple[int, Path]) -> None:
    port, _ = served
    assert get(port, "/run.html") == (200, "<html>the page</html>")
    assert get(port, "/?x=1") == (200, "<html>the page</html>")
    for path in ("/secret.txt", "/../secret.txt", "/site/", "//etc/passwd", "/run.html/x"):
        assert get(port, path)[0] == 404, path
    for host in (f"evil.example:{port}", f"localhost:{port}", "127.0.0.1", "127.0.0.1:1"):
        assert get(port, "/run.html", host=host)[0] == 403, host


def test_view_into_a_folder_writes_the_default_name_and_no_temp_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = make_store(tmp_path / "runs.sqlite", "r1")
    out = tmp_path / "pages"
    out.mkdir()
    assert main(["view", "r1", "--db", str(db), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["r1-data", "r1.html"]
    assert [p.name for p in (out / "r1-data").iterdir()] == ["episodes-00000.js"]
    with pytest.raises(IsADirectoryError):
        write_html("<html></html>", out)  # a folder as the file: nothing is left behind
    assert not list(tmp_path.rglob("*.tmp"))
