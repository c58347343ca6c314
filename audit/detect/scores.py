"""A call's score, computed in one place from its flags, the review decisions and the rule pack.

Three scores per call: machine (no one has looked), reviewed (the reviewer's decisions) and
final (appeals settled: a flag overturned on appeal costs nothing). The nightly scorer, the
daily summary, the weekly workbook, the monthly roll-up and `score --json` all call
`reviewed_scores` or `dimension_scores`, so a dismissed flag gives back the same points
wherever the score is read (under the same per-rule cap); reports show the final score.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from audit.detect.forms import form_for, score_form
from audit.detect.rules import DIMENSIONS, RulePack

UNCLEAR_LOGPROB = -0.8  # mean ASR log-probability below this: speech hard to understand
UNCLEAR_PENALTY = 10.0
COUNTING_DECISIONS = ("confirm", "case")  # a reviewer's yes: a review-only flag then costs its points


@dataclass(frozen=True)
class Deduction:
    """What scoring needs of a flag: its rule, its points, and where review left it."""

    rule_id: str
    points: float
    review_only: bool = False
    decision: str | None = None
    state: str | None = None  # review state (audit/workspace/review_states.py)


def counts(review_only: bool, decision: str | None, state: str | None = None, final: bool = True) -> bool:
    """A flag costs points unless dismissed; a review-only flag only once a reviewer confirmed it;
    in the final score, not when its appeal was upheld for the agent (overturned)."""
    if decision == "dismiss" or (final and state == "overturned"):
        return False
    return not review_only or decision in COUNTING_DECISIONS


def counted_flags(flags: pd.DataFrame, final: bool = True) -> pd.DataFrame:
    """The rows of a flags table (review_only, decision, state columns) that count against the agent."""
    if flags.empty:
        return flags
    states = flags["state"] if "state" in flags else [None] * len(flags)
    keep = [counts(_flag_review_only(r), _decision(d), _decision(st), final)
            for r, d, st in zip(flags["review_only"], flags["decision"], states)]
    return flags[keep]


def _decision(value) -> str | None:
    return value if isinstance(value, str) else None  # NULL comes back from SQL as None or NaN


def _flag_review_only(value) -> bool:
    return bool(value) if value == value and value is not None else False  # NaN != NaN


def dimension_scores(flags: Iterable, pack: RulePack, mean_logprob: float | None, final: bool = True) -> dict[str, float]:
    """100 per dimension minus the points of the flags that count (one rule costs at most twice
    its points per call), and 10 off 语音清晰 when ASR found the speech hard to understand.

    `flags`: `Flag`s (fresh from the rules: no decision) or `Deduction`s (stored, with one)."""
    rules = pack.by_id
    per_rule: dict[str, float] = {}
    for f in flags:
        if not counts(f.review_only, getattr(f, "decision", None), getattr(f, "state", None), final):
            continue
        cap = 2 * (rules[f.rule_id].points if f.rule_id in rules else f.points)
        per_rule[f.rule_id] = min(per_rule.get(f.rule_id, 0.0) + f.points, cap)
    scores = {d: 100.0 for d in DIMENSIONS}
    for rid, pts in per_rule.items():
        if rid in rules:  # a rule since removed from the pack costs nothing
            scores[rules[rid].dimension] -= pts
    if mean_logprob and mean_logprob < UNCLEAR_LOGPROB:
        scores["语音清晰"] -= UNCLEAR_PENALTY
    return {d: max(0.0, round(v, 1)) for d, v in scores.items()}


def weighted_total(dims: dict[str, float], weights: dict[str, float]) -> float:
    w = np.array([weights.get(d, 1.0) for d in dims])
    v = np.array(list(dims.values()))
    return round(float((w * v).sum() / w.sum()), 1) if w.sum() > 0 else 0.0


def reviewed_scores(calls: pd.DataFrame, flags: pd.DataFrame, pack: RulePack | None,
                    weights: dict[str, float], final: bool = True) -> pd.DataFrame:
    """Per call (rows of `calls`, same index): each dimension and the weighted total after review
    (final: after appeals too; final=False: the reviewer's decisions only).

    `calls` needs call_id, dimensions and measures (JSON, as stored); `flags` needs call_id,
    rule_id, points, review_only and decision. Without a pack the machine scores stand."""
    cols = [*DIMENSIONS, "total", *FORM_COLUMNS]
    if calls.empty:
        return pd.DataFrame(columns=cols, index=calls.index)
    by_call: dict[str, list[Deduction]] = {}
    has_state = "state" in flags
    for f in flags.itertuples():
        by_call.setdefault(f.call_id, []).append(Deduction(
            f.rule_id, float(f.points), _flag_review_only(f.review_only), _decision(f.decision),
            _decision(f.state) if has_state else None))
    rows = []
    for c in calls.itertuples():
        mine = by_call.get(c.call_id, ())
        if pack is None:
            dims = {d: json.loads(c.dimensions).get(d) for d in DIMENSIONS}
        else:
            measures = json.loads(c.measures) if isinstance(c.measures, str) else {}
            dims = dimension_scores(mine, pack, measures.get("mean_logprob"), final)
        rows.append({**dims, "total": weighted_total(dims, weights), **_form_columns(c, mine, pack, final)})
    return pd.DataFrame(rows, index=calls.index, columns=cols)


FORM_COLUMNS = ("form", "form_total", "vetoed", "veto_reason")


def _form_columns(call, flags: Iterable[Deduction], pack: RulePack | None, final: bool) -> dict:
    """The call's score on its team's form (audit/detect/forms.py): N/A items out, veto items to 0."""
    form = form_for(pack.forms, getattr(call, "team", None)) if pack is not None else None
    if form is None:
        return {"form": None, "form_total": None, "vetoed": False, "veto_reason": ""}
    rules = pack.by_id
    counted = [(f.rule_id, rules[f.rule_id].category if f.rule_id in rules else "", f.points) for f in flags
               if counts(f.review_only, f.decision, f.state, final)]
    raw = getattr(call, "applicable", None)
    applicable = set(json.loads(raw)) if isinstance(raw, str) else None  # scored before forms: every item applies
    fs = score_form(form, counted, applicable)
    return {"form": fs.form, "form_total": fs.total, "vetoed": fs.vetoed, "veto_reason": fs.veto_reason}
