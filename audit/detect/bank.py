"""The sentence bank: what each learned concept means, as sentences a QA lead reads and extends.

`rules/bank/<concept>.yaml` holds a concept's positives (sentences that mean it) and its
negatives (near misses a reviewer would not flag, each with its `kind`); every sentence says
who wrote it (`by`: a writer of `writers.yaml`, or `review:NAME@DATE` for one a reviewer sent
from the review page). `heard.yaml` maps a written sentence to what Whisper heard of it when
rendered to telephone audio (benchmarks/bank_heard.py): training reads both.

The bank's digest (every file's text) versions the classifiers trained from it
(audit/detect/classifier.py), and through the rule pack's digest every score made with them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import yaml

from audit.errors import RuleError

SPEAKERS = ("agent", "customer", "any")
CONCEPT_KEYS = {"concept", "speaker", "means", "negative_kinds", "unlike", "ordinary_excluded", "positive", "negative"}
SENTENCE_KEYS = {"text", "prev", "kind", "by", "who", "when", "call", "speaker"}
SPECIAL = ("writers.yaml", "heard.yaml", "ordinary.yaml")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader reads the bank ~10x faster


@dataclass(frozen=True)
class BankSentence:
    text: str
    positive: bool
    by: str
    kind: str = ""
    prev: str = ""


@dataclass(frozen=True)
class BankConcept:
    name: str
    speaker: str
    means: str
    sentences: tuple[BankSentence, ...]
    kinds: dict = field(default_factory=dict, hash=False, compare=False)
    unlike: tuple[str, ...] = ()  # concepts whose positives are negatives here too
    ordinary_excluded: tuple[str, ...] = ()  # kinds of ordinary talk that may mean this concept
    source: str = ""


@dataclass(frozen=True)
class Bank:
    folder: Path
    concepts: dict[str, BankConcept]
    held_out: frozenset[str]
    heard: dict[str, str]
    digest: str
    ordinary: tuple[BankSentence, ...] = ()  # ordinary talk: a negative for every concept


def _load(path: Path, text: str | None = None) -> dict:
    try:
        doc = yaml.load(path.read_text(encoding="utf-8") if text is None else text, Loader=_Loader) or {}
    except yaml.YAMLError as exc:
        raise RuleError(f"bank/{path.name}: not valid YAML ({exc})") from exc
    if not isinstance(doc, dict):
        raise RuleError(f"bank/{path.name}: must be a mapping")
    return doc


def _sentences(doc: dict, key: str, where: str, kinds: dict) -> list[BankSentence]:
    items = doc.get(key) or []
    if not isinstance(items, list):
        raise RuleError(f"{where}: '{key}' must be a list of sentences")
    out = []
    for i, e in enumerate(items):
        at = f"{where}: {key}[{i}]"
        if isinstance(e, str):
            e = {"text": e}
        if not isinstance(e, dict) or set(e) - SENTENCE_KEYS:
            raise RuleError(f"{at}: must be a mapping with text and optional prev, kind, by")
        text = str(e.get("text") or "").strip()
        if not text:
            raise RuleError(f"{at}: text is empty")
        kind = str(e.get("kind") or "")
        if key == "negative" and kinds and kind and kind not in kinds and kind != "review":  # review: sent by a reviewer
            raise RuleError(f"{at}: kind {kind!r} is not one of this concept's negative_kinds ({', '.join(kinds)})")
        out.append(BankSentence(text, key == "positive", str(e.get("by") or "unknown"), kind, str(e.get("prev") or "").strip()))
    return out


def parse_concept(path: Path, text: str | None = None) -> BankConcept:
    """One concept file (or the text about to be written to it), validated."""
    doc = _load(path, text)
    where = f"bank/{path.name}"
    if set(doc) - CONCEPT_KEYS:
        raise RuleError(f"{where}: unknown keys {sorted(set(doc) - CONCEPT_KEYS)} (known: {', '.join(sorted(CONCEPT_KEYS))})")
    name = str(doc.get("concept") or "")
    if name != path.stem:
        raise RuleError(f"{where}: concept must be named as its file ({path.stem!r}), got {name!r}")
    speaker = str(doc.get("speaker") or "any")
    if speaker not in SPEAKERS:
        raise RuleError(f"{where}: speaker must be one of {', '.join(SPEAKERS)}")
    kinds = doc.get("negative_kinds") or {}
    if not isinstance(kinds, dict):
        raise RuleError(f"{where}: negative_kinds must map each kind to what it means")
    unlike = doc.get("unlike") or []
    excluded = doc.get("ordinary_excluded") or []
    if not isinstance(unlike, list) or not isinstance(excluded, list):
        raise RuleError(f"{where}: unlike must list concepts, ordinary_excluded kinds of ordinary talk")
    sentences = _sentences(doc, "positive", where, kinds) + _sentences(doc, "negative", where, kinds)
    pos = {s.text for s in sentences if s.positive}
    both = sorted(pos & {s.text for s in sentences if not s.positive})
    if both:
        raise RuleError(f"{where}: 「{both[0]}」 is both a positive and a negative")
    if not pos or len(pos) == len(sentences):
        raise RuleError(f"{where}: needs positives and negatives")
    return BankConcept(name, speaker, str(doc.get("means") or ""), tuple(sentences), dict(kinds),
                       tuple(str(u) for u in unlike), tuple(str(k) for k in excluded), path.name)


def load_bank(folder: Path) -> Bank:
    """Every concept file of folder, validated; RuleError names the file and the entry.

    Parsed once per process and content: the pack, the classifiers and `rules check` all ask for
    the bank, and its YAML (6,000 sentences) takes 0.2 s to parse; an edited file changes the digest."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RuleError(f"no sentence bank at {folder} (rules/bank/ in the pack)")
    files = sorted(p for p in folder.glob("*.yaml") if p.name not in SPECIAL)
    if not files:
        raise RuleError(f"{folder}: the sentence bank has no concept files (*.yaml)")
    digest = hashlib.sha256()
    for p in files + [folder / n for n in SPECIAL if (folder / n).exists()]:
        digest.update(p.name.encode() + b"\0" + p.read_bytes())
    return _parse_bank(str(folder.resolve()), digest.hexdigest()[:16])


@lru_cache(maxsize=8)
def _parse_bank(folder_name: str, digest: str) -> Bank:
    folder = Path(folder_name)
    files = sorted(p for p in folder.glob("*.yaml") if p.name not in SPECIAL)
    concepts = {}
    for p in files:
        c = parse_concept(p)
        concepts[c.name] = c
    for c in concepts.values():
        for u in c.unlike:
            if u not in concepts:
                raise RuleError(f"bank/{c.source}: unlike names {u!r}, which is not a concept of the bank")
    held_out: frozenset[str] = frozenset()
    heard: dict[str, str] = {}
    ordinary: tuple[BankSentence, ...] = ()
    for name in SPECIAL:
        p = folder / name
        if not p.exists():
            continue
        doc = _load(p)
        if name == "writers.yaml":
            held_out = frozenset(str(w) for w in doc.get("held_out") or [])
        elif name == "ordinary.yaml":
            ordinary = tuple(_sentences(doc, "negative", "bank/ordinary.yaml", {}))
        else:
            raw = doc.get("heard") or {}
            if not isinstance(raw, dict):
                raise RuleError("bank/heard.yaml: 'heard' must map written sentences to what was heard")
            heard = {str(k): str(v) for k, v in raw.items() if v}
    return Bank(folder, concepts, held_out, heard, digest, ordinary)


_SAFE = re.compile(r"[\r\n]+")


def add_sentence(folder: Path, concept: str, text: str, positive: bool, by: str, when: datetime,
                 kind: str = "", prev: str = "", call: str = "") -> bool:
    """Append a sentence a reviewer sent from a decision; False when it is there already.

    The file is edited as text (its comments and order stay); a sentence already in the bank
    with the other label is refused, naming who wrote it, so the bank never says both."""
    path = Path(folder) / f"{concept}.yaml"
    if not path.exists():
        raise RuleError(f"the sentence bank has no concept {concept!r} ({path})")
    text = _SAFE.sub(" ", text).strip()
    if not text:
        raise RuleError("an empty sentence cannot go to the bank")
    current = parse_concept(path)
    for s in current.sentences:
        if s.text == text:
            if s.positive == positive:
                return False
            raise RuleError(f"bank/{path.name}: 「{text}」 is already a {'positive' if s.positive else 'negative'} (by {s.by}); "
                            "edit the bank to change it")
    import json

    entry = {"text": text}
    if prev:
        entry["prev"] = _SAFE.sub(" ", prev).strip()
    if not positive:
        entry["kind"] = kind or "review"
    entry |= {"by": f"review:{by}@{when.date().isoformat()}", "who": by, "when": when.isoformat(timespec="seconds")}
    if call:
        entry["call"] = call
    line = "  - {" + ", ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in entry.items()) + "}"
    lines = path.read_text(encoding="utf-8").splitlines()
    if positive:
        at = next(i for i, ln in enumerate(lines) if ln.startswith("negative:"))
        lines.insert(at, line)
    else:
        lines.append(line)
    new = "\n".join(lines) + "\n"
    parse_concept(path, new)  # what is written still parses
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(new, encoding="utf-8")
    tmp.replace(path)
    return True
