"""Voices as vectors: the trained GE2E speaker encoder that ships inside the Resemblyzer wheel.

`resemblyzer/pretrained.pt` (17 MB, Apache-2.0) is a 3-layer LSTM over 40-band mel frames
(25 ms windows, 10 ms hop, 16 kHz) whose last state, through a linear layer, ReLU and L2
norm, is a 256-dimensional d-vector: two stretches of one voice point the same way, two
voices apart. It was trained on many speakers, so unlike features fitted per call it tells
apart timbre as well as pitch. Nothing is downloaded: the weights are read from the
installed wheel.

Only the network is used (`resemblyzer.voice_encoder`); its mel front end is computed
here with numpy (the same filters and frames as `resemblyzer.audio`, checked by a test),
over the whole call once, normalized to the level the encoder was trained at (-30 dBFS
over its speech) instead of per piece.

One encoder per process (`encoder()`, cached): a worker loads it on its first mono call
and reuses it. It runs on one torch thread whatever the machine has, so embeddings (and
with them the attribution) depend only on audio and model, and attribution stays within
its time budget on one core (benchmarks/attribution_bench.py --speed).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SR = 16000
HOP_S = 0.01  # one mel frame per 10 ms
TARGET_DBFS = -30.0  # the level the encoder's training audio was normalized to
TORCH_THREADS = 1


@lru_cache(maxsize=1)
def encoder():
    """The GE2E network on CPU, in eval mode (loaded once per process)."""
    import torch
    from resemblyzer.voice_encoder import VoiceEncoder

    with _one_thread(torch):
        enc = VoiceEncoder(device="cpu", verbose=False)
    return enc.eval()


class _one_thread:
    """torch's intra-op pool at TORCH_THREADS while the block runs, then as it was."""

    def __init__(self, torch):
        self.torch = torch

    def __enter__(self):
        self.before = self.torch.get_num_threads()
        self.torch.set_num_threads(TORCH_THREADS)

    def __exit__(self, *exc):
        self.torch.set_num_threads(self.before)


@dataclass(frozen=True)
class Mel:
    """The call's mel frames (frames x 40), at the encoder's level."""

    frames: np.ndarray

    def frame(self, t: float) -> int:
        return int(round(t / HOP_S))


N_FFT, HOP, N_MELS = 400, 160, 40  # the encoder's front end: 25 ms windows, 10 ms hop, 40 bands


def _hz_to_mel(f):
    """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27.0), lin)


def _mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


@lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """(40, 201) Slaney-normalized triangular filters, as librosa.filters.mel(sr=16000, n_fft=400,
    n_mels=40) builds them (tests/test_voices.py checks it): computed here, because librosa's
    first call costs seconds of lazy loading in every worker."""
    fft_f = np.linspace(0, SR / 2, 1 + N_FFT // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SR / 2), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_f)
    lower = -ramps[:N_MELS] / fdiff[:N_MELS, None]
    upper = ramps[2:] / fdiff[1:, None]
    w = np.maximum(0, np.minimum(lower, upper))
    return w * (2.0 / (mel_f[2:] - mel_f[:N_MELS]))[:, None]


def mel_frames(x: np.ndarray) -> np.ndarray:
    """Power mel spectrogram (frames x 40) of 16 kHz samples, centred frames, zero padded
    (what resemblyzer.audio.wav_to_mel_spectrogram gives, without librosa)."""
    x = np.pad(np.asarray(x, dtype=np.float32), N_FFT // 2)
    n = 1 + (len(x) - N_FFT) // HOP
    if n <= 0:
        return np.zeros((0, N_MELS), np.float32)
    frames = np.lib.stride_tricks.as_strided(x, (n, N_FFT), (x.strides[0] * HOP, x.strides[0]))
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann
    out = np.empty((n, N_MELS), np.float32)
    fb = mel_filters().T.astype(np.float32)
    for k in range(0, n, 4096):  # in blocks: an hour of audio does not need its whole spectrum at once
        spec = np.abs(np.fft.rfft(frames[k:k + 4096] * window, axis=1)) ** 2
        out[k:k + 4096] = spec.astype(np.float32) @ fb
    return out


def call_mel(samples: np.ndarray, speech: list[tuple[float, float]]) -> Mel:
    """Mel frames of the whole call, scaled so that its speech sits at TARGET_DBFS."""
    x = np.asarray(samples, dtype=np.float32)
    parts = [x[int(a * SR): int(b * SR)] for a, b in speech]
    voiced = np.concatenate(parts) if parts and sum(map(len, parts)) > SR // 10 else x
    rms = float(np.sqrt(np.mean(voiced.astype(np.float64) ** 2))) if len(voiced) else 0.0
    gain = 10 ** (TARGET_DBFS / 20) / rms if rms > 1e-6 else 1.0
    return Mel(mel_frames(x * np.float32(gain)))


def embed(mel: Mel, windows: list[tuple[int, int]], batch: int = 256) -> np.ndarray:
    """One d-vector (unit length) per window of mel frames [a, b); rows of zeros for empty windows.

    Windows of different lengths go through the LSTM packed, so each one's vector is the
    state at its own last frame (no padding seen)."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

    enc = encoder()
    out = np.zeros((len(windows), 256), dtype=np.float32)
    todo = [(i, a, b) for i, (a, b) in enumerate(windows) if b - a >= 2]
    todo.sort(key=lambda w: w[2] - w[1])  # similar lengths together: less padding per batch
    with torch.no_grad(), _one_thread(torch):
        for k in range(0, len(todo), batch):
            chunk = todo[k: k + batch]
            seqs = [torch.from_numpy(np.ascontiguousarray(mel.frames[a:b])) for _, a, b in chunk]
            lengths = torch.tensor([len(s) for s in seqs])
            packed = pack_padded_sequence(pad_sequence(seqs, batch_first=True), lengths, batch_first=True,
                                          enforce_sorted=False)
            _, (hidden, _) = enc.lstm(packed)
            raw = enc.relu(enc.linear(hidden[-1]))
            vec = raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-9)
            out[[i for i, _, _ in chunk]] = vec.numpy()
    return out
