"""A reviewer's decision teaches the sentence bank.

A dismissed flag's sentence goes to the bank as a hard negative of its rule's concept, a
confirmed one (or a typical case) as a positive, and a moment the machine missed, marked by
the reviewer at its time in the call, as a positive of the concept the reviewer names. Each
entry says it came from review, who sent it and when (`by: review:NAME@DATE`). The next
`rules train` (or the next night, which trains a changed bank itself) learns it; `rules try`
shows beforehand what that retrain adds and removes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from audit.detect.bank import add_sentence
from audit.detect.rules import load_pack
from audit.errors import AuditError
from audit.transcribe import Transcript
from audit.workspace.config import Config
from audit.workspace.store import Store


@dataclass(frozen=True)
class BankAddition:
    concept: str
    text: str
    positive: bool
    added: bool  # False: the bank had it already


def _concept_of(config: Config, rule_id: str, concept: str | None) -> tuple[str, object]:
    pack = load_pack(config.rules)
    rule = pack.by_id.get(rule_id)
    learned = rule.learned if rule is not None else None
    if concept:
        return concept, learned
    if learned is None:
        raise AuditError(f"rule {rule_id} has no classifier, so its sentence belongs to no concept of the bank; "
                         "name one with --concept")
    return learned.concept, learned


def _sentence_at(store: Store, call_id: str, speaker: str | None, start: float, end: float, learned) -> tuple[str, str]:
    body = store.transcript_body(call_id)
    if body is None:
        raise AuditError(f"call {call_id} has no transcript")
    segs = list(Transcript.from_dict(body).segments)
    near = [s for s in segs if (speaker in (None, "", "any") or s.speaker == speaker) and s.start < end + 0.5 and s.end > start - 0.5]
    if not near:
        raise AuditError(f"call {call_id}: nobody{'' if not speaker else ' (' + speaker + ')'} speaks at {start:.1f}-{end:.1f} s")
    seg = max(near, key=lambda s: (learned.probability(s.text) if learned is not None else 0.0, -abs(s.start - start)))
    text = seg.text
    if learned is not None:  # the sentence of a long turn the classifier read, not the whole turn
        best = learned.best_unit(seg.text)
        text = best.unit.text if best is not None else seg.text
    before = [s for s in segs if s.end <= seg.start + 0.1 and s.speaker != seg.speaker]
    return text, (before[-1].text if before else "")


def flag_to_bank(config: Config, flag_key: str, positive: bool, by: str, kind: str = "", concept: str | None = None,
                 when: datetime | None = None) -> BankAddition:
    """The flagged sentence into the bank: a positive (confirmed, case) or a hard negative (dismissed)."""
    with Store(config.database) as store:
        flag = store.flag(flag_key)
        if flag is None:
            raise AuditError(f"no flag {flag_key}")
        if flag["start"] is None:
            raise AuditError(f"flag {flag_key} marks something missing from the call: there is no sentence to send")
        name, learned = _concept_of(config, flag["rule_id"], concept)
        text, prev = _sentence_at(store, flag["call_id"], flag["speaker"], flag["start"], flag["end"] or flag["start"], learned)
    added = add_sentence(config.rules / "bank", name, text, positive, by, when or datetime.now().astimezone(),
                         kind=kind or ("" if positive else "review"), prev=prev, call=flag["call_id"])
    return BankAddition(name, text, positive, added)


def moment_to_bank(config: Config, call_id: str, at: float, concept: str, by: str,
                   when: datetime | None = None) -> BankAddition:
    """A moment the machine missed: what was said at `at` seconds becomes a positive of `concept`."""
    from audit.detect.bank import load_bank

    bank = load_bank(config.rules / "bank")
    if concept not in bank.concepts:
        raise AuditError(f"the sentence bank has no concept {concept!r} (known: {', '.join(sorted(bank.concepts))})")
    speaker = {"agent": "agent", "customer": "customer"}.get(bank.concepts[concept].speaker)
    with Store(config.database) as store:
        if store.call(call_id) is None:
            raise AuditError(f"no call {call_id}")
        text, prev = _sentence_at(store, call_id, speaker, at, at, None)
    added = add_sentence(config.rules / "bank", concept, text, True, by, when or datetime.now().astimezone(), prev=prev, call=call_id)
    return BankAddition(concept, text, True, added)
