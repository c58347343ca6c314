"""Mono recordings: say which pieces of speech are the agent's and which the customer's.

Features fitted per call (pitch + MFCCs, then an LDA seeded by set phrases: what this
module had) followed the voices the renderer varied and failed on new ones: on two blind
sets, 5 of 12 mono calls came back with agent CER 0.42-0.57 against 0.16-0.26 over both
speakers together, at confidence 0.72-0.94. Now:

1. Pieces: ASR segments cut at word pauses and at voice changes, each with a GE2E d-vector
   from a trained speaker encoder (audit/asr/turns.py, audit/asr/voices.py).
2. Two voices: KMeans (k=2) on the normalized vectors, weighted by how much speech each
   vector was taken from (one d-vector per turn, KMeans: speaker purity 0.995 on 26 calls
   against 0.879 for average-linkage clustering). A third cluster that lies on one side but
   speaks like the other (a caller calm, then shouting) goes over (`_third_voice`).
3. Which voice is the agent: what each says. Set phrases only agents say (greeting, 请您稍等,
   感谢您的来电, asking for the 户号, also when only their sound was heard) and what callers
   say (我家, 你们, 我想问 ...); the first piece of an inbound call that is long enough to place by voice (>= 1 s) counts for the agent;
   and every piece's wording, learned from the sentence bank (audit/asr/roles.py): an agent who says 你
   and no set phrase left two cues in a call, and one misplaced piece swapped it whole.
4. Smoothing: per piece, the log-likelihood ratio of its margin between the two voices
   (less for short pieces) plus its cues, and a two-state Viterbi pass that keeps short
   pieces with their neighbours (a change costs more across a short pause).
5. Confidence (`_confidence`): how far apart the two voices are (separation of the pieces'
   margins, in pooled spreads), how many of the content cues sit on the side their voice
   was given (agreement), and the share of the text in pieces long enough to embed
   (coverage); calibrated on mixed-down stereo calls so that no call below 0.9 accuracy
   reports 0.7 or more (`[scoring.confidence] min_attribution`, review-only below it).
   `Attribution.note` says why it is low, for the workbook and the review page.

The pitch/MFCC model is gone: on the calls it was tuned on the voice clusters match it
(dev: 0.988 against 0.979), and on the blind sets they are far ahead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from audit.asr.roles import agent_log_odds
from audit.text.textmatch import Pattern
from audit.asr.transcript import AGENT, CUSTOMER, Segment


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


MIN_FIT_S = 0.5  # pieces embedded from less speech than this do not shape the two voices
FIRST_BONUS = 2.5  # inbound calls: the agent answers; the first sure piece counts as that many agent cues
FIRST_MIN_S = 1.0  # the piece that gets FIRST_BONUS: the first embedded from this much speech (`reliable` is 1 there)
FLIP_CUES = 3  # net content cues that take a third voice cluster over to the other side
REFINE_ROUNDS = 3  # voices re-estimated from the decided pieces at most this often (it settles in 1-2)
MAX_LLR = 8.0  # no one piece's voice is surer than this (log odds)
CUE_LLR = 0.7  # log odds per content cue of a piece (at most two counted)
# Each piece's wording (audit/asr/roles.py), as log odds, at most ROLE_CAP, in full from ROLE_FULL_CHARS
# characters: ROLE_LLR of it joins the piece's voice and cues, ROLE_SIDE of it votes for which voice is the
# agent's. Over 223 calls (dev, gen1-4, heldout, gen6-8; benchmarks/results/mono-roles-2026-12-02.md) mean
# accuracy 0.974 -> 0.980 (ROLE_LLR 1) -> 0.982 (2), calls below 0.9: 11 -> 6 -> 4, none at confidence >= 0.7.
ROLE_LLR = 2.0
ROLE_SIDE = 1.0
ROLE_CAP = 4.0
ROLE_FULL_CHARS = 8


@dataclass(frozen=True)
class Attribution:
    segments: list[Segment]
    confidence: float | None
    separation: float = 0.0  # how far apart the two voices are (distance between centroids, in spreads)
    agreement: float = 0.0  # share of the content cues that sit on the side their voice was given
    coverage: float = 0.0  # share of the characters in pieces long enough to embed reliably
    note: str = ""  # why the confidence is low, for the reviewer


def _third_voice(V: np.ndarray, secs: np.ndarray, fit: np.ndarray, weight: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """One speaker who sounds like two (a caller calm, then shouting) can pull two voices apart
    while the other speaker's voice takes in the calm stretch. Three clusters are fitted; one
    that lies on a side whose wording it contradicts (at least FLIP_CUES net cues of the other
    side) goes over, and each side becomes the union of its clusters (a piece's margin: its
    closest cluster of one side against its closest of the other)."""
    from audit.asr.turns import k_voices

    if fit.sum() < 6:
        return margin
    c3 = k_voices(V, secs * fit, 3)
    near = np.argmax(V @ c3.T, axis=1)
    agent_side = margin > 0
    group = []
    for k in range(3):
        mine = (near == k) & fit
        if not mine.any():
            group.append(None)
            continue
        on_agent = bool(secs[mine & agent_side].sum() >= secs[mine & ~agent_side].sum())
        cue = weight[near == k].sum()
        if on_agent and cue <= -FLIP_CUES:
            on_agent = False
        elif not on_agent and cue >= FLIP_CUES:
            on_agent = True
        group.append(on_agent)
    sides = [g for g in group if g is not None]
    before = [bool(secs[(near == k) & fit & agent_side].sum() >= secs[(near == k) & fit & ~agent_side].sum()) for k in range(3)
              if group[k] is not None]
    if sides == before or len(set(sides)) < 2:
        return margin
    sim = V @ c3.T
    a = np.max(np.where([g is True for g in group], sim, -np.inf), axis=1)
    b = np.max(np.where([g is False for g in group], sim, -np.inf), axis=1)
    out = a - b
    out[secs == 0] = 0.0
    return out


def _refit(V: np.ndarray, weight: np.ndarray, path: np.ndarray, embedded: np.ndarray) -> np.ndarray | None:
    """Each piece's margin between the weighted mean voice of the pieces now given to the agent
    and that of the customer's (0 for pieces not embedded; None when a side has no weighted piece)."""
    w_agent, w_customer = weight * (path == 1), weight * (path == 0)
    if w_agent.sum() <= 0 or w_customer.sum() <= 0:
        return None
    ca, cc = w_agent @ V, w_customer @ V
    margin = V @ (ca / np.linalg.norm(ca)) - V @ (cc / np.linalg.norm(cc))
    margin[~embedded] = 0.0
    return margin


def _llr(margin: np.ndarray, fit: np.ndarray) -> tuple[np.ndarray, float]:
    """The two voices' margins as two Gaussians of one spread: each piece's log-likelihood ratio
    (positive: the voice of positive margin), and the separation of the two in pooled spreads."""
    side = margin > 0
    a, b = margin[fit & side], margin[fit & ~side]
    if len(a) >= 2 and len(b) >= 2:
        pooled = float(np.sqrt((a.var() * len(a) + b.var() * len(b)) / (len(a) + len(b)))) + 1e-3
        return (a.mean() - b.mean()) / pooled**2 * (margin - (a.mean() + b.mean()) / 2), float((a.mean() - b.mean()) / pooled)
    return margin / (float(np.median(np.abs(margin[fit]))) + 1e-3), 0.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def attribute(samples: np.ndarray, sr: int, segments: list[Segment]) -> Attribution:
    """The pieces of a mono call with their speaker, and how sure that is."""
    from audit.asr.turns import single_speaker_pieces
    from audit.asr.voices import SR, call_mel

    if sr != SR:
        raise ValueError(f"mono attribution expects {SR} Hz audio, got {sr}")
    if not segments:
        return Attribution([], None)
    mel = call_mel(samples, [(s.start, s.end) for s in segments])
    return decide(single_speaker_pieces(segments, mel))


def decide(found) -> Attribution:
    """Whose each piece is (`found`: audit.asr.turns.Pieces), and how sure that is."""
    from audit.asr.turns import two_voices

    pieces = found.pieces
    segs = [p.segment for p in pieces]
    V = np.stack([p.vector for p in pieces])
    secs = np.array([p.seconds for p in pieces])
    fit = secs >= MIN_FIT_S
    if fit.sum() < 4:
        return Attribution([replace(p, speaker=AGENT) for p in segs], None, note="语音太少, 无法区分说话人")
    c = two_voices(V, secs * fit, start=found.voices)  # the pieces' voices, from the windows' ones
    margin = V @ c[0] - V @ c[1]
    margin[secs == 0] = 0.0
    votes = np.array([cue_vote(p.text) for p in segs], dtype=float)
    # the wording of every piece (audit/asr/roles.py), less for a short one
    role = np.array([np.clip(agent_log_odds(p.text), -ROLE_CAP, ROLE_CAP) * min(1.0, len(p.text) / ROLE_FULL_CHARS) for p in segs])
    # which voice is the agent's: what each voice says
    # the greeting: the first piece long enough for its voice to be sure (a 0.7 s 你好 sat on the
    # caller's voice in 17 of 112 calls of dev and gen1-gen3; the first of >= 1 s on the agent's in 110)
    opening = fit & (secs >= FIRST_MIN_S)
    first = int(np.argmax(opening)) if opening.any() else int(np.argmax(fit))
    weight = votes + ROLE_SIDE * role
    if segs[first].start < 10.0:
        weight[first] += FIRST_BONUS
    on0 = margin > 0
    score = weight[on0].sum() - weight[~on0].sum()
    if score < 0:
        margin = -margin  # positive margin: the agent's voice
    margin = _third_voice(V, secs, fit, weight, margin)
    # each piece's log-likelihood ratio (a short piece's vector is less sure, so its ratio counts
    # less), plus what it says
    voice_side = margin > 0
    llr, separation = _llr(margin, fit)
    reliable = np.clip(secs / 1.0, 0.0, 1.0)
    p_agent = _sigmoid(np.clip(llr * reliable, -MAX_LLR, MAX_LLR) + CUE_LLR * np.clip(votes, -2, 2) + ROLE_LLR * role)
    path = _viterbi(p_agent, segs)
    for _ in range(REFINE_ROUNDS):
        # the two voices again, from the pieces as decided (cues and smoothing included), not
        # from k-means alone: 117 -> 120 of 142 calls within 0.03 of the both-speaker CER, k19
        # 0.888 -> 0.978 (benchmarks/results/mono-refine-2026-12-02.md)
        refit = _refit(V, secs * fit, path, secs > 0)
        if refit is None:
            break
        margin = refit
        voice_side = margin > 0
        llr, separation = _llr(margin, fit)
        p_agent = _sigmoid(np.clip(llr * reliable, -MAX_LLR, MAX_LLR) + CUE_LLR * np.clip(votes, -2, 2) + ROLE_LLR * role)
        new = _viterbi(p_agent, segs)
        if (new == path).all():
            break
        path = new
    if segs[first].start < 10.0:
        # an inbound call opens with the agent: what comes before the first sure piece is theirs too
        # (a 0.5 s 您好 went to the caller's voice and the greeting lost its 您好: gen5 g04 as heard);
        # over the 142 calls of dev and gen1-gen4 and heldout, mean accuracy 0.9786 -> 0.9793, none worse
        path[:first] = 1
    out = [replace(p, speaker=AGENT if path[i] == 1 else CUSTOMER) for i, p in enumerate(segs)]
    # how sure
    chars = np.array([max(1, len(p.text)) for p in segs], dtype=float)
    cued = votes != 0
    agreement = float((np.abs(votes) * (np.sign(votes) == np.where(voice_side, 1, -1)))[cued].sum()
                      / max(np.abs(votes[cued]).sum(), 1e-9)) if cued.any() else 0.5
    coverage = float(chars[fit].sum() / chars.sum())
    both = len(set(path.tolist())) == 2
    conf = _confidence(separation, agreement, coverage, both)
    note = _why(separation, agreement, coverage, both)
    return Attribution(out, conf, round(separation, 3), round(agreement, 3), round(coverage, 3), note)


# Confidence = voice term x wording term x coverage. Calibrated on the calls of dev, gen1, gen2
# and gen3 (benchmarks/results/mono-2026-12-02.md): every call there whose accuracy fell below
# 0.9 had a separation under 5.4 or an agreement under 0.75 (gen1 g21: 5.38 and 0.90 at 0.898),
# while above 6.3 no call fell below 0.94; so the voice term rises from SEP_LOW to SEP_HIGH.
# gen4 and heldout were not looked at for this.
SEP_LOW, SEP_HIGH = 3.5, 6.5
AGREE_LOW, AGREE_HIGH = 0.5, 0.9


def _confidence(separation: float, agreement: float, coverage: float, both: bool) -> float:
    """In [0, 1]: 0.1 when one side got nothing (the split failed)."""
    if not both:
        return 0.1
    voice = float(np.clip((separation - SEP_LOW) / (SEP_HIGH - SEP_LOW), 0, 1))
    wording = 0.5 + 0.5 * float(np.clip((agreement - AGREE_LOW) / (AGREE_HIGH - AGREE_LOW), 0, 1))
    return round(float(np.clip(voice * wording * coverage, 0, 1)), 3)


def _why(separation: float, agreement: float, coverage: float, both: bool) -> str:
    if not both:
        return "只听出一个声音"
    out = []
    if separation < SEP_HIGH - 1.0:
        out.append("两个声音相近")
    if agreement < 0.75:
        out.append("话术与声音不一致")
    if coverage < 0.6:
        out.append("短句多, 声音依据少")
    return ", ".join(out)


def attribute_speakers(samples: np.ndarray, sr: int, segments: list[Segment]) -> tuple[list[Segment], float | None]:
    """Return the pieces with speaker set, and a confidence in [0, 1] (None when undecidable)."""
    a = attribute(samples, sr, segments)
    return a.segments, a.confidence
