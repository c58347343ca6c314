"""Decode recordings into 16 kHz float32 channels (PyAV's bundled ffmpeg: WAV PCM/A-law/mu-law, MP3, ...).

Nothing here knows about Whisper; transcription and acoustic measures import this.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audit.errors import AudioError

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Audio:
    """A decoded recording: `channels` is (n_channels, n_samples) float32 at SAMPLE_RATE."""

    channels: np.ndarray
    sample_rate: int
    source_rate: int
    codec: str
    sha256: str

    @property
    def n_channels(self) -> int:
        return self.channels.shape[0]

    @property
    def duration(self) -> float:
        return self.channels.shape[1] / self.sample_rate

    @property
    def mono(self) -> np.ndarray:
        return self.channels.mean(axis=0).astype(np.float32) if self.n_channels > 1 else self.channels[0]


def resolve_inside_root(root: Path, relative: str) -> Path:
    """The real path of an index entry, refusing anything that escapes root ('..', absolute paths, symlinks)."""
    root_real = Path(os.path.realpath(root))
    real = Path(os.path.realpath(root_real / relative))
    if real != root_real and root_real not in real.parents:
        raise AudioError(f"{relative}: resolves to {real}, outside the recording root {root_real}")
    return real


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def decode(path: Path, sample_rate: int = SAMPLE_RATE) -> Audio:
    """Decode every channel of a recording, resampled to sample_rate. Raises AudioError naming the file."""
    import av

    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path.name}: file not found ({path})")
    size = path.stat().st_size
    if size == 0:
        raise AudioError(f"{path.name}: empty file (0 bytes)")
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError(f"{path.name}: no audio stream")
            stream = container.streams.audio[0]
            n_in = stream.codec_context.channels or 1
            layout = "stereo" if n_in >= 2 else "mono"
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
            chunks = []
            for frame in container.decode(stream):
                frame.pts = None
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
            codec, source_rate = stream.codec_context.name, stream.codec_context.sample_rate
    except AudioError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise AudioError(f"{path.name}: cannot decode ({type(exc).__name__}: {exc})") from exc
    if not chunks:
        raise AudioError(f"{path.name}: no audio samples decoded (truncated or unsupported codec)")
    data = np.concatenate(chunks, axis=1).astype(np.float32)
    if data.shape[1] < sample_rate // 10:
        raise AudioError(f"{path.name}: only {data.shape[1] / sample_rate:.2f} s of audio decoded")
    return Audio(data, sample_rate, int(source_rate or 0), str(codec), file_sha256(path))


def probe_duration(path: Path) -> float:
    """Duration in seconds from the container header, decoding only when the header has none."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if container.duration:
                return container.duration / 1_000_000
    except av.error.FFmpegError as exc:
        raise AudioError(f"{Path(path).name}: cannot read ({exc})") from exc
    return decode(path).duration
