"""Single-speaker pieces of a mono mix: where the voice changes, from the encoder's windows.

A turn change in a mono mix is often no pause at all (the caller starts as the agent
ends), so ASR segments, and even the stretches between word pauses, can hold two
speakers. The pieces are found from the signal:

1. Voice activity: the stretches ASR heard words in, cut at every word pause of
   PAUSE_S (a turn change is often only that far apart). Speech no word was written
   for carries nothing to attribute, and hold music or line noise stays out.
2. Windows: each stretch is tiled with windows of about WINDOW_S, one d-vector each
   (audit/asr/voices.py), over each frame of speech once (the encoder's cost).
3. Two provisional voices (k-means, k=2, over the windows' normalized vectors,
   weighted by duration). Where the windows of one stretch sit confidently on
   different voices, the stretch has a speaker change: it is cut at the widest word
   gap between the two windows (an ASR segment that runs across a change is split
   there), and each side is embedded again on its own.

What comes out is one vector per piece; `audit.asr.diarize` decides whose each piece is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from audit.asr.transcript import Segment, split_on_pauses
from audit.asr.voices import Mel, embed

PAUSE_S = 0.3
N_INIT = 4  # k-means restarts (k-means++ seeding, random_state 0); each costs ~25 ms on a call's windows
WINDOW_S = 1.2  # window of the change search; 1.6 s is the encoder's training length
MIN_WINDOW_S = 0.6  # a last window shorter than this joins the one before it
CHANGE_MARGIN = 0.06  # cos(v, voice 1) - cos(v, voice 2) beyond this, on both sides, is a change
MIN_SIDE_S = 0.4  # each side of a cut keeps at least this much speech
REFINE_S = 0.8  # the cut is placed by comparing this much speech each side of each word boundary
GAP_WEIGHT = 0.5  # margin units per second of word gap at a candidate cut (a pause is a likely turn change)


@dataclass(frozen=True)
class Piece:
    segment: Segment
    vector: np.ndarray  # unit d-vector (zeros when too short to embed)
    seconds: float  # how much speech the vector was taken from


@dataclass(frozen=True)
class Pieces:
    pieces: list[Piece]
    voices: np.ndarray | None  # the provisional two voices of the windows (unit centroids)


def _windows(a: int, b: int, size: int, least: int) -> list[tuple[int, int]]:
    """[a, b) in near-equal windows of about `size` frames (one window when short)."""
    n = max(1, int(round((b - a) / size)))
    while n > 1 and (b - a) / n < least:
        n -= 1
    edges = np.linspace(a, b, n + 1).round().astype(int)
    return list(zip(edges[:-1], edges[1:]))


def two_voices(vectors: np.ndarray, weights: np.ndarray, start: np.ndarray | None = None):
    """The unit centroids of k-means (k=2) over unit vectors, by weight; None with fewer than 2 usable.
    Fixed seed and restarts (or given starting centroids): the same vectors always give the same voices."""
    from sklearn.cluster import KMeans

    use = np.flatnonzero(weights > 0)
    if len(use) < 2:
        return None
    if start is not None:
        km = KMeans(n_clusters=2, init=start, n_init=1).fit(vectors[use], sample_weight=weights[use])
    else:
        km = KMeans(n_clusters=2, n_init=N_INIT, random_state=0).fit(vectors[use], sample_weight=weights[use])
    c = km.cluster_centers_ / np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True).clip(1e-9)
    return c


def k_voices(vectors: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """Unit centroids of k-means with k clusters (fixed seed, N_INIT restarts), over the weighted vectors."""
    from sklearn.cluster import KMeans

    use = np.flatnonzero(weights > 0)
    km = KMeans(n_clusters=k, n_init=N_INIT, random_state=0).fit(vectors[use], sample_weight=weights[use])
    return km.cluster_centers_ / np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True).clip(1e-9)


def _cut_time(seg: Segment, lo: float, hi: float, mel: Mel, c: np.ndarray, first: int) -> float | None:
    """Where between lo and hi the voice changes from voice `first` to the other: of the word
    boundaries there, the one whose REFINE_S before sounds most like the first voice and
    REFINE_S after most like the other (a word gap there counts a little too). None: no boundary."""
    cands = [((w0.end + w1.start) / 2, w1.start - w0.end) for w0, w1 in zip(seg.words, seg.words[1:])]
    cands = [(t, g) for t, g in cands if lo - 0.15 <= t <= hi + 0.15]
    if not cands:
        return None
    if len(cands) == 1:
        return cands[0][0]
    f = mel.frame
    wins = [w for t, _ in cands for w in ((f(max(seg.start, t - REFINE_S)), f(t)), (f(t), f(min(seg.end, t + REFINE_S))))]
    v = embed(mel, wins)
    m = v @ c[0] - v @ c[1]
    sign = 1 if first == 0 else -1
    score = [sign * (m[2 * k] - m[2 * k + 1]) + GAP_WEIGHT * min(g, 0.3) for k, (_, g) in enumerate(cands)]
    return cands[int(np.argmax(score))][0]


def split_at(seg: Segment, t: float) -> tuple[Segment, Segment] | None:
    """seg cut at time t between its words (None if one side would be empty)."""
    left = tuple(w for w in seg.words if (w.start + w.end) / 2 < t)
    right = tuple(w for w in seg.words if (w.start + w.end) / 2 >= t)
    if not left or not right:
        return None
    mk = lambda ws: replace(seg, start=ws[0].start, end=ws[-1].end, text="".join(w.text for w in ws).strip(), words=ws)
    return mk(left), mk(right)


def _piece_vector(vecs: np.ndarray, lens: np.ndarray) -> np.ndarray:
    v = (vecs * lens[:, None]).sum(axis=0)
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def single_speaker_pieces(segments: list[Segment], mel: Mel) -> Pieces:
    """The segments cut at pauses and at voice changes, each with its d-vector."""
    stretches = [p for s in segments for p in split_on_pauses(s, PAUSE_S) if p.text]
    size, least = int(WINDOW_S / 0.01), int(MIN_WINDOW_S / 0.01)
    wins, owner = [], []
    for k, s in enumerate(stretches):
        a, b = mel.frame(s.start), min(mel.frame(s.end), len(mel.frames))
        if b - a < 2:
            continue
        for w in _windows(a, b, size, least):
            wins.append(w)
            owner.append(k)
    if not wins:
        return Pieces([Piece(s, np.zeros(256, np.float32), 0.0) for s in stretches], None)
    vecs = embed(mel, wins)
    lens = np.array([(b - a) * 0.01 for a, b in wins])
    owner = np.array(owner)
    centroids = two_voices(vecs, lens * (lens >= MIN_WINDOW_S))
    out: list[Piece] = []
    redo: list[int] = []  # pieces cut in two: embedded again, each side alone
    for k, s in enumerate(stretches):
        mine = np.flatnonzero(owner == k)
        if not len(mine):
            out.append(Piece(s, np.zeros(256, np.float32), 0.0))
            continue
        parts = [s]
        if centroids is not None and len(mine) >= 2 and len(s.words) >= 2:
            parts = _split_on_voice(s, vecs[mine], [wins[i] for i in mine], centroids, mel)
        if len(parts) == 1:
            out.append(Piece(s, _piece_vector(vecs[mine], lens[mine]), float(lens[mine].sum())))
        else:
            for p in parts:
                redo.append(len(out))
                out.append(Piece(p, np.zeros(256, np.float32), 0.0))
    if redo:
        spans = [(mel.frame(out[i].segment.start), min(mel.frame(out[i].segment.end), len(mel.frames))) for i in redo]
        sub = [(i, w) for i, (a, b) in zip(redo, spans) if b - a >= 2 for w in _windows(a, b, int(1.6 / 0.01), least)]
        v2 = embed(mel, [w for _, w in sub])
        l2 = np.array([(b - a) * 0.01 for _, (a, b) in sub])
        who = np.array([i for i, _ in sub])
        for i in redo:
            m = np.flatnonzero(who == i)
            if len(m):
                out[i] = replace(out[i], vector=_piece_vector(v2[m], l2[m]), seconds=float(l2[m].sum()))
    return Pieces(out, centroids)


def _split_on_voice(seg: Segment, vecs: np.ndarray, wins: list[tuple[int, int]], c: np.ndarray, mel: Mel) -> list[Segment]:
    """seg cut wherever its windows change voice with confidence (recursively, left to right)."""
    margin = vecs @ c[0] - vecs @ c[1]
    side = np.where(margin > CHANGE_MARGIN, 0, np.where(margin < -CHANGE_MARGIN, 1, -1))
    sure = [j for j in range(len(side)) if side[j] >= 0]
    for j0, j1 in zip(sure, sure[1:]):
        if side[j0] != side[j1]:
            lo = (wins[j0][0] + wins[j0][1]) / 2 * 0.01
            hi = (wins[j1][0] + wins[j1][1]) / 2 * 0.01
            t = _cut_time(seg, lo, hi, mel, c, int(side[j0]))
            halves = split_at(seg, t if t is not None else wins[j1][0] * 0.01)
            if halves is None or min(h.end - h.start for h in halves) < MIN_SIDE_S:
                continue
            left, right = halves
            rest = [j for j in range(len(wins)) if wins[j][0] * 0.01 >= right.start - 0.05]
            tail = [right]
            if len(rest) >= 2 and len(right.words) >= 2:
                tail = _split_on_voice(right, vecs[rest], [wins[j] for j in rest], c, mel)
            return [left, *tail]
    return [seg]
