"""The recording of a known call, in a form the browser plays.

Only calls in the store can be served: the file is found from the call's index row
(`audio_path` under the recording root, symlinks and '..' refused), never from a path
in the request. MP3 and plain PCM WAV are served as they are; other codecs (A-law and
mu-law WAV, GSM, AMR ...) are decoded once into a 16-bit PCM WAV kept in the workspace,
so seeking works everywhere and the original is never touched.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from audit.asr.audio import decode, resolve_inside_root
from audit.errors import AudioError

# codec name (PyAV) -> content type, for what Chromium, Firefox and Safari all play as is
PLAYABLE = {"mp3": "audio/mpeg", "pcm_s16le": "audio/wav", "pcm_u8": "audio/wav"}


@dataclass(frozen=True)
class Playable:
    path: Path
    mimetype: str


def playable_audio(recording_root: Path, audio_path: str, cache_dir: Path) -> Playable:
    """The file to send for a call's `audio_path` (AudioError when missing or undecodable)."""
    src = resolve_inside_root(recording_root, audio_path)
    if not src.is_file():
        raise AudioError(f"{audio_path}: file not found under {recording_root}")
    st = src.stat()
    codec = _codec(str(src), st.st_size, st.st_mtime_ns)
    if codec in PLAYABLE:
        return Playable(src, PLAYABLE[codec])
    key = hashlib.sha256(f"{src}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:32]
    out = cache_dir / f"{key}.wav"
    with _lock(out):  # the browser asks for several ranges at once: decode once, the others wait
        if out.exists():
            os.utime(out)  # last use: the server drops copies unused for a while (app.prune_audio_cache)
        else:
            _write_wav(src, out)
    return Playable(out, "audio/wav")


_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


@lru_cache(maxsize=1024)
def _codec(path: str, size: int, mtime_ns: int) -> str:
    """The file's audio codec; cached per file state (a browser sends several range requests per play)."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError(f"{Path(path).name}: no audio stream")
            return container.streams.audio[0].codec_context.name
    except av.error.FFmpegError as exc:
        raise AudioError(f"{Path(path).name}: cannot read ({exc})") from exc


def _write_wav(src: Path, out: Path) -> None:
    """Decode at the source rate (no resampling: 8 kHz stays 8 kHz) and write 16-bit PCM, atomically."""
    import av

    with av.open(str(src), metadata_errors="ignore") as container:
        rate = container.streams.audio[0].codec_context.sample_rate or 8000
    audio = decode(src, sample_rate=rate)
    pcm = (np.clip(audio.channels, -1.0, 1.0) * 32767).astype("<i2").T.copy()  # interleaved frames
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".audio-", suffix=".wav")
    os.close(fd)
    try:
        with wave.open(tmp, "wb") as w:
            w.setnchannels(audio.n_channels)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.tobytes())
        os.replace(tmp, out)  # two requests at once: both write, the last rename wins, no half file
    finally:
        Path(tmp).unlink(missing_ok=True)
