"""Phrase matching on ASR text: literal, regex, and pinyin-tolerant (homophones such as 工号/公号/功耗).

Whisper at 8 kHz often writes a word that sounds right with the wrong characters,
so a phrase can also match on toneless pinyin, with the usual fuzzy pairs of
Mandarin speakers folded (zh/z, ch/c, sh/s, n/l, in/ing, en/eng).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from audit.text.chinese import digits_as_said

_FOLDS = (("zh", "z"), ("ch", "c"), ("sh", "s"))
_FINAL_FOLDS = (("ing", "in"), ("eng", "en"))


def _fold(syl: str) -> str:
    for a, b in _FOLDS:
        if syl.startswith(a):
            syl = b + syl[len(a) :]
            break
    if syl.startswith("n") and not syl.startswith("ng"):
        syl = "l" + syl[1:]
    for a, b in _FINAL_FOLDS:
        if syl.endswith(a):
            syl = syl[: -len(a)] + b
            break
    return syl


@lru_cache(maxsize=4096)
def syllables(text: str) -> tuple[str, ...]:
    """One folded toneless syllable per character (digits as said; other non-Chinese characters stand for themselves)."""
    from pypinyin import Style, lazy_pinyin

    return tuple(_fold(s) for s in lazy_pinyin(digits_as_said(text), style=Style.NORMAL, errors=lambda x: list(x)))


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # its dictionary-loading chatter would end up in --json output
    return jieba


@lru_cache(maxsize=4096)
def word_spans(text: str) -> tuple[tuple[int, int], ...]:
    out, pos = [], 0
    for tok in _jieba().lcut(text, HMM=False):
        out.append((pos, pos + len(tok)))
        pos += len(tok)
    return tuple(out)


_PUNCT = re.compile(r"[\s，。！？、；：,.!?;:…“”\"'（）()《》—-]+")


def normalize(text: str) -> str:
    """What phrases are matched against: punctuation and spaces removed (Whisper's punctuation is unreliable)."""
    return _PUNCT.sub("", text)


def normalized_offsets(text: str) -> list[int]:
    """For each character of normalize(text), its offset in text (to map hits back onto punctuated text)."""
    out, pos = [], 0
    for m in _PUNCT.finditer(text):
        out += range(pos, m.start())
        pos = m.end()
    out += range(pos, len(text))
    return out


@dataclass(frozen=True)
class Hit:
    phrase: str  # the pattern entry that matched
    found: str  # the text that matched it
    start: int  # character offsets in the normalized text
    end: int
    how: str = "phrase"  # phrase, regex, or pinyin (same sound, other characters)


@dataclass(frozen=True)
class Pattern:
    """Phrases (any of), regexes, and whether to match on pinyin and only on jieba word boundaries."""

    phrases: tuple[str, ...] = ()
    regexes: tuple[re.Pattern, ...] = ()
    pinyin: bool = False
    whole_word: bool = False
    not_after: tuple[str, ...] = field(default=())  # a hit right after one of these is ignored (negation)
    near: tuple[re.Pattern, ...] = field(default=())  # required phrases: what suggests it was said, garbled

    @property
    def empty(self) -> bool:
        return not self.phrases and not self.regexes

    def hits(self, text: str) -> list[Hit]:
        norm = normalize(text)
        out: list[Hit] = []
        for ph in self.phrases:
            p = normalize(ph)
            start = norm.find(p)
            while start >= 0:
                out.append(Hit(ph, p, start, start + len(p)))
                start = norm.find(p, start + 1)
        for rx in self.regexes:
            out += [Hit(rx.pattern, m.group(0), m.start(), m.end(), "regex") for m in rx.finditer(norm)]
        if self.pinyin and self.phrases:
            out += self._pinyin_hits(norm, {(h.start, h.end) for h in out})
        if self.whole_word:
            bounds = {b for span in word_spans(norm) for b in span}
            out = [h for h in out if h.start in bounds and h.end in bounds]
        if self.not_after:
            out = [h for h in out if not any(norm[: h.start].endswith(normalize(n)) for n in self.not_after)]
        return out

    def _pinyin_hits(self, norm: str, seen: set[tuple[int, int]]) -> list[Hit]:
        syl = syllables(norm)
        out = []
        for ph in self.phrases:
            target = syllables(normalize(ph))
            n = len(target)
            if n < 2:  # one syllable has too many homophones to be evidence
                continue
            for i in range(len(syl) - n + 1):
                if syl[i : i + n] == target and (i, i + n) not in seen:
                    out.append(Hit(ph, norm[i : i + n], i, i + n, "pinyin"))
        return out

    def search(self, text: str) -> Hit | None:
        found = self.hits(text)
        return min(found, key=lambda h: h.start) if found else None


def compile_regexes(items, where: str) -> list[re.Pattern]:
    """Regular expressions from YAML, refused (RuleError) when invalid or when they match empty text."""
    from audit.errors import RuleError

    items = [items] if isinstance(items, str) else items
    if not isinstance(items, list):
        raise RuleError(f"{where}: must be a list of regular expressions")
    out = []
    for rx in items:
        try:
            out.append(re.compile(str(rx)))
        except re.error as exc:
            raise RuleError(f"{where}: {rx!r} is not a valid regular expression ({exc})") from exc
        if out[-1].search(""):
            raise RuleError(f"{where}: {rx!r} matches empty text, so it would match everywhere")
    return out


def compile_pattern(spec, where: str, concepts: dict | None = None) -> Pattern:
    """Build a Pattern from YAML: a list of phrases, or {any, regex, concepts, pinyin, whole_word, not_after, near}.

    concepts: name -> (phrases, regexes) of the pack's shared concepts, for `concepts: [name]`."""
    from audit.errors import RuleError

    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, list):
        spec = {"any": spec}
    if not isinstance(spec, dict):
        raise RuleError(f"{where}: expected a list of phrases or a mapping with any/regex, got {type(spec).__name__}")
    unknown = set(spec) - {"any", "regex", "concepts", "pinyin", "whole_word", "not_after", "near"}
    if unknown:
        raise RuleError(f"{where}: unknown keys {sorted(unknown)} (allowed: any, regex, concepts, pinyin, whole_word, not_after, near)")
    phrases = spec.get("any", []) or []
    regexes = spec.get("regex", []) or []
    if isinstance(phrases, str):
        phrases = [phrases]
    if isinstance(regexes, str):
        regexes = [regexes]
    if not isinstance(phrases, list) or not isinstance(regexes, list):
        raise RuleError(f"{where}: 'any' and 'regex' must be lists")
    names = spec.get("concepts") or []
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise RuleError(f"{where}.concepts: must be a list of concept names")
    for name in names:
        if name not in (concepts or {}):
            raise RuleError(f"{where}: concept {name!r} is not defined (known: {', '.join(sorted(concepts or {})) or 'none'})")
        phrases = list(phrases) + list(concepts[name][0])
        regexes = list(regexes) + list(concepts[name][1])
    phrases = list(dict.fromkeys(phrases))
    if not all(isinstance(p, (str, int)) for p in phrases):
        raise RuleError(f"{where}.any: every phrase must be text")
    empty = [p for p in phrases if not normalize(str(p))]
    if empty:
        raise RuleError(f"{where}.any: {empty[0]!r} is empty once punctuation and spaces are removed")
    compiled = compile_regexes(regexes, f"{where}.regex")
    pat = Pattern(
        phrases=tuple(str(p) for p in phrases),
        regexes=tuple(compiled),
        pinyin=bool(spec.get("pinyin", False)),
        whole_word=bool(spec.get("whole_word", False)),
        not_after=tuple(str(x) for x in (spec.get("not_after") or [])),
        near=tuple(compile_regexes(spec.get("near") or [], f"{where}.near")),
    )
    if pat.empty:
        raise RuleError(f"{where}: no phrases or regexes")
    return pat
