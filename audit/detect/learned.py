"""A rule's `classifier:` condition: does a sentence the speaker said mean the concept?

Each sentence of a segment and a short segment as a whole are scored by the concept's
classifier (audit/detect/classifier.py); the best is the hit. Sentences, not clauses: the bank
holds whole turns, and a clause cut out of a precise answer ("工期到时候另行通知您") reads like a
hedge (dev true turns at 0.9: clause pairs 39 false alarms over six concepts, sentences 18,
with 2 fewer of 45 labelled turns, both brush-offs the phrase list finds). At `flag` or above it counts; between
`review` and `flag` it goes to a reviewer and costs nothing until confirmed. The probability
is calibrated, so it is the flag's confidence as it stands.
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from pathlib import Path

from audit.detect.classifier import FEATURES, classifiers_for  # noqa: F401 (FEATURES: part of a pack's digest)
from audit.detect.similarity import Unit

_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")
_WORDS = re.compile(r"[^\u4e00-\u9fff0-9A-Za-z]")
MIN_CHARS = 6  # the bank's sentences run 8-60 characters; a shorter stretch is mostly an ASR fragment ("应该等")


def sentences(text: str) -> list[Unit]:
    """The sentences of a segment (6 characters or more), and the segment itself when short."""
    out, pos = [], 0
    for piece in _SENTENCE_END.split(text):
        start, pos = pos, pos + len(piece)
        if len(_WORDS.sub("", piece)) >= MIN_CHARS:
            out.append(Unit(start, pos, piece.strip()))
    whole = text.strip()
    if len(_WORDS.sub("", whole)) >= MIN_CHARS and len(whole) <= WHOLE_SEGMENT and all(u.text != whole for u in out):
        out.append(Unit(0, len(text), whole))
    return out

# A call says what it means more than once, and holds fifty sentences that mean nothing: at call level
# 0.95 beat 0.9 on every tuning set (bank round three, 2026-12-02: dev as heard 0.983 -> 0.987, gen5 as
# heard 0.869 -> 0.914 with clean calls flagged 3/9 -> 1/9, gen5 true turns 0.967 -> 0.978, dev true
# turns 0.991 both), though a single held-out bank sentence reaches it less often (recall at 0.95 vs 0.9:
# escalation 0.74 vs 0.80, fault_call 0.64 vs 0.74). Between review and flag a reviewer decides.
DEFAULT_FLAG = 0.95
DEFAULT_REVIEW = 0.8  # below, a sentence is left alone: at 0.6 dev true turns gave 3x the review-only flags, none labelled
DEFAULT_VET = 0.2  # a rule's own phrases said where the classifier gives the meaning less than this: review-only
WHOLE_SEGMENT = 80  # characters: a bank sentence is one turn of up to 60


@dataclass(frozen=True)
class LearnedHit:
    unit: Unit
    probability: float


@dataclass(frozen=True)
class Learned:
    concept: str
    flag: float
    review: float
    folder: str  # the bank's folder and digest: which trained classifiers
    digest: str
    vet: float = DEFAULT_VET

    def probability(self, text: str) -> float:
        """The best unit's probability (0 when nothing of text can be scored)."""
        hit = self.best_unit(text)
        return hit.probability if hit is not None else 0.0

    def _scores(self, texts: tuple[str, ...]) -> tuple[float, ...]:
        return _scored(self.folder, self.digest, self.concept, texts)

    def best(self, text: str) -> LearnedHit | None:
        """The unit of text most likely to mean the concept, if it reaches `review`."""
        hit = self.best_unit(text)
        return hit if hit is not None and hit.probability >= self.review else None

    def meant(self, text: str) -> LearnedHit | None:
        """The unit of text most likely to mean the concept, if it reaches `flag` (it counts)."""
        hit = self.best_unit(text)
        return hit if hit is not None and hit.probability >= self.flag else None

    def hits(self, text: str) -> list[LearnedHit]:
        """Every unit of text that reaches `review`, most likely first."""
        return [h for h in self._ranked(text) if h.probability >= self.review]

    def best_unit(self, text: str) -> LearnedHit | None:
        ranked = self._ranked(text)
        return ranked[0] if ranked else None

    def _ranked(self, text: str) -> list[LearnedHit]:
        """The units of text by probability, highest first (ties: the earlier unit)."""
        us = sentences(text)
        probs = self._scores(tuple(u.text for u in us)) if us else ()
        return [LearnedHit(us[k], probs[k]) for k in sorted(range(len(us)), key=lambda k: (-probs[k], k))]


_cache: dict[tuple[str, str, str], float] = {}
_CACHE_MAX = 50000


def _scored(folder: str, digest: str, concept: str, texts: tuple[str, ...]) -> tuple[float, ...]:
    """Probabilities by text, cached: a call's sentences recur across rules of one concept. Each
    row's features are its own (n-grams, its own sentence vector), so a batch changes nothing."""
    todo = [t for t in dict.fromkeys(texts) if (digest, concept, t) not in _cache]
    if todo:
        probs = classifiers_for(Path(folder), digest)[concept].probability(todo)
        if len(_cache) + len(todo) > _CACHE_MAX:
            _cache.clear()
        _cache.update({(digest, concept, t): float(p) for t, p in zip(todo, probs)})
    return tuple(_cache[(digest, concept, t)] for t in texts)


def prime(learned: list[Learned], texts: list[str]) -> None:
    """Score every sentence of a call for each concept the rules ask about, one batch per concept:
    the rules then read the cache (one classifier call per concept instead of one per segment and rule)."""
    units_of = [u.text for t in texts for u in sentences(t)]
    if not units_of:
        return
    seen = set()
    for lr in learned:
        key = (lr.folder, lr.digest, lr.concept)
        if key not in seen:
            seen.add(key)
            _scored(lr.folder, lr.digest, lr.concept, tuple(units_of))
