"""Character error rate, after the same normalization on both sides (corpus README):
Simplified characters, numbers as digits (cn2an), punctuation and spaces removed."""

from __future__ import annotations

import re

from rapidfuzz.distance import Levenshtein

from audit.text.chinese import to_simplified

_DROP = re.compile(r"[^\w]|_", re.UNICODE)


_NUMERAL_RUN = re.compile(r"[零〇一二两三四五六七八九十百千万幺]+")
_DIGIT_BY_CHAR = str.maketrans("零〇一二两三四五六七八九幺", "0012234567891")


def _numeral(run: str) -> str:
    """One run of Chinese numerals as digits: 二百九十 -> 290, 三三零一 -> 3301 (digit by digit)."""
    import cn2an

    if not any(ch in run for ch in "十百千万"):
        return run.translate(_DIGIT_BY_CHAR)
    try:
        return str(cn2an.cn2an(run.replace("幺", "一"), "smart"))
    except (ValueError, KeyError, IndexError):
        return run


def normalize_for_cer(text: str) -> str:
    """Both sides alike: Simplified, every run of Chinese numerals as digits (per run, so one
    odd run like 十点四十 does not stop the rest), punctuation and spaces dropped."""
    text = to_simplified(text)
    text = _NUMERAL_RUN.sub(lambda m: _numeral(m.group(0)), text)
    return _DROP.sub("", text)


def char_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edits, reference characters) after normalization: summed over calls, they give a set's CER."""
    ref, hyp = normalize_for_cer(reference), normalize_for_cer(hypothesis)
    return Levenshtein.distance(ref, hyp), len(ref)


def cer(reference: str, hypothesis: str) -> float:
    edits, n = char_errors(reference, hypothesis)
    if not n:
        return 0.0 if not normalize_for_cer(hypothesis) else 1.0
    return edits / n


class RoleErrors:
    """A set's CER per speaker role against truth timelines (spk "A" = agent, "C" = customer)."""

    def __init__(self) -> None:
        self.counts = {"agent": [0, 0], "customer": [0, 0]}

    def add(self, timeline: list[dict], transcript) -> None:
        for role, spk in (("agent", "A"), ("customer", "C")):
            edits, n = char_errors("".join(t["text"] for t in timeline if t["spk"] == spk), transcript.text(role))
            self.counts[role][0] += edits
            self.counts[role][1] += n

    def rate(self, role: str) -> float:
        edits, n = self.counts[role]
        return edits / max(n, 1)
