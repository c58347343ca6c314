"""Reviewers' decisions brought back from an edited scorecard into the store, through the same
review flow as `callaudit review decide` (audit/workspace/review_states.py).

Who decided is the row's 复核人. Once the workspace has accounts it must name one (enabled), and
that account's role must allow the decision, as on the review page; other rows are refused and
named. Without accounts, 复核人 is recorded as written (empty: the workbook's file name)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from openpyxl import load_workbook

from audit.workspace.config import Config
from audit.errors import AuditError
from audit.reports.scorecard import FOLLOWUPS, REPORT_CATEGORIES, REVIEW_DECISIONS
from audit.reports.workbook import REVIEW_SHEET
from audit.workspace import accounts
from audit.workspace.review_states import WAITING, ReviewError
from audit.workspace.store import Store


@dataclass
class ReviewImport:
    updated: int
    skipped: list[str]


def import_reviews(config: Config, workbook: Path) -> ReviewImport:
    """Read the 复核/跟进/备注 columns of an edited scorecard back into the store (empty cells change nothing)."""
    try:
        wb = load_workbook(workbook, read_only=True, data_only=True)
    except Exception as exc:
        raise AuditError(f"cannot open {workbook}: {exc}") from exc
    if REVIEW_SHEET not in wb.sheetnames:
        raise AuditError(f"{workbook.name}: no sheet {REVIEW_SHEET}; is this a callaudit scorecard?")
    rows = wb[REVIEW_SHEET].iter_rows(values_only=True)
    header = [str(h or "") for h in next(rows, [])]
    try:
        col = {k: header.index(k) for k in ("复核", "跟进", "备注", "flag_key")}
    except ValueError as exc:
        raise AuditError(f"{workbook.name}: sheet {REVIEW_SHEET} lacks a column ({exc})") from exc
    by_col = header.index("复核人") if "复核人" in header else None  # workbooks written before accounts lack it
    updated, skipped = 0, []
    with Store(config.database) as store, store.tx():
        known = store.flag_keys()
        with_accounts = accounts.accounts_exist(store)
        for i, row in enumerate(rows, start=2):
            key = row[col["flag_key"]]
            decision_raw, followup, note = (str(row[col[k]] or "").strip() for k in ("复核", "跟进", "备注"))
            if not (decision_raw or followup or note):
                continue
            if key not in known:
                skipped.append(f"row {i}: flag {key} is not in the workspace")
                continue
            decision = REVIEW_DECISIONS.get(decision_raw) if decision_raw else None
            if decision_raw and decision is None:
                skipped.append(f"row {i}: 复核 '{decision_raw}' is not one of 确认/驳回/典型案例")
                continue
            if followup and followup not in FOLLOWUPS:
                skipped.append(f"row {i}: 跟进 '{followup}' is not one of {'/'.join(FOLLOWUPS)}")
                continue
            if decision and decision != store.review_of(key)[0]:
                who = str(row[by_col] or "").strip() if by_col is not None else ""
                actor = None
                if with_accounts:
                    actor = accounts.find(store, who) if who else None
                    if not who:
                        skipped.append(f"row {i}: 复核人 is empty; this workspace has accounts, so a decision names "
                                       "the reviewer's account")
                        continue
                    if actor is None or actor.disabled:
                        skipped.append(f"row {i}: 复核人 '{who}' is not an account of this workspace (callaudit users list)")
                        continue
                try:  # the same flow as `review decide`: an appealed or settled flag keeps its decision
                    store.transition(key, decision, by=who or f"workbook {Path(workbook).name}", reason=note or None,
                                     actor=actor)
                except ReviewError as exc:
                    skipped.append(f"row {i}: {exc}")
                    continue
            store.put_review_note(key, followup or None, note or None)
            updated += 1
    return ReviewImport(updated, skipped)




LONG_CALL_S = 400.0
QUEUE_COLUMNS = ["flag_key", "state", "day", "call_id", "agent_id", "agent_name", "team", "category", "rule_id", "start",
                 "confidence", "review_only", "duration", "evidence"]


def review_queue(store: Store, first: str, last: str, states: tuple[str, ...] = WAITING) -> pd.DataFrame:
    """Flags of the days first..last that wait for someone (pending, or appealed), most important
    first: must-report and escalation risks, then appeals a lead must settle, then review-only
    and least sure flags, then long calls. `states`: other review states, in the same order."""
    calls = store.scored_calls(first, last)
    flags = store.flags_with_reviews(calls["call_id"].tolist())
    if flags.empty:
        return pd.DataFrame(columns=QUEUE_COLUMNS)
    flags["state"] = flags["state"].where(flags["state"].notna(), "pending")
    waiting = flags[flags["state"].isin(states)].merge(
        calls[["call_id", "day", "agent_id", "agent_name", "team", "duration"]], on="call_id")
    waiting = waiting.assign(
        _risk=~waiting["category"].isin(REPORT_CATEGORIES), _appeal=waiting["state"] != "appealed",
        _sure=~waiting["review_only"].astype(bool), _long=waiting["duration"] <= LONG_CALL_S)
    waiting = waiting.sort_values(["_risk", "_appeal", "_sure", "confidence", "_long", "day", "call_id", "start"], kind="stable")
    return waiting[QUEUE_COLUMNS].reset_index(drop=True)
