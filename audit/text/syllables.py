"""How many syllables a transcript line takes to say: the unit of speech rate.

Whisper writes amounts as digits (142块9毛8), which are said 一百四十二块九毛八: counting the
digit characters made a fast reading of bills look slow (gen3 m11: 5.2 instead of 7.6 per s).
"""

from __future__ import annotations

import re

import cn2an

_UNIT = re.compile(r"[\u4e00-\u9fff]|\d+")
DIGIT_BY_DIGIT = 4  # 工号, 户号, phone numbers and years are read one digit at a time


def syllables(text: str) -> int:
    n = 0
    for m in _UNIT.finditer(text):
        tok = m.group()
        if not tok.isdigit():
            n += 1
        elif len(tok) >= DIGIT_BY_DIGIT or tok.startswith("0"):
            n += len(tok)
        else:
            n += len(cn2an.an2cn(tok))  # 286 -> 二百八十六
    return n
