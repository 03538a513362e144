"""Run ``llama-server`` as a child process on 127.0.0.1 for the length of a ``with`` block."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from fama.serving.cache import serving_dir
from fama.serving.child import spawn_child, stop_child

DEFAULT_CTX_SIZE = 32768
"""Total context over all slots: 16k tokens per slot, as the tau2 telecom solo prompt alone
is about 9.4k tokens (policy, ticket and 43 tools) and overflowed 8k slots."""
DEFAULT_PARALLEL = 2  # one slot (and prompt cache) each for the agent and the user simulator
DEFAULT_N_PREDICT = 2048
"""Server-side cap on generated tokens per request (``--n-predict``): a client that sends no
``max_tokens`` cannot keep a slot generating forever."""
STARTUP_TIMEOUT_S = 300.0
HEALTH_POLL_S = 0.25
PORT_ATTEMPTS = 3
LOG_TAIL_LINES = 30
LOG_KEEP_S = 7 * 24 * 3600.0


class ServerStartError(RuntimeError):
    """llama-server exited or did not become healthy in time."""


def default_threads(cores: int | None = None, busy: float | None = None) -> int:
    """CPU threads for llama-server: every core on an idle machine, else all cores but one.

    llama.cpp's threads wait for each other at every step, so when another process holds a
    core the whole server stalls. Measured on the 2-core dev machine under a load average of
    about 6 (0.5B model): 1 thread generated 14-19 tokens/s, 2 threads 1.1-1.5 tokens/s. On
    the idle machine (1.5B model) 2 threads read prompts at 71 tokens/s and generated 12
    tokens/s (medians of 161 calls), 1 thread 47 and 9 (16 calls). ``busy``: cores in use by
    other processes (default ``busy_cores()``, sampled now: a load average still counts a
    server that just exited); below half a core counts as idle.
    """
    cores = cores or os.cpu_count() or 1
    busy = busy_cores() if busy is None else busy
    return cores if busy < 0.5 else max(1, cores - 1)


def busy_cores(window_s: float = 0.25, stat: Path = Path("/proc/stat")) -> float:
    """Cores busy over a short window, from two reads of ``/proc/stat`` (Linux); without it,
    the 1-minute load average (or every core when that is missing too)."""
    try:
        first = _cpu_times(stat)
        time.sleep(window_s)
        second = _cpu_times(stat)
    except (OSError, ValueError, IndexError):
        if hasattr(os, "getloadavg"):
            return os.getloadavg()[0]
        return float(os.cpu_count() or 1)
    total = sum(second) - sum(first)
    idle = (second[3] + second[4]) - (first[3] + first[4])  # idle + iowait
    cores = os.cpu_count() or 1
    return 0.0 if total <= 0 else cores * (total - idle) / total


def _cpu_times(stat: Path) -> list[int]:
    """The aggregate ``cpu`` line of ``/proc/stat`` (user, nice, system, idle, iowait, ...)."""
    line = stat.read_text(encoding="ascii").splitlines()[0]
    if not line.startswith("cpu "):
        raise ValueError(f"unexpected first line of {stat}: {line[:40]!r}")
    return [int(value) for value in line.split()[1:]]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (chosen by the OS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_command(
    binary: Path,
    model: Path,
    *,
    host: str,
    port: int,
    threads: int,
    ctx_size: int = DEFAULT_CTX_SIZE,
    parallel: int = DEFAULT_PARALLEL,
    n_predict: int = DEFAULT_N_PREDICT,
    alias: str | None = None,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The llama-server command line (OpenAI-compatible API with the model's chat template)."""
    cmd = [
        str(binary),
        "-m",
        str(model),
        "--host",
        host,
        "--port",
        str(port),
        "-t",
        str(threads),
        "-c",
        str(ctx_size),
        "-np",
        str(parallel),
        "--n-predict",
        str(n_predict),
        "--jinja",
    ]
    if alias:
        cmd += ["--alias", alias]
    return cmd + list(extra_args)


def health_status(root_url: str, timeout_s: float = 2.0) -> str:
    """``"ok"`` when the server answers /health with status ok, else a short reason."""
    try:
        with urllib.request.urlopen(f"{root_url}/health", timeout=timeout_s) as resp:
            body = json.loads(resp.read() or b"{}")
            return "ok" if body.get("status") == "ok" else f"status {body.get('status')!r}"
    except urllib.error.HTTPError as exc:  # 503 while the model is loading
        return f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _fresh_log_path(alias: str, port: int | None) -> Path:
    """A log file under the cache's ``logs/`` (logs older than a week are removed)."""
    logs = serving_dir("logs")
    cutoff = time.time() - LOG_KEEP_S
    for old in logs.glob("llama-server-*.log"):
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < cutoff:
                old.unlink()
    return logs / f"llama-server-{alias}-{port}.log"


class LocalServer:
    """A ``llama-server`` child process; use as ``with LocalServer(binary, gguf) as srv:``.

    On entry it picks a free port on 127.0.0.1 (unless one is given), starts the server and
    waits until /health is ok; on exit it terminates the server's process group (then kills
    it if it does not stop). The server runs in its own process group and dies with the
    process that started it (``fama.serving.child``). ``base_url`` is the OpenAI-compatible
    endpoint for ChatOpenAI.
    """

    def __init__(
        self,
        binary: Path,
        model: Path,
        *,
        alias: str = "local",
        port: int | None = None,
        host: str = "127.0.0.1",
        threads: int | None = None,
        ctx_size: int = DEFAULT_CTX_SIZE,
        parallel: int = DEFAULT_PARALLEL,
        n_predict: int = DEFAULT_N_PREDICT,
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
        log_path: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.binary = binary
        self.model = model
        self.alias = alias
        self.host = host
        self.port = port
        self.threads = threads or default_threads()
        self.ctx_size = ctx_size
        self.parallel = parallel
        self.n_predict = n_predict
        self.startup_timeout_s = startup_timeout_s
        self.log_path = log_path
        self._explicit_log_path = log_path
        self.extra_args = tuple(extra_args)
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (native endpoints: /health, /completion, ...)."""
        if self.port is None:
            raise RuntimeError("the server has not been started")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, ``http://127.0.0.1:PORT/v1``."""
        return f"{self.root_url}/v1"

    @property
    def model_spec(self) -> str:
        """The ``provider:model`` string for this server's model (use with ``base_url``)."""
        return f"openai:{self.alias}"

    @property
    def pid(self) -> int | None:
        """Process id of the running server, if any."""
        return self._proc.pid if self._proc is not None else None

    def running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The command line used to start the server on the current port."""
        if self.port is None:
            raise RuntimeError("no port chosen yet")
        return server_command(
            self.binary,
            self.model,
            host=self.host,
            port=self.port,
            threads=self.threads,
            ctx_size=self.ctx_size,
            parallel=self.parallel,
            n_predict=self.n_predict,
            alias=self.alias,
            extra_args=self.extra_args,
        )

    def start(self) -> LocalServer:
        """Start the server and wait until it is healthy (retrying another port if the
        automatically chosen one was taken in the meantime)."""
        if self._proc is not None:
            raise RuntimeError("the server is already running")
        auto_port = self.port is None
        attempts = PORT_ATTEMPTS if auto_port else 1
        for attempt in range(1, attempts + 1):
            if auto_port:
                self.port = free_port(self.host)
            try:
                self._launch_and_wait()
                return self
            except ServerStartError as exc:
                self.stop()
                if attempt == attempts or "bind" not in str(exc).lower():
                    raise
            except BaseException:  # e.g. Ctrl-C while waiting: never leave the child behind
                self.stop()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _launch_and_wait(self) -> None:
        log_path = self._explicit_log_path or _fresh_log_path(self.alias, self.port)
        self.log_path = log_path
        self._log = log_path.open("wb")
        started = time.monotonic()
        self._proc = spawn_child(
            self.command(), stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        deadline = started + self.startup_timeout_s
        status = "not polled"
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                raise ServerStartError(
                    f"llama-server exited with code {code} during startup.\n{self.log_tail()}"
                )
            status = health_status(self.root_url)
            if status == "ok" and self._proc.poll() is None:  # ours, not another server
                self.startup_seconds = time.monotonic() - started
                return
            time.sleep(HEALTH_POLL_S)
        raise ServerStartError(
            f"llama-server was not healthy after {self.startup_timeout_s:.0f} s "
            f"(last /health: {status}).\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines of the server log (for error messages)."""
        if self.log_path is None or not self.log_path.exists():
            return "(no server log)"
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(text)

    def stop(self) -> None:
        """Terminate the server's process group (kill it if it ignores the request)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_child(proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
