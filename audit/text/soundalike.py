"""Graded sound similarity: how close a stretch of transcript sounds to a phrase.

Whisper at 8 kHz writes 工号 as 公告, 国网 as 过往, 九五五九八 as 九五五九巴. Exact
pinyin matching (audit/text/textmatch.py) catches true homophones only; this module scores
near-homophones, tone-insensitive, with the confusions of telephone Mandarin
(z/zh c/ch s/sh n/l f/h r/l, an/ang en/eng in/ing ian/iang uan/uang) costing less than
other substitutions. A required phrase heard only approximately is not proof that it
was missing: rules turn such a flag into one for a reviewer (review-only).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from audit.text.chinese import digits_as_said

_INITIAL_PAIRS = {frozenset(p) for p in (("z", "zh"), ("c", "ch"), ("s", "sh"), ("n", "l"), ("f", "h"), ("r", "l"),
                                          ("b", "p"), ("d", "t"), ("g", "k"), ("j", "q"), ("j", "z"), ("q", "c"), ("x", "s"))}
_FINAL_PAIRS = {frozenset(p) for p in (("an", "ang"), ("en", "eng"), ("in", "ing"), ("ian", "iang"), ("uan", "uang"),
                                        ("on", "ong"), ("eng", "ong"), ("o", "uo"), ("e", "o"), ("i", "ü"), ("u", "ü"),
                                        ("ao", "ou"), ("ai", "ei"))}
NEAR = 0.25  # one part confusable, the other equal
HALF = 0.6  # one part different, the other equal
INDEL = 1.0  # a syllable dropped or added


@lru_cache(maxsize=8192)
def _parts(text: str) -> tuple[tuple[str, str], ...]:
    """(initial, final) per character, toneless; digits as said, another non-Chinese character stands for itself."""
    from pypinyin import Style, pinyin

    said = digits_as_said(text)
    ini = pinyin(said, style=Style.INITIALS, strict=False, errors=lambda x: list(x))
    fin = pinyin(said, style=Style.FINALS, strict=False, errors=lambda x: list(x))
    return tuple((a[0], b[0]) for a, b in zip(ini, fin))


def _part_cost(a: str, b: str, pairs: set) -> float:
    if a == b:
        return 0.0
    return 0.5 if frozenset((a, b)) in pairs else 1.0


def syllable_cost(x: tuple[str, str], y: tuple[str, str]) -> float:
    ci = _part_cost(x[0], y[0], _INITIAL_PAIRS)
    cf = _part_cost(x[1], y[1], _FINAL_PAIRS)
    if ci == 0 and cf == 0:
        return 0.0
    if ci + cf <= 0.5:
        return NEAR
    if ci + cf <= 1.0:
        return HALF if (ci == 0 or cf == 0) else 2 * NEAR
    return 1.0


@dataclass(frozen=True)
class SoundHit:
    phrase: str
    found: str
    start: int
    end: int
    score: float  # 1 = same sound; 0 = nothing alike


def best_match(phrase: str, text: str) -> SoundHit | None:
    """The stretch of `text` that sounds most like `phrase` (semi-global alignment)."""
    p, t = _parts(phrase), _parts(text)
    n, m = len(p), len(t)
    if not n or not m:
        return None
    # dp[i][j]: cost of aligning p[:i] ending at t[:j]; start[i][j]: where in t that alignment began.
    prev = [0.0] * (m + 1)
    prev_start = list(range(m + 1))
    for i in range(1, n + 1):
        cur = [prev[0] + INDEL] + [0.0] * m
        cur_start = [0] * (m + 1)
        for j in range(1, m + 1):
            options = (
                (prev[j - 1] + syllable_cost(p[i - 1], t[j - 1]), prev_start[j - 1]),
                (prev[j] + INDEL, prev_start[j]),
                (cur[j - 1] + INDEL, cur_start[j - 1]),
            )
            cur[j], cur_start[j] = min(options)
        prev, prev_start = cur, cur_start
    j = min(range(1, m + 1), key=lambda k: (prev[k], -k))
    a = prev_start[j]
    score = max(0.0, 1.0 - prev[j] / n)
    return SoundHit(phrase, text[a:j], a, j, round(score, 3))


def best_of(phrases: tuple[str, ...], text: str) -> SoundHit | None:
    """The best sound match of any phrase of two or more syllables (one syllable has too many homophones)."""
    found = [h for ph in phrases if len(ph) >= 2 and (h := best_match(ph, text)) is not None]
    return max(found, key=lambda h: (h.score, len(h.phrase))) if found else None
