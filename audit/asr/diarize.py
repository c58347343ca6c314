"""Mono recordings: say which stretches of speech are the agent's and which the customer's.

Clustering voice features alone (the approach this module had) fails on voices it was
not fitted to: on a call whose caller spoke higher than the agent it put the whole call
on one side, and unsupervised clusters of short pieces follow what is said as readily
as who says it. So attribution uses both:

1. Pieces: ASR segments cut at every word pause of MONO_SPLIT_GAP (a turn change in a
   mono mix is often only that far apart).
2. Voice: per piece, the median log pitch of its louder frames and the mean of 19 MFCCs,
   from whole-call tracks (librosa).
3. What is said: set phrases only agents say (greeting, 请您稍等, 感谢您的来电, asking for
   the 户号), and what callers say (我家, 你们, 我想问 ...), give seed pieces on each side.
4. A shrinkage LDA (scikit-learn) learns the two voices from the seeds, labels every
   piece, learns again from its confident labels, and a two-state Viterbi pass over the
   pieces keeps short pieces with their neighbours (a speaker change costs more across
   a short pause than across a long one).
Without seeds on both sides it falls back to two-cluster KMeans, the first voice being
the agent's. Confidence: how far the pieces sit from the boundary, times how many seeds
ended up on their own side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from audit.text.textmatch import Pattern
from audit.asr.transcript import AGENT, CUSTOMER, Segment, split_on_pauses

MONO_SPLIT_GAP = 0.3
HOP = 160  # 10 ms frames at 16 kHz

# Said by agents, hardly ever by callers (not 工号: complaining callers ask for it).
AGENT_CUES = re.compile(
    r"很高兴为您服务|欢迎|有什么可以帮|有什么能帮|请问您|请问有什么|还有其他|还有别的|感谢您的来电|感谢来电|请您稍等|稍等|耐心等待|久等|"
    r"帮您|为您|给您|麻烦您|您的户号|户号是多少|提供一下|报一下|联系电话|您贵姓|请您|您好|客服|话务员|工号|您看|您反映|我这边"
)
# Said by callers, hardly ever by agents.
CUSTOMER_CUES = re.compile(
    r"我家|我们家|俺|你们|我想问|我想办|我要|咋|喂|你好啊|我问一下|我是.{0,6}的(?!话务员)|谢谢你|姑娘|闺女|同志|师傅|"
    r"为什么|怎么回事|我还以为|我昨天|我今天|没了|没有了|那就好"
)
# The agent's set phrases as they sound: the greeting is what ASR garbles most (克服 for 客服,
# 华务员 for 话务员, 公电服务热线), and a call whose greeting is not recognized loses its seeds.
AGENT_SOUNDS = Pattern(phrases=("客服", "话务员", "欢迎致电", "供电服务热线", "很高兴为您服务", "请问有什么",
                                "感谢您的来电", "请您稍等"), pinyin=True)
SEED_MIN_S = 0.8


@dataclass(frozen=True)
class Tracks:
    log_f0: np.ndarray
    rms: np.ndarray
    mfcc: np.ndarray  # (19, frames)


def tracks(samples: np.ndarray, sr: int) -> Tracks:
    import librosa

    f0 = librosa.yin(samples, fmin=70, fmax=500, sr=sr, frame_length=1024, hop_length=HOP)
    rms = librosa.feature.rms(y=samples, frame_length=1024, hop_length=HOP)[0]
    mfcc = librosa.feature.mfcc(y=samples, sr=sr, n_mfcc=20, hop_length=HOP)[1:]
    n = min(len(f0), len(rms), mfcc.shape[1])
    return Tracks(np.log(f0[:n]), rms[:n], mfcc[:, :n])


def piece_features(t: Tracks, sr: int, seg: Segment) -> np.ndarray | None:
    a, b = int(seg.start * sr / HOP), int(seg.end * sr / HOP)
    if b - a < 15:
        return None
    loud = t.rms[a:b] > np.median(t.rms[a:b])
    if loud.sum() < 5:
        return None
    return np.concatenate([[np.median(t.log_f0[a:b][loud])], t.mfcc[:, a:b][:, loud].mean(axis=1)])


def cue_vote(text: str) -> int:
    """+ for agent phrasing (also when only its sound was heard), - for caller phrasing."""
    sounds = sum(h.how == "pinyin" for h in AGENT_SOUNDS.hits(text))
    return len(AGENT_CUES.findall(text)) + sounds - len(CUSTOMER_CUES.findall(text))


def _viterbi(p_agent: np.ndarray, pieces: list[Segment]) -> np.ndarray:
    """Most likely speaker sequence: emissions from p_agent, a change costs more after a short pause."""
    eps = 1e-3
    emit = np.log(np.stack([1 - p_agent, p_agent], axis=1).clip(eps, 1 - eps))  # column 1 = agent
    n = len(pieces)
    score = emit[0].copy()
    back = np.zeros((n, 2), dtype=int)
    for i in range(1, n):
        gap = max(0.0, pieces[i].start - pieces[i - 1].end)
        change = -2.0 if gap < 0.2 else (-1.0 if gap < 0.6 else -0.3)
        new = np.empty(2)
        for s in (0, 1):
            stay, switch = score[s], score[1 - s] + change
            back[i, s] = s if stay >= switch else 1 - s
            new[s] = max(stay, switch) + emit[i, s]
        score = new
    path = np.zeros(n, dtype=int)
    path[-1] = int(np.argmax(score))
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def _lda_probs(X: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(X[idx], y[idx])
    return lda.predict_proba(X)[:, list(lda.classes_).index(1)]


PITCH_WEIGHT = 2.0  # pitch tells two voices apart best; 19 MFCCs must not outvote it
MIN_SEEDS = 3


def _two_voices(X: np.ndarray):
    """Two voice clusters over the standardized features: (fitted KMeans, the features it saw)."""
    from sklearn.cluster import KMeans

    Z = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-6)
    Z[:, 0] *= PITCH_WEIGHT
    return KMeans(n_clusters=2, n_init=10, random_state=0).fit(Z), Z


def _kmeans_probs(km, Z: np.ndarray, pieces: list[Segment], ok: list[int]) -> np.ndarray:
    """Fallback: the cluster of the first voice and of the agent phrases is the agent."""
    votes = np.zeros(2)
    votes[km.labels_[0]] += 1.5
    for j, i in enumerate(ok):
        votes[km.labels_[j]] += cue_vote(pieces[i].text)
    agent = int(np.argmax(votes))
    d = km.transform(Z)
    return 1 / (1 + np.exp(d[:, agent] - d[:, 1 - agent]))


def _complete_seeds(km, Z: np.ndarray, seed: np.ndarray, long_enough: np.ndarray) -> None:
    """One side said too little that gives it away (a caller who never says 我家 or 你们): of the
    two voice clusters, the one holding most of the other side's seeds is theirs, and the most
    typical long pieces of the remaining cluster become this side's seeds."""
    for have, lack in ((1, 0), (0, 1)):
        if (seed == have).sum() >= MIN_SEEDS and (seed == lack).sum() < MIN_SEEDS:
            theirs = np.bincount(km.labels_[seed == have], minlength=2).argmax()
            other = 1 - theirs
            free = np.flatnonzero((seed < 0) & long_enough & (km.labels_ == other))
            if len(free) < MIN_SEEDS:
                return
            d = km.transform(Z)[free, other]
            seed[free[np.argsort(d)][: max(MIN_SEEDS, len(free) // 3)]] = lack
            return


def attribute_speakers(samples: np.ndarray, sr: int, segments: list[Segment]) -> tuple[list[Segment], float | None]:
    """Return the pieces with speaker set, and a confidence in [0, 1] (None when undecidable)."""
    pieces = [p for s in segments for p in split_on_pauses(s, MONO_SPLIT_GAP)]
    if not pieces:
        return [], None
    t = tracks(samples, sr)
    feats = [piece_features(t, sr, p) for p in pieces]
    ok = [i for i, f in enumerate(feats) if f is not None]
    if len(ok) < 4:
        return [replace(p, speaker=AGENT) for p in pieces], None
    X = np.stack([feats[i] for i in ok])
    votes = np.array([cue_vote(pieces[i].text) for i in ok])
    long_enough = np.array([pieces[i].end - pieces[i].start >= SEED_MIN_S for i in ok])
    seed = np.zeros(len(ok), dtype=int) - 1
    seed[(votes > 0) & long_enough] = 1
    seed[(votes < 0) & long_enough] = 0
    if ok[0] == 0 and pieces[0].start < 10.0 and votes[0] >= 0:
        seed[0] = 1  # inbound calls: the agent answers
    voices = None  # the two clusters, fitted once, only when seeds alone do not suffice
    if min((seed == 1).sum(), (seed == 0).sum()) < MIN_SEEDS:
        voices = _two_voices(X)
        _complete_seeds(*voices, seed, long_enough)
    seeded = np.flatnonzero(seed >= 0)
    if (seed == 1).sum() >= MIN_SEEDS and (seed == 0).sum() >= MIN_SEEDS:
        p = _lda_probs(X, seed, seeded)
        # learn again from everything now labelled with confidence (seeds keep their side)
        y = np.where(seed >= 0, seed, (p > 0.5).astype(int))
        sure = np.flatnonzero((seed >= 0) | (np.abs(p - 0.5) > 0.35))
        if len(set(y[sure])) == 2:
            p = _lda_probs(X, y, sure)
    else:
        p = _kmeans_probs(*(voices or _two_voices(X)), pieces, ok)
    p_all = np.full(len(pieces), 0.5)
    p_all[ok] = p
    path = _viterbi(p_all, pieces)
    out = [replace(pc, speaker=AGENT if path[i] == 1 else CUSTOMER) for i, pc in enumerate(pieces)]
    durs = np.array([pieces[i].end - pieces[i].start for i in ok])
    sharp = float((np.abs(p - 0.5) * 2 * durs).sum() / max(durs.sum(), 1e-9))
    agree = [path[ok[j]] == seed[j] for j in seeded] or [False]
    both = len({path[i] for i in ok}) == 2  # one side only: the split failed
    confidence = sharp * float(np.mean(agree)) * (1.0 if both else 0.3)
    return out, round(float(np.clip(confidence, 0, 1)), 3)
