"""Speech that Whisper skipped: decode it again, on its own.

On a telephone channel Whisper sometimes jumps over a minute of speech (it emits an
end timestamp early in a window, or a repeated-token loop that the guards drop): on
a dev call the agent's whole brush-off and three further turns were simply absent.
Voice activity (Silero VAD) says where someone spoke; a stretch of speech that no
transcript segment covers is cut out, with a little padding, and decoded alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from audit.asr.transcript import Segment
from audit.asr.vad import speech_spans as vad_spans
from audit.asr.vad import uncovered

SR = 16000


@dataclass(frozen=True)
class RefillOptions:
    min_hole: float = 1.0  # speech at least this long, uncovered, is decoded again (s)
    max_covered: float = 0.3  # a speech span counts as uncovered when segments cover less than this share
    join_gap: float = 1.5  # holes closer than this are decoded together (s)
    pad: float = 0.25  # audio kept around a hole (s)


def speech_spans(samples: np.ndarray) -> list[tuple[float, float]]:
    return vad_spans(samples, SR, min_silence_ms=500, speech_pad_ms=100, min_speech_ms=300)


def _covered(a: float, b: float, segs: list[Segment]) -> float:
    total = sum(max(0.0, min(b, s.end) - max(a, s.start)) for s in segs)
    return min(1.0, total / max(b - a, 1e-9))


def thin(seg: Segment) -> bool:
    """A long segment with almost no text: what is left of a repeated-token loop ("竟竟")."""
    chars = sum(ch.isalnum() for ch in seg.text)
    return seg.end - seg.start >= 2.0 and chars / (seg.end - seg.start) < 1.0


def holes(samples: np.ndarray, segs: list[Segment], options: RefillOptions = RefillOptions()) -> list[tuple[float, float]]:
    """Stretches of speech that no segment covers (thin segments do not count), joined when close.

    A speech span counts whole when segments cover little of it; otherwise its uncovered
    parts of min_hole or more count (Whisper starting a turn two seconds late)."""
    segs = [s for s in segs if not thin(s)]
    found: list[tuple[float, float]] = []
    for a, b in speech_spans(samples):
        if _covered(a, b, segs) < options.max_covered:
            found.append((a, b))
        else:
            found += [(x, y) for x, y in uncovered(a, b, [(s.start, s.end) for s in segs]) if y - x >= options.min_hole + options.pad]
    out: list[list[float]] = []
    for a, b in found:
        if out and a - out[-1][1] < options.join_gap:
            out[-1][1] = b
        else:
            out.append([a, b])
    return [(a, b) for a, b in out if b - a >= options.min_hole]


def refill(engine, samples: np.ndarray, segs: list[Segment], clean, options: RefillOptions = RefillOptions()) -> list[Segment]:
    """segs plus what a second decode of each hole finds. `clean` is the caller's segment cleaner.
    A thin segment gives way to what the second decode heard in its place."""
    added: list[Segment] = []
    kept = [s for s in segs if not thin(s)]
    for a, b in holes(samples, segs, options):
        a0 = max(0.0, a - options.pad)
        chunk = np.ascontiguousarray(samples[int(a0 * SR) : int((b + options.pad) * SR)])
        for s in clean(engine.run(chunk, batched=False)):
            shifted = replace(
                s, start=round(s.start + a0, 2), end=round(s.end + a0, 2),
                words=tuple(replace(w, start=round(w.start + a0, 2), end=round(w.end + a0, 2)) for w in s.words),
            )
            if _covered(shifted.start, shifted.end, kept) < 0.5:  # never a second copy of what was heard
                added.append(shifted)
    # a thin segment stays only where nothing better was heard
    thin_left = [s for s in segs if thin(s) and _covered(s.start, s.end, added) < 0.3]
    return sorted(kept + thin_left + added, key=lambda s: (s.start, s.end))
