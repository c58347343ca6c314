"""Trainer clips: the audio around each flag, with a sidecar holding the transcript excerpt and the flag."""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audit.errors import AudioError
from audit.text.masking import MASK_VERSION, mask_numbers, mask_texts

log = logging.getLogger("audit")


@dataclass(frozen=True)
class ClipOptions:
    padding: float = 3.0  # seconds kept before and after the flag
    fmt: str = "mp3"  # mp3 or wav
    channels: str = "both"  # both, or "speaker": only the flagged speaker's channel (stereo)
    mask: bool = True


def _pydub():
    import warnings

    import imageio_ffmpeg

    with warnings.catch_warnings():  # pydub warns when no system ffmpeg is on PATH; we bring our own
        warnings.simplefilter("ignore", RuntimeWarning)
        from pydub import AudioSegment

    AudioSegment.converter = imageio_ffmpeg.get_ffmpeg_exe()
    return AudioSegment


def load_segment(path: Path):
    """Decode with PyAV (no ffprobe needed) into a pydub AudioSegment for cutting and export."""
    from audit.asr.audio import decode

    AudioSegment = _pydub()
    audio = decode(path)
    pcm = (np.clip(audio.channels.T, -1.0, 1.0) * 32767).astype("<i2")
    return AudioSegment(pcm.tobytes(), sample_width=2, frame_rate=audio.sample_rate, channels=audio.n_channels)


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", str(name))[:80]


def clip_name(flag) -> str:
    at = "x" if flag.start is None or pd.isna(flag.start) else f"{float(flag.start):07.1f}"
    return f"{_safe(flag.call_id)}_{_safe(flag.category)}_{at}"


def cut_clips(
    flags: pd.DataFrame, calls: pd.DataFrame, recording_root: Path, out_dir: Path, transcripts: dict[str, dict],
    options: ClipOptions = ClipOptions(),
) -> tuple[dict[str, Path], list[str]]:
    """Write one clip (+ .json sidecar) per flag with a time; returns flag_key -> clip path, and problems.

    Clips go to out_dir/<agent>/. An existing clip is kept (reruns are cheap and never half-write:
    each file is written to a temp name and renamed)."""
    from audit.asr.audio import resolve_inside_root

    made: dict[str, Path] = {}
    problems: list[str] = []
    timed = flags[flags["start"].notna()]
    for call_id, group in timed.groupby("call_id"):
        call = calls.loc[call_id]
        agent_dir = out_dir / _safe(call["agent_id"])
        todo = [(f, agent_dir / f"{clip_name(f)}.{options.fmt}") for f in group.itertuples(index=False)]
        if all(p.exists() and _sidecar_current(p.with_suffix(".json"), options.mask) for _, p in todo):
            made.update({f.flag_key: p for f, p in todo})
            continue
        try:
            src = resolve_inside_root(recording_root, call["audio_path"])
            audio = load_segment(src)
        except (AudioError, OSError) as exc:
            problems.append(f"{call_id}: cannot cut clips ({exc})")
            continue
        agent_dir.mkdir(parents=True, exist_ok=True)
        for stale in agent_dir.glob(".clip-*"):  # left by a killed run (callers hold the report lock)
            stale.unlink(missing_ok=True)
        segs = (transcripts.get(call_id) or {}).get("segments", [])
        # masked over the whole call: a number split across segments, or cut by the clip window, is still caught
        texts = mask_texts([s["text"] for s in segs]) if options.mask else [s["text"] for s in segs]
        for f, path in todo:
            a = max(0.0, float(f.start) - options.padding)
            b = min(len(audio) / 1000, float(f.end if f.end is not None and not pd.isna(f.end) else f.start) + options.padding)
            piece = audio[int(a * 1000) : int(b * 1000)]
            if options.channels == "speaker" and audio.channels == 2:
                piece = piece.split_to_mono()[0 if f.speaker == "agent" else 1]
            excerpt = [
                {"speaker": s["speaker"], "start": s["start"], "end": s["end"], "text": text}
                for s, text in zip(segs, texts) if s["end"] >= a and s["start"] <= b
            ]
            side = {
                "flag_key": f.flag_key, "call_id": call_id, "agent_id": call["agent_id"], "category": f.category,
                "rule_id": f.rule_id, "severity": f.severity, "start": f.start, "end": f.end,
                "evidence": mask_numbers(f.evidence or "") if options.mask else f.evidence,
                "clip_start_in_call": round(a, 2), "transcript": excerpt,
                "masking": MASK_VERSION if options.mask else None,
            }
            _write_atomic(path, lambda tmp: piece.export(tmp, format=options.fmt))
            _write_atomic(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(json.dumps(side, ensure_ascii=False, indent=1), encoding="utf-8"))
            made[f.flag_key] = path
    return made, problems


def _sidecar_current(path: Path, mask: bool) -> bool:
    """A sidecar written with older masking (or another mask_pii setting) is cut again."""
    try:
        side = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return side.get("masking") == (MASK_VERSION if mask else None)


def _write_atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".clip-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
