"""What each review page shows, read from the store: plain data, no HTML (the templates draw it).

Scores come from audit.detect.scores and the week's numbers from the weekly scorecard, so the page,
the workbook and `score --json` agree; numbers are masked as in the workbook.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

from audit.text.masking import mask_numbers, mask_texts
from audit.reports.scorecard import build_scorecard, parse_week, week_of
from audit.workspace.accounts import ROLE_LABELS, Account
from audit.workspace.review_states import APPEALABLE, DECIDABLE, DECISIONS, RESOLUTIONS, STATES, WAITING, may
from audit.reports.reviews import review_queue
from audit.detect.rules import DIMENSIONS, RulePack
from audit.detect.scores import reviewed_scores
from audit.workspace.store import Store, plain

# What a person may do with a flag in each state (audit/workspace/review_states.py decides; this picks the buttons).
ACTION_LABELS = {"confirm": "确认", "dismiss": "驳回", "case": "典型案例", "appeal": "申诉",
                 "upheld": "维持", "overturned": "改判"}
STATE_LABELS = {"pending": "待复核", "confirmed": "已确认", "dismissed": "已驳回", "case": "典型案例",
                "appealed": "申诉中", "upheld": "申诉维持", "overturned": "申诉改判"}
QUEUE_LIMIT = 300


def actions_for(state: str) -> list[str]:
    """The buttons a flag in this state gets; the store's transition still has the last word."""
    current = {v: k for k, v in DECISIONS.items()}.get(state)
    acts = [a for a in DECISIONS if a != current] if state in DECIDABLE else []
    if state in APPEALABLE:
        acts.append("appeal")
    if state == "appealed":
        acts += list(RESOLUTIONS)
    return acts


def offered(state: str, actor: Account | None, call: dict) -> list[str]:
    """The buttons this person gets on a flag of this call: what the state allows and their role may
    do (no account: the single local user, everything). The store's transition checks both again."""
    acts = actions_for(state)
    if actor is None:
        return acts
    return [a for a in acts if may(a, actor.role, actor.agent_id, actor.team, call.get("agent_id"), call.get("team"))]


def history_rows(store: Store, flag_key: str, m: Callable[[str], str]) -> list[dict]:
    """A flag's history for a page: who (with the role they had then), what, why (masked)."""
    return [e | {"reason": m(e["reason"] or ""), "role_label": ROLE_LABELS.get(e.get("role") or "", "")}
            for e in store.review_history(flag_key)]


def masker(mask: bool) -> Callable[[str], str]:
    return mask_numbers if mask else (lambda s: s)


def _name(pack: RulePack | None, category: str) -> str:
    return pack.category_name(category) if pack else category


# ---------------------------------------------------------------- queue

@dataclass
class QueueFilters:
    week: str | None = None
    day: str | None = None
    team: str = ""
    agent: str = ""
    category: str = ""
    state: str = "waiting"  # waiting (pending + appealed), all, or one review state

    def states(self) -> tuple[str, ...]:
        if self.state == "all":
            return STATES
        return WAITING if self.state in ("", "waiting") else (self.state,)


@dataclass
class QueuePage:
    first: str
    last: str
    filters: QueueFilters
    rows: list[dict]
    total: int
    teams: list[str]
    agents: list[tuple[str, str]]
    categories: list[tuple[str, str]]  # (code, display name)


def default_week(store: Store) -> str:
    """The week of the latest scored call (what a reviewer opens the page for)."""
    day = store.last_scored_day()
    return week_of(date.fromisoformat(day) if day else date.today())


def queue_page(store: Store, pack: RulePack | None, filters: QueueFilters, mask: bool) -> QueuePage:
    if filters.day:
        first = last = date.fromisoformat(filters.day).isoformat()
    else:
        filters.week = filters.week or default_week(store)
        start, end = parse_week(filters.week)
        first, last = start.isoformat(), end.isoformat()
    q = review_queue(store, first, last, filters.states())
    everything = q
    for col, value in (("team", filters.team), ("agent_id", filters.agent), ("category", filters.category)):
        if value:
            q = q[q[col].astype(str) == value]
    m = masker(mask)
    rows = [{k: plain(v) for k, v in r.items()} | {"evidence": m(r["evidence"] or ""), "category_name": _name(pack, r["category"])}
            for r in q.head(QUEUE_LIMIT).to_dict(orient="records")]
    agents = everything[["agent_id", "agent_name"]].drop_duplicates().sort_values("agent_id") if len(everything) else everything
    return QueuePage(first, last, filters, rows, len(q),
                     sorted({str(t) for t in everything["team"].dropna()}) if len(everything) else [],
                     [(str(a), str(n or "")) for a, n in agents.itertuples(index=False)] if len(agents) else [],
                     [(c, _name(pack, c)) for c in sorted(set(everything["category"]))] if len(everything) else [])


# ---------------------------------------------------------------- call

@dataclass
class Turn:
    index: int
    speaker: str
    start: float
    end: float
    text: str
    flags: list[str] = field(default_factory=list)  # keys of the flags that start in this turn


@dataclass
class CallPage:
    call: dict
    turns: list[Turn]
    flags: list[dict]
    score: dict  # machine, reviewed and final totals; dimensions after review (final)
    measures: list[tuple[str, str]]
    timeline: dict  # spans to draw: dead air, overlaps, duration


def call_page(store: Store, pack: RulePack | None, weights: dict[str, float], call_id: str, mask: bool,
              actor: Account | None = None) -> CallPage | None:
    call = store.call(call_id)
    if call is None:
        return None
    who = {"agent_id": call.get("agent_id"), "team": call.get("team")}
    m = masker(mask)
    call["caller"] = m(call.get("caller") or "")
    body = store.transcript_body(call_id) or {}
    segs = body.get("segments", [])
    texts = mask_texts([s["text"] for s in segs]) if mask else [s["text"] for s in segs]  # whole call: split numbers too
    turns = [Turn(i, s.get("speaker") or "?", float(s["start"]), float(s["end"]), t) for i, (s, t) in enumerate(zip(segs, texts))]

    flags_df = store.flags_with_reviews([call_id])
    flags = []
    for f in flags_df.to_dict(orient="records"):
        f = {k: plain(v) for k, v in f.items()}
        state = f["state"] or "pending"
        turn = _turn_at(turns, f["start"], f["speaker"])
        if turn is not None:
            turn.flags.append(f["flag_key"])
        flags.append(f | {
            "state": state, "state_label": STATE_LABELS.get(state, state), "actions": offered(state, actor, who),
            "evidence": m(f["evidence"] or ""), "category_name": _name(pack, f["category"]),
            "turn": turn.index if turn is not None else None,
            "history": history_rows(store, f["flag_key"], m),
        })

    scored = store.call_scores([call_id])
    score: dict = {}
    measures_raw: dict = {}
    if len(scored):
        measures_raw = json.loads(scored.iloc[0]["measures"] or "{}")
        final = reviewed_scores(scored, flags_df, pack, weights)
        reviewed = reviewed_scores(scored, flags_df, pack, weights, final=False)
        score = {"machine": plain(scored.iloc[0]["total"]), "reviewed": plain(reviewed.iloc[0]["total"]),
                 "final": plain(final.iloc[0]["total"]), "topic": scored.iloc[0]["topic"],
                 "dimensions": [(d, plain(final.iloc[0][d])) for d in DIMENSIONS],
                 "form": plain(final.iloc[0]["form"]), "form_total": plain(final.iloc[0]["form_total"]),
                 "veto_reason": plain(final.iloc[0]["veto_reason"])}
    duration = float(measures_raw.get("duration") or body.get("duration") or call.get("duration") or 0.0)
    rows = _stack(flags, max(duration, 1.0))
    return CallPage(call, turns, flags, score, _measure_rows(measures_raw, body),
                    {"duration": max(duration, 1.0), "dead_air": measures_raw.get("dead_air", []),
                     "overlaps": measures_raw.get("overlaps", []), "mark_rows": rows})


def _stack(flags: list[dict], duration: float) -> int:
    """Give each timed flag a row on the timeline so that marks at the same moment do not hide
    each other (first row free at its start); returns the number of rows."""
    ends: list[float] = []
    gap = duration * 0.01  # marks are drawn at least about this wide
    for f in sorted((f for f in flags if f["start"] is not None), key=lambda f: f["start"]):
        end = max(f["end"] if f["end"] is not None else f["start"], f["start"] + gap)
        row = next((i for i, e in enumerate(ends) if e <= f["start"]), len(ends))
        if row == len(ends):
            ends.append(end)
        else:
            ends[row] = end
        f["row"] = row
    return max(1, len(ends))


def _turn_at(turns: list[Turn], start, speaker) -> Turn | None:
    """The turn a flag belongs to: the one holding its start (same speaker first), else the nearest."""
    if start is None or not turns:
        return None
    holding = [t for t in turns if t.start - 0.05 <= start <= t.end + 0.05]
    same = [t for t in holding if t.speaker == speaker]
    if same or holding:
        return (same or holding)[0]
    return min(turns, key=lambda t: min(abs(t.start - start), abs(t.end - start)))


def _measure_rows(m: dict, body: dict) -> list[tuple[str, str]]:
    if not m:
        return []
    st = m.get("speech_time", {})
    rows = [("时长", f"{m.get('duration', 0):.1f} s"), ("声道", m.get("layout", ""))]
    if st:
        rows.append(("说话时长", " / ".join(f"{_ROLE.get(k, k)} {v:.1f} s" for k, v in st.items())))
    dead = m.get("dead_air", [])
    rows.append(("静默", f"{len(dead)} 段" + (f", 最长 {max(b - a for a, b in dead):.1f} s" if dead else "")))
    overlaps = m.get("overlaps", [])
    rows.append(("抢话重叠", f"{len(overlaps)} 次"))
    if m.get("agent_median_cps"):
        fastest = max((r["cps"] for r in m.get("rates", [])), default=0.0)
        rows.append(("坐席语速", f"中位 {m['agent_median_cps']:.1f} 字/s, 最快 {fastest:.1f} 字/s"))
    loud = [lv for lv in m.get("levels", []) if lv.get("db_rel", 0) >= 6]
    rows.append(("音量突增", f"{len(loud)} 段 (高于本人中位 6 dB 以上)"))
    for role, p in (m.get("pitch") or {}).items():
        rows.append((f"{_ROLE.get(role, role)}音高", f"中位 {p.get('median_hz', 0):.0f} Hz"))
    if m.get("mean_logprob"):
        rows.append(("识别把握 (平均对数概率)", f"{m['mean_logprob']:.2f}"))
    if body.get("attribution_confidence") is not None and m.get("layout") == "mono":
        note = f" ({body['attribution_note']})" if body.get("attribution_note") else ""
        rows.append(("单声道说话人区分置信度", f"{body['attribution_confidence']:.2f}{note}"))
    rows += [("备注", n) for n in m.get("notes", [])]
    return rows


_ROLE = {"agent": "坐席", "customer": "客户", "mix": "混合"}


# ---------------------------------------------------------------- agent

@dataclass
class AgentPage:
    agent_id: str
    agent_name: str
    week: str
    row: dict | None  # the agent's line of the week (scores, gap to the team, change since last week)
    team_mean: dict
    trend: list[tuple[str, float | None, float | None]]  # (week, mean total, y on the chart 10..90)
    calls: list[dict]
    flags: list[dict]
    dimensions: tuple[str, ...] = DIMENSIONS


def agent_page(store: Store, pack: RulePack | None, weights: dict[str, float], agent_id: str, week: str | None,
               mask: bool, actor: Account | None = None) -> AgentPage:
    """The agent's week. Signed in as that agent, each flag they may appeal gets its 申诉 form."""
    week = week or default_week(store)
    sc = build_scorecard(store, week, pack, weights)
    mine = sc.agents[sc.agents["agent_id"].astype(str) == agent_id] if len(sc.agents) else sc.agents
    row = {k: plain(v) for k, v in mine.iloc[0].items()} if len(mine) else None
    calls = sc.calls[sc.calls["agent_id"].astype(str) == agent_id] if len(sc.calls) else sc.calls
    trend_row = sc.agent_trend.loc[agent_id] if agent_id in sc.agent_trend.index else None
    values = [plain(trend_row[w]) if trend_row is not None else None for w in sc.agent_trend.columns]
    known = [v for v in values if v is not None]
    lo, hi = (min(known) - 1, max(known) + 1) if known else (0, 100)
    trend = [(w, v, None if v is None else round(90 - 80 * (v - lo) / (hi - lo), 1))
             for w, v in zip(sc.agent_trend.columns, values)]
    m = masker(mask)
    flags = sc.flags[sc.flags["call_id"].isin(calls["call_id"])] if len(sc.flags) else sc.flags
    flag_rows = []
    for f in flags.to_dict(orient="records"):
        f = {k: plain(v) for k, v in f.items()}
        state = f["state"] or "pending"
        appeal = (actor is not None and actor.role == "agent" and state in APPEALABLE
                  and "appeal" in offered(state, actor, {"agent_id": agent_id, "team": f.get("team")}))
        flag_rows.append(f | {"state": state, "state_label": STATE_LABELS.get(state, state), "evidence": m(f["evidence"] or ""),
                              "category_name": _name(pack, f["category"]), "can_appeal": appeal,
                              "history": history_rows(store, f["flag_key"], m) if appeal or state != "pending" else []})
    name = (row or {}).get("agent_name") or (str(calls["agent_name"].iloc[0]) if len(calls) else "")
    call_rows = [{k: plain(v) for k, v in c.items()} | {"caller": m(c.get("caller") or "")}
                 for c in calls.sort_values(["day", "start"]).to_dict(orient="records")]
    return AgentPage(agent_id, name, week, row, sc.team_mean, trend, call_rows, flag_rows)


# ---------------------------------------------------------------- clip library

@dataclass
class ClipFilters:
    weeks: int = 4  # how far back from the latest scored day
    kind: str = "case"  # case: typical cases only; flagged: every flag with a time
    category: str = ""
    topic: str = ""
    agent: str = ""
    text: str = ""


@dataclass
class ClipLibrary:
    first: str
    last: str
    filters: ClipFilters
    clips: list[dict]
    total: int
    categories: list[tuple[str, str]]  # (code, display name)
    topics: list[str]
    agents: list[tuple[str, str]]


CLIP_LIMIT = 100


def clip_library(store: Store, pack: RulePack | None, filters: ClipFilters, padding: float, mask: bool) -> ClipLibrary:
    last_day = store.last_scored_day() or date.today().isoformat()
    last = date.fromisoformat(last_day)
    first = last - timedelta(days=7 * max(1, filters.weeks) - 1)
    calls = store.scored_calls(first.isoformat(), last.isoformat())
    flags = store.flags_with_reviews(calls["call_id"].tolist())
    flags = flags[flags["start"].notna()]
    flags = flags.assign(state=flags["state"].fillna("pending"))
    if len(flags):
        flags = flags.merge(calls[["call_id", "day", "agent_id", "agent_name", "topic", "duration"]], on="call_id")
    else:
        flags = flags.reindex(columns=[*flags.columns, "day", "agent_id", "agent_name", "topic", "duration"])
    options = flags
    if filters.kind == "case":  # marked 典型案例 by a reviewer; stays one through an appeal unless overturned
        flags = flags[(flags["decision"] == "case") & (flags["state"] != "overturned")]
    for col, value in (("category", filters.category), ("topic", filters.topic), ("agent_id", filters.agent)):
        if value:
            flags = flags[flags[col].astype(str) == value]
    m = masker(mask)
    transcripts: dict[str, list[dict]] = {}
    clips = []
    for f in flags.sort_values(["day", "call_id", "start"], ascending=[False, True, True]).to_dict(orient="records"):
        if len(clips) >= CLIP_LIMIT and not filters.text:
            break  # the rest are only counted: no transcript read for clips not shown
        if f["call_id"] not in transcripts:
            segs = (store.transcript_body(f["call_id"]) or {}).get("segments", [])
            texts = mask_texts([s["text"] for s in segs]) if mask else [s["text"] for s in segs]
            transcripts[f["call_id"]] = [s | {"text": t} for s, t in zip(segs, texts)]
        a = max(0.0, float(f["start"]) - padding)
        b = min(float(f["duration"] or 1e9), float(f["end"] if f["end"] == f["end"] and f["end"] is not None else f["start"]) + padding)
        excerpt = [s for s in transcripts[f["call_id"]] if s["end"] >= a and s["start"] <= b]
        evidence = m(f["evidence"] or "")
        if filters.text and filters.text not in evidence and not any(filters.text in s["text"] for s in excerpt):
            continue
        clips.append({k: plain(v) for k, v in f.items()} | {
            "evidence": evidence, "clip_start": round(a, 2), "clip_end": round(b, 2), "excerpt": excerpt,
            "state_label": STATE_LABELS.get(f["state"], f["state"]),
            "category_name": _name(pack, f["category"])})
    agents = options[["agent_id", "agent_name"]].drop_duplicates().sort_values("agent_id") if len(options) else options
    total = len(clips) if filters.text else len(flags)
    return ClipLibrary(first.isoformat(), last.isoformat(), filters, clips[:CLIP_LIMIT], total,
                       [(c, _name(pack, c)) for c in sorted(set(options["category"]))] if len(options) else [],
                       sorted({str(t) for t in options["topic"].dropna()}) if len(options) else [],
                       [(str(a), str(n or "")) for a, n in agents.itertuples(index=False)] if len(agents) else [])
