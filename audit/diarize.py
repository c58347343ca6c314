"""Mono recordings: say which segments are the agent's and which the customer's.

Two-speaker clustering on voice features (pitch and MFCC means, librosa) with
scikit-learn's KMeans; the agent is the cluster that speaks first (the greeting)
and says the greeting words. Confidence is the mean margin between the two
cluster centres, weighted by segment duration.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from audit.transcript import AGENT, CUSTOMER, Segment, split_on_pauses

# Set phrases only the agent says; each one heard is a strong vote for its cluster.
# (Not 工号: complaining callers ask for it.)
AGENT_PHRASES = re.compile(r"很高兴为您服务|有什么可以帮|还有其他|感谢您的来电|请您稍等|耐心等待|久等")
PHRASE_VOTE = 2.0
# Words a caller says too ("是国家电网吗", "我找客服"): a weak vote.
AGENT_WORDS = re.compile(r"国家电网|国网客服|客服")
FIRST_VOTE = 1.5  # inbound calls: the agent answers, so the first voice is the agent's
OPENING_S = 10.0
SHORT_PIECE_S = 1.0
PITCH_WEIGHT = 2.0
SHORT_GLUE_S = 0.45


def _gap(a: Segment, b: Segment) -> float:
    return max(b.start - a.end, a.start - b.end, 0.0)  # the agent opens the call: speech in the first seconds votes for the agent
MONO_SPLIT_GAP = 0.3  # turn changes in a mono mix are often only this far apart


def segment_features(samples: np.ndarray, sr: int, seg: Segment) -> np.ndarray | None:
    import librosa

    a, b = int(seg.start * sr), int(seg.end * sr)
    chunk = samples[a:b]
    if len(chunk) < sr // 5:
        return None
    f0 = librosa.yin(chunk, fmin=60, fmax=450, sr=sr, frame_length=1024)
    rms = librosa.feature.rms(y=chunk, frame_length=1024, hop_length=256)[0]
    n = min(len(f0), len(rms))
    voiced = f0[:n][rms[:n] > np.median(rms[:n])]
    pitch = float(np.median(np.log(voiced))) if len(voiced) else float(np.log(150))
    mfcc = librosa.feature.mfcc(y=chunk, sr=sr, n_mfcc=13).mean(axis=1)[1:]
    return np.concatenate([[pitch], mfcc])


def attribute_speakers(samples: np.ndarray, sr: int, segments: list[Segment]) -> tuple[list[Segment], float | None]:
    """Return the segments with speaker set, and a confidence in [0, 1] (None when undecidable)."""
    pieces = [p for s in segments for p in split_on_pauses(s, MONO_SPLIT_GAP)]
    if not pieces:
        return [], None
    feats = [segment_features(samples, sr, p) for p in pieces]
    ok = [i for i, f in enumerate(feats) if f is not None]
    if len(ok) < 2:
        return [replace(p, speaker=AGENT) for p in pieces], None
    from sklearn.cluster import KMeans

    X = np.stack([feats[i] for i in ok])
    X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-6)
    X[:, 0] *= PITCH_WEIGHT  # voice pitch separates two speakers best; 12 MFCCs must not outvote it
    km = KMeans(n_clusters=2, n_init=10, random_state=0).fit(X)
    labels = np.full(len(pieces), -1)
    labels[ok] = km.labels_
    dist = km.transform(X)
    margin = np.abs(dist[:, 0] - dist[:, 1]) / (dist.sum(axis=1) + 1e-9)

    for i, p in enumerate(pieces):
        if labels[i] < 0:  # too short to judge: same speaker as the nearest judged neighbour
            labels[i] = labels[min(ok, key=lambda j: abs(pieces[j].start - p.start))]
    # A short piece glued to a longer neighbour (gap < SHORT_GLUE_S) is most likely the
    # same speaker; its own voice features are too few to outvote that.
    for i, p in enumerate(pieces):
        if p.end - p.start >= SHORT_PIECE_S:
            continue
        near = [j for j in (i - 1, i + 1) if 0 <= j < len(pieces)]
        near = [j for j in near if _gap(pieces[i], pieces[j]) < SHORT_GLUE_S and pieces[j].end - pieces[j].start >= SHORT_PIECE_S]
        if near:
            labels[i] = labels[min(near, key=lambda j: _gap(pieces[i], pieces[j]))]

    # Which cluster is the agent: the first voice, the opening seconds, and the agent's set phrases.
    votes = np.zeros(2)
    votes[labels[0]] += FIRST_VOTE
    t0 = min(p.start for p in pieces)
    for i, p in enumerate(pieces):
        if p.start - t0 < OPENING_S:
            votes[labels[i]] += (p.end - p.start) / OPENING_S
        votes[labels[i]] += PHRASE_VOTE * len(AGENT_PHRASES.findall(p.text)) + len(AGENT_WORDS.findall(p.text))
    agent_label = int(np.argmax(votes))
    out = [replace(p, speaker=AGENT if labels[i] == agent_label else CUSTOMER) for i, p in enumerate(pieces)]
    durs = np.array([pieces[i].end - pieces[i].start for i in ok])
    confidence = float(np.clip((margin * durs).sum() / max(durs.sum(), 1e-9) * 2, 0, 1))
    return out, round(confidence, 3)
