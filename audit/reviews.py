"""Reviewers' decisions brought back from an edited scorecard into the store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openpyxl import load_workbook

from audit.config import Config
from audit.errors import AuditError
from audit.reports.scorecard import FOLLOWUPS, REVIEW_DECISIONS
from audit.reports.workbook import REVIEW_SHEET
from audit.store import Store


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
    updated, skipped = 0, []
    with Store(config.database) as store, store.tx():
        known = store.flag_keys()
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
            store.put_review(key, decision, followup or None, note or None)
            updated += 1
    return ReviewImport(updated, skipped)


