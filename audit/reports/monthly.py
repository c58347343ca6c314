"""The month's roll-up: scored calls, mean scores per agent (after review), flags per category."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from audit.workspace.config import Config
from audit.errors import AuditError
from audit.reports.scorecard import REPORT_CATEGORIES
from audit.detect.rules import load_pack
from audit.detect.scores import counted_flags, reviewed_scores
from audit.workspace.store import Store


def monthly_summary(config: Config, month: str) -> dict:
    """Month roll-up: calls, mean scores per agent, flags per category, must-report count (complaint management's monthly summary)."""
    try:
        first = date.fromisoformat(month + "-01")
    except ValueError as exc:
        raise AuditError(f"month {month!r} is not like 2026-11") from exc
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    with Store(config.database) as store:
        calls = store.scored_calls(first.isoformat(), last.isoformat())
        flags = store.flags_with_reviews(calls["call_id"].tolist())
    pack = load_pack(config.rules, [])
    after = reviewed_scores(calls, flags, pack, config.weights)
    calls["total"], calls["form_total"] = after["total"], pd.to_numeric(after["form_total"], errors="coerce")
    calls["vetoed"] = after["vetoed"].astype(bool)
    counted = counted_flags(flags)
    cats = {str(k): int(v) for k, v in counted["category"].value_counts().items()} if len(counted) else {}
    agents = calls.groupby(["agent_id", "agent_name"]).agg(
        calls=("total", "count"), mean_total=("total", "mean"), mean_form_total=("form_total", "mean"), vetoed=("vetoed", "sum"),
    ).round(1).reset_index()
    agents["vetoed"] = agents["vetoed"].astype(int)
    return {
        "month": month, "scored_calls": int(len(calls)),
        "mean_total": round(float(calls["total"].mean()), 1) if len(calls) else None,
        "flags": dict(sorted(cats.items())),
        "to_report": sum(cats.get(c, 0) for c in REPORT_CATEGORIES),
        "vetoed_calls": int(calls["vetoed"].sum()) if len(calls) else 0,
        "vetoed": [{"call_id": c.call_id, "agent_id": c.agent_id, "reason": r}
                   for c, r in zip(calls.itertuples(), after["veto_reason"]) if c.vetoed],
        "agents": agents.to_dict(orient="records"),
    }
