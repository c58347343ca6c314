"""Character error rate, after the same normalization on both sides (corpus README):
Simplified characters, numbers as digits (cn2an), punctuation and spaces removed."""

from __future__ import annotations

import re

from rapidfuzz.distance import Levenshtein

from audit.transcribe import to_simplified

_DROP = re.compile(r"[^\w]|_", re.UNICODE)


def normalize_for_cer(text: str) -> str:
    import cn2an

    text = to_simplified(text)
    try:
        text = cn2an.transform(text, "cn2an")
    except Exception:  # cn2an rejects some odd strings; keep the text as it is
        pass
    return _DROP.sub("", text)


def cer(reference: str, hypothesis: str) -> float:
    ref, hyp = normalize_for_cer(reference), normalize_for_cer(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return Levenshtein.distance(ref, hyp) / len(ref)
