"""Mask personal numbers (phone, 户号, ID card, bank card) in text people read, in every form ASR writes them.

A number is a run of digit characters: Arabic (0-9, full width), spoken Chinese digits
(零〇一二两三四五六七八九幺) or both mixed, optionally grouped by spaces, hyphens, dots or commas
("138 1234 5678", "0571-8765 4321", "1 3 8, 1 2 3 4", "138一二三四5678"); an 18-character ID may
end in X. A run of 7+ digits is masked character for character (separators are kept, so the text
keeps its length): the first and last few digits stay readable, the rest become "*":

    13812345678 -> 138******78      110101199001011234 -> 110101********1234
    3301567892  -> 33******92       三三零一五六七八九二 -> 三三******九二

Stays readable: shorter numbers (amounts, counts, 工号), Chinese quantities (十/百/千/万 break a run:
一百四十二, 二十万), dates and times (2026-11-12 10:30), amounts written with a decimal or
thousands separator before a unit (1,286.50元), and the agent ID after 工号/工号是/编号
(up to 6 digits: "工号2865", "工号二八六五", "我的工号是 1 3 5 9").
"""

from __future__ import annotations

import re

# Bump when the masking catches more: outputs that cache masked text (clip sidecars) are rewritten.
MASK_VERSION = 2

_CN_DIGITS = "零〇一二两三四五六七八九幺"
_D = "[0-9０-９" + _CN_DIGITS + "]"
_DIGITS = frozenset("0123456789０１２３４５６７８９" + _CN_DIGITS)
_ANY_DIGIT = re.compile(_D)
_DIGIT_GROUP = re.compile(f"{_D}+")
_TO_ARABIC = str.maketrans(_CN_DIGITS + "０１２３４５６７８９叉x", "0012234567891" + "0123456789XX")
_SPACE = "[ \u00a0\u3000]"
# between two digits of one number: spaces, or one hyphen/dot/comma with optional spaces around it
_SEP = f"(?:{_SPACE}*[-‐‑–—－.．·,，]{_SPACE}*|{_SPACE}+)"
_RUN = re.compile(f"{_D}(?:{_SEP}?{_D})*(?P<check>{_SEP}?[Xx叉](?![A-Za-z0-9]))?")

_UNIT = r"(?=\s*(?:元|块|度|万|亿|千瓦时|[kK][wW][hH]|%|％))"
_KEEP = re.compile(
    r"(?=[0-9])(?:"
    # dates 2026-11-12 / 2026.11.12 / 2026/11/12 (not inside a longer grouped number)
    r"(?<![0-9][-/.])(?<![0-9])(?:19|20)[0-9]{2}([-/.])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12][0-9]|3[01])(?![-/.]?[0-9])"
    # times 9:05, 10:30:45
    r"|(?<![0-9])(?:[01]?[0-9]|2[0-3])[:：][0-5][0-9](?:[:：][0-5][0-9])?(?![0-9])"
    # amounts with a thousands or decimal separator before a unit: 1,286.50元, 142.5度
    rf"|(?<![0-9.,])(?:[0-9]{{1,3}}(?:,[0-9]{{3}})+(?:\.[0-9]+)?|[0-9]{{1,6}}\.[0-9]{{1,2}}){_UNIT})"
)
# the agent ID read out in a greeting; spaces/hyphens only (a comma ends it)
_AGENT_ID = re.compile(f"(?:工号|编号)(?:是|为)?{_SPACE}*[:：]?{_SPACE}*(?P<id>{_D}(?:[ \u3000-]?{_D})*)")
_AGENT_ID_MAX = 6


def _kept_spans(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in _KEEP.finditer(text)]
    for m in _AGENT_ID.finditer(text):
        start, end = m.span("id")
        digits = [i for i in range(start, end) if text[i] in _DIGITS]
        if len(digits) <= _AGENT_ID_MAX:
            spans.append((start, end))
        else:  # "工号2865 138 1234 5678": the first group alone may still be the agent ID
            first = _DIGIT_GROUP.match(text, start).end() - start
            if 3 <= first <= _AGENT_ID_MAX:
                spans.append((start, start + first))
    return sorted(spans)


def _keep_counts(n: int, value: str) -> tuple[int, int]:
    """Digits left readable at the start and the end of a masked number."""
    if n == 18:
        return 6, 4  # ID card: region code and the last four
    if 9 <= n <= 11 and value[0] == "1" and value[1] in "3456789":
        return 3, 2  # mobile: operator prefix
    return 2, 2


def _mask_run(chars: list[str], text: str, m: re.Match, offset: int) -> None:
    end = m.start("check") if m.group("check") else m.end()
    pos = [offset + i for i in range(m.start(), end) if m.string[i] in _DIGITS]
    # a single spoken digit glued to Arabic digits is a word, not part of the number: 13812345678一下
    if len(pos) > 1 and text[pos[0]] in _CN_DIGITS and text[pos[1]] not in _CN_DIGITS and pos[1] == pos[0] + 1:
        pos = pos[1:]
    if len(pos) > 1 and text[pos[-1]] in _CN_DIGITS and text[pos[-2]] not in _CN_DIGITS and pos[-2] == pos[-1] - 1:
        pos = pos[:-1]
    if m.group("check") and len(pos) == 17:
        pos.append(offset + m.end() - 1)
    if len(pos) < 7:
        return
    value = "".join(text[p] for p in pos).translate(_TO_ARABIC)
    head, tail = _keep_counts(len(pos), value)
    for p in pos[head : len(pos) - tail]:
        chars[p] = "*"


def mask_numbers(text: str) -> str:
    """Star the middle digits of personal numbers in any written form: 138 1234 5678 -> 138 **** **78."""
    if not text or len(_ANY_DIGIT.findall(text)) < 7:
        return text
    chars = list(text)
    start = 0
    for a, b in [*_kept_spans(text), (len(text), len(text))]:
        if a > start:
            part = text[start:a]
            for m in _RUN.finditer(part):
                if m.end() - m.start() >= 7:  # fewer characters cannot hold 7 digits
                    _mask_run(chars, text, m, start)
        start = max(start, b)
    return "".join(chars)


def mask_texts(texts: list[str]) -> list[str]:
    """Mask consecutive pieces of one transcript (segments) together, so a number that ASR split
    across two segments is still caught; each piece comes back masked, same length, same order."""
    joined = mask_numbers(" ".join(texts))
    out, i = [], 0
    for t in texts:
        out.append(joined[i : i + len(t)])
        i += len(t) + 1
    return out
