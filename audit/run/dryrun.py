"""`callaudit rules try`: what a candidate rule pack would change, on calls already scored.

Every stored call of the days asked for is scored again from its stored transcript and
measures with the candidate pack, and compared with the flags the workspace has now: flags
added and removed (by rule and category, with call and evidence) and each call's machine
score change. Nothing is written: the store is opened read-only and immutable, so a QA lead
can try a rule edit on last week's calls before switching it on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from audit.detect.acoustic import Measures
from audit.workspace.config import Config
from audit.errors import AuditError
from audit.detect.rules import load_pack
from audit.scoring import score_call
from audit.workspace.store import Store
from audit.transcribe import Transcript


@dataclass
class FlagChange:
    call_id: str
    rule_id: str
    category: str
    start: float | None
    evidence: str


@dataclass
class TryResult:
    calls: int = 0
    skipped: list[str] = field(default_factory=list)  # calls without stored transcript or measures
    added: list[FlagChange] = field(default_factory=list)
    removed: list[FlagChange] = field(default_factory=list)
    score_change: dict[str, float] = field(default_factory=dict)  # call -> candidate total - current total

    def by_rule(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for kind, changes in (("added", self.added), ("removed", self.removed)):
            for c in changes:
                out.setdefault(c.rule_id, {"category": c.category, "added": 0, "removed": 0})[kind] += 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict:
        changes = lambda xs: [vars(x) for x in xs]  # noqa: E731
        return {"calls": self.calls, "skipped": self.skipped, "by_rule": self.by_rule(), "added": changes(self.added),
                "removed": changes(self.removed), "score_change": self.score_change,
                "mean_score_change": round(sum(self.score_change.values()) / max(len(self.score_change), 1), 2)}


def try_rules(config: Config, candidate: Path, first: str, last: str) -> TryResult:
    pack = load_pack(candidate)  # a broken candidate is an error here, not a skipped file
    res = TryResult()
    with Store(config.database, read_only=True) as store:
        calls = store.scored_calls(first, last)
        current = dict(tuple(store.flags_with_reviews(calls["call_id"].tolist()).groupby("call_id")))
        for c in calls.itertuples(index=False):
            body, measured = store.transcript_body(c.call_id), store.measures_body(c.call_id)
            if body is None or measured is None:
                res.skipped.append(c.call_id)
                continue
            res.calls += 1
            score = score_call(c.call_id, Transcript.from_dict(body), Measures.from_dict(measured), pack, config.weights,
                               confidence=config.confidence, episode_gap=config.episode_gap)
            now = current.get(c.call_id)
            now_keys = set(now["flag_key"]) if now is not None else set()
            new_keys = {f.key for f in score.flags}
            res.added += [FlagChange(c.call_id, f.rule_id, f.category, f.start, f.evidence)
                          for f in score.flags if f.key not in now_keys]
            res.removed += [FlagChange(c.call_id, f.rule_id, f.category, None if f.start != f.start else f.start, f.evidence)
                            for f in (now.itertuples(index=False) if now is not None else ()) if f.flag_key not in new_keys]
            if score.total != c.total:
                res.score_change[c.call_id] = round(score.total - c.total, 1)
    if not res.calls and not res.skipped:
        raise AuditError(f"no scored calls between {first} and {last}")
    return res
