"""The weekly workbook team leaders open: one small writer per sheet, its columns declared as data.

A sheet's columns are `Column`s (header, how to get the cell from a row, number format, an
optional hyperlink), so a new column is one line and the review round-trip columns are found
by name, not by position. Category names come from the rule pack (`categories:` in its files).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd
from openpyxl.chart import LineChart, Reference
from openpyxl.formatting.rule import CellIsRule, ColorScaleRule
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from audit.text.masking import mask_numbers
from audit.reports.scorecard import FOLLOWUPS, KB_CATEGORIES, REPORT_CATEGORIES, SURGE_RULE, Scorecard
from audit.reports.xlsx import Book, Sheet
from audit.detect.rules import DIMENSIONS
from audit.detect.scores import counted_flags

REVIEW_SHEET = "问题明细"
REVIEW_COLUMNS = ("复核", "跟进", "备注", "flag_key")
DECISION_LABEL = {"confirm": "确认", "dismiss": "驳回", "case": "典型案例"}
SPEAKER_LABEL = {"agent": "坐席", "customer": "客户"}
RED = PatternFill("solid", fgColor="F8CBAD")
DAY = "yyyy-mm-dd"


def _num(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return round(float(v), 1)


def _day(v):
    return pd.Timestamp(v).to_pydatetime()


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], Any]
    fmt: str | None = None
    link: Callable[[Any], str | None] | None = None  # row -> target; the cell then shows link_text
    link_text: str | None = None


@dataclass
class Context:
    """What every sheet writer reads: the week, masking, clip links and display names."""

    sc: Scorecard
    mask: Callable[[str], str]
    clips: dict[str, str]
    flags: pd.DataFrame = field(default_factory=pd.DataFrame)  # the week's flags joined with their call

    def cat(self, code: str) -> str:
        return f"{self.name(code)} ({code})"

    def name(self, code: str) -> str:
        return self.sc.category_names.get(code, code)

    def clip(self, flag) -> str | None:
        return self.clips.get(flag.flag_key)


def table(book: Book, title: str, columns: list[Column], rows: Iterable, **kw) -> Sheet:
    """A sheet of `columns` with one line per row."""
    sheet = book.sheet(title, [c.header for c in columns], **kw)
    formats = {i: c.fmt for i, c in enumerate(columns) if c.fmt}
    linked = [(i, c) for i, c in enumerate(columns) if c.link]
    for row in rows:
        r = sheet.add([c.value(row) for c in columns], number_format=formats)
        for i, c in linked:
            target = c.link(row)
            if target:
                sheet.link(r, i + 1, target, c.link_text or target)
    return sheet


def _letter(columns: list[Column], header: str) -> str:
    return get_column_letter([c.header for c in columns].index(header) + 1)


# ---------------------------------------------------------------- sheets


def overview(book: Book, ctx: Context) -> None:
    sc = ctx.sc
    ov = book.sheet("总览", ["项目", "数值"], autofilter=False)
    for item in (["周次", sc.week], ["班组", sc.team or "全部"], ["索引通话数", sc.indexed], ["抽检通话数", sc.sampled],
                 ["已评分通话数", len(sc.calls)], ["平均总分", _num(sc.team_mean.get("total"))]):
        ov.add(item)
    for d in DIMENSIONS:
        ov.add([f"平均分 · {d}", _num(sc.team_mean.get(d))])
    counted = counted_flags(sc.flags) if len(sc.flags) else sc.flags
    for cat, n in (counted["category"].value_counts().sort_index().items() if len(counted) else []):
        ov.add([f"问题数 · {ctx.cat(cat)}", int(n)])
    waiting = sc.flags[sc.flags["review_only"].fillna(0).astype(bool) & sc.flags["decision"].isna()] if len(sc.flags) else sc.flags
    ov.add(["待复核(仅复核，不扣分)", len(waiting)])
    ov.add([None, None])
    ov.add(["座席排名", "总分"])
    for a in sc.agents.itertuples(index=False):
        ov.add([f"{a.rank}. {a.agent_name or ''} ({a.agent_id})", _num(a.total)])
    ov.add([None, None])
    t0 = ov.add(["周次", "团队平均总分"])
    for wk, val in sc.trend:
        ov.add([wk, val])
    ov.widths[0] = max(ov.widths[0], 30)

    def trend_chart(ws, t0=t0, n=len(sc.trend)):
        chart = LineChart()
        chart.title = "团队平均总分（近8周）"
        chart.y_axis.title = "总分"
        chart.add_data(Reference(ws, min_col=2, min_row=t0, max_row=t0 + n), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=t0 + 1, max_row=t0 + n))
        chart.height, chart.width = 7, 16
        ws.add_chart(chart, "D2")

    ov.extras.append(trend_chart)


def agents(book: Book, ctx: Context) -> None:
    sc = ctx.sc
    cats = [c for c in sc.agents.columns if "." in c and not c.startswith(("gap:", "delta:"))]
    score = lambda key: (lambda a: _num(a[key]))  # noqa: E731
    columns = [
        Column("排名", lambda a: a["rank"]), Column("工号", lambda a: a["agent_id"]), Column("姓名", lambda a: a["agent_name"]),
        Column("班组", lambda a: a["team"]), Column("抽检通话", lambda a: int(a["calls"])),
        Column("总分", score("total"), "0.0"), *[Column(d, score(d), "0.0") for d in DIMENSIONS],
        Column("评分表得分", lambda a: _num(a.get("form_total")), "0.0"), Column("一票否决", lambda a: int(a.get("vetoed", 0) or 0)),
        *[Column(f"问题·{ctx.name(c)}", lambda a, c=c: int(a[c])) for c in cats],
        Column("申诉撤销", lambda a: int(a.get("overturned", 0) or 0)),
        Column("总分差距(对团队)", score("gap:total"), "0.0"), *[Column(f"差距·{d}", score(f"gap:{d}"), "0.0") for d in DIMENSIONS],
        Column("总分较上周", score("delta:total"), "0.0"), *[Column(f"较上周·{d}", score(f"delta:{d}"), "0.0") for d in DIMENSIONS],
    ]
    ag = table(book, "座席评分", columns, sc.agents.to_dict(orient="records"), freeze="D2")
    n = len(sc.agents) + 1
    if n > 1:
        scores = f"{_letter(columns, '总分')}2:{_letter(columns, DIMENSIONS[-1])}{n}"
        gaps = f"{_letter(columns, '总分差距(对团队)')}2:{get_column_letter(len(columns))}{n}"

        def agent_colors(ws):
            ws.conditional_formatting.add(scores, ColorScaleRule(
                start_type="num", start_value=60, start_color="F8696B", mid_type="num", mid_value=85,
                mid_color="FFEB84", end_type="num", end_value=100, end_color="63BE7B"))
            ws.conditional_formatting.add(gaps, CellIsRule(operator="lessThan", formula=["-5"], fill=RED))

        ag.extras.append(agent_colors)


def flag_detail(book: Book, ctx: Context) -> None:
    """Every flag (an episode of close hits) with the review round-trip columns. Counted flags
    first, then the review-only ones (no points until a reviewer confirms), each by call and time."""
    m = ctx.mask
    fx = ctx.flags
    if len(fx):
        fx = fx.assign(_ro=fx["review_only"].fillna(0).astype(int)).sort_values(["_ro", "call_id", "start"], kind="stable")

    def costs(f):
        return 0.0 if f.review_only and f.decision not in ("confirm", "case") else f.points

    columns = [
        Column("日期", lambda f: _day(f.day), DAY), Column("班组", lambda f: f.team), Column("工号", lambda f: f.agent_id),
        Column("姓名", lambda f: f.agent_name), Column("流水号", lambda f: f.call_id),
        Column("时间(秒)", lambda f: _num(f.start)), Column("结束(秒)", lambda f: _num(f.end)),
        Column("次数", lambda f: int(f.hits) if f.hits == f.hits else 1),
        Column("类别", lambda f: ctx.cat(f.category)), Column("规则", lambda f: f.rule_id), Column("严重度", lambda f: f.severity),
        Column("扣分", costs), Column("计分", lambda f: "仅复核" if f.review_only else "扣分"),
        Column("置信度", lambda f: None if pd.isna(f.confidence) else round(float(f.confidence), 2), "0.00"),
        Column("说话人", lambda f: SPEAKER_LABEL.get(f.speaker, f.speaker)), Column("证据", lambda f: m(f.evidence or "")),
        Column("片段", lambda f: "", link=ctx.clip, link_text="播放"),
        Column("复核", lambda f: DECISION_LABEL.get(f.decision or "", "")),
        Column("复核人", lambda f: ""),  # who decides a new 复核 (with accounts: their account's name)
        Column("跟进", lambda f: f.followup or ""),
        Column("备注", lambda f: f.note or ""), Column("flag_key", lambda f: f.flag_key),
    ]
    fl = table(book, REVIEW_SHEET, columns, fx.itertuples(index=False))

    def review_choices(ws, last=max(len(fl.rows) + 1, 2)):
        for header, choices in (("复核", "确认,驳回,典型案例"), ("跟进", ",".join(FOLLOWUPS))):
            dv = DataValidation(type="list", formula1=f'"{choices}"', allow_blank=True)
            col = _letter(columns, header)
            dv.add(f"{col}2:{col}{last}")
            ws.data_validations.append(dv)

    fl.extras.append(review_choices)
    fl.widths[[c.header for c in columns].index("证据")] = 60


def vetoed_calls(book: Book, ctx: Context) -> None:
    """Calls scored 0 by a veto item of their form (一票否决), with the reason."""
    calls = ctx.sc.calls
    rows = calls[calls["vetoed"].astype(bool)].itertuples(index=False) if "vetoed" in calls and len(calls) else ()
    columns = [
        Column("日期", lambda c: _day(c.day), DAY), Column("工号", lambda c: c.agent_id), Column("姓名", lambda c: c.agent_name),
        Column("流水号", lambda c: c.call_id), Column("评分表", lambda c: c.form), Column("否决原因", lambda c: c.veto_reason),
    ]
    table(book, "一票否决", columns, rows)


APPEAL_STATE = {"appealed": "待处理", "upheld": "维持", "overturned": "撤销"}


def appeals(book: Book, ctx: Context) -> None:
    """Every appeal (申诉) on the week's flags: who appealed and why, and how a lead settled it."""
    ap = ctx.sc.appeals
    if len(ap):
        ap = ap.merge(ctx.sc.calls[["call_id", "day", "agent_id", "agent_name"]], on="call_id", how="left")
    m = ctx.mask
    columns = [
        Column("日期", lambda a: _day(a.day), DAY), Column("工号", lambda a: a.agent_id), Column("姓名", lambda a: a.agent_name),
        Column("流水号", lambda a: a.call_id), Column("类别", lambda a: ctx.cat(a.category)), Column("证据", lambda a: m(a.evidence or "")),
        Column("申诉人", lambda a: a.appealed_by), Column("申诉理由", lambda a: m(a.appeal_reason or "")),
        Column("申诉时间", lambda a: a.appealed_at), Column("状态", lambda a: APPEAL_STATE.get(a.state, a.state)),
        Column("处理人", lambda a: a.resolved_by if isinstance(a.resolved_by, str) else ""),
        Column("处理意见", lambda a: m(a.resolution_reason) if isinstance(a.resolution_reason, str) else ""),
        Column("处理时间", lambda a: a.resolved_at if isinstance(a.resolved_at, str) else ""), Column("flag_key", lambda a: a.flag_key),
    ]
    table(book, "申诉", columns, ap.itertuples(index=False) if len(ap) else ())


def long_calls(book: Book, ctx: Context) -> None:
    sc = ctx.sc
    rows = []
    if len(sc.calls):
        medians = sc.calls.groupby("topic")["duration"].median()
        cats_of = sc.flags.groupby("call_id")["category"].agg(lambda c: sorted(set(c))) if len(sc.flags) else pd.Series(dtype=object)
        for c in sc.calls[sc.calls["measures"].str.contains('"long_call": {', regex=False, na=False)].itertuples(index=False):
            rows.append((c, json.loads(c.measures)["long_call"], medians.get(c.topic), cats_of.get(c.call_id, [])))
    yes = lambda v: "是" if v else "否"  # noqa: E731
    columns = [
        Column("日期", lambda r: _day(r[0].day), DAY), Column("工号", lambda r: r[0].agent_id), Column("姓名", lambda r: r[0].agent_name),
        Column("流水号", lambda r: r[0].call_id), Column("时长(秒)", lambda r: _num(r[0].duration)), Column("话题", lambda r: r[0].topic),
        Column("团队同话题中位时长(秒)", lambda r: _num(r[2])), Column("坐席说话占比", lambda r: r[1]["agent_talk_share"], "0%"),
        Column("客户说话占比", lambda r: r[1]["customer_talk_share"], "0%"), Column("等待/静音(秒)", lambda r: r[1]["hold_silence_s"]),
        Column("查询次数", lambda r: r[1]["system_checks"]), Column("抢话次数", lambda r: r[1]["interruptions"]),
        Column("客户情绪激动", lambda r: yes(r[1]["customer_emotion"])), Column("服务隐患", lambda r: yes(r[1]["service_risk"])),
        Column("问题", lambda r: "、".join(ctx.name(x) for x in r[3]) or "无"),
    ]
    table(book, "长通话", columns, rows)


def to_report(book: Book, ctx: Context) -> None:
    m, fx = ctx.mask, ctx.flags
    columns = [
        Column("日期", lambda f: _day(f.day), DAY), Column("工号", lambda f: f.agent_id), Column("姓名", lambda f: f.agent_name),
        Column("流水号", lambda f: f.call_id), Column("主叫号码", lambda f: m(f.caller or "")),
        Column("类别", lambda f: ctx.cat(f.category)), Column("证据", lambda f: m(f.evidence or "")),
        Column("跟进状态", lambda f: f.followup or "待跟进"), Column("备注", lambda f: f.note or ""),
    ]
    table(book, "上报事项", columns, fx[fx["category"].isin(REPORT_CATEGORIES)].itertuples(index=False))


def cases(book: Book, ctx: Context) -> None:
    m, fx = ctx.mask, ctx.flags
    columns = [
        Column("日期", lambda f: _day(f.day), DAY), Column("工号", lambda f: f.agent_id), Column("姓名", lambda f: f.agent_name),
        Column("流水号", lambda f: f.call_id), Column("类别", lambda f: ctx.cat(f.category)),
        Column("证据", lambda f: m(f.evidence or "")), Column("备注", lambda f: f.note or ""),
        Column("片段", lambda f: "", link=ctx.clip, link_text="播放"),
    ]
    table(book, "典型案例", columns, fx[fx["decision"] == "case"].itertuples(index=False))


def knowledge_base(book: Book, ctx: Context) -> None:
    """What agents could not answer or had to look up, by topic: candidates for the knowledge base."""
    rows = []
    if len(ctx.flags):
        kbf = counted_flags(ctx.flags)
        kbf = kbf[kbf["category"].isin(KB_CATEGORIES)]
        for topic, grp in kbf.groupby("topic"):
            rows += [(topic, grp["call_id"].nunique(), f) for f in grp.itertuples(index=False)]
    columns = [
        Column("话题", lambda r: r[0]), Column("通话数", lambda r: r[1]), Column("流水号", lambda r: r[2].call_id),
        Column("类别", lambda r: ctx.cat(r[2].category)), Column("坐席答不上或需查询的内容", lambda r: ctx.mask(r[2].evidence or "")),
    ]
    table(book, "知识库候选", columns, rows)


def topics(book: Book, ctx: Context) -> None:
    columns = [
        Column("日期", lambda t: _day(t.day), DAY), Column("话题", lambda t: t.topic), Column("通话数", lambda t: t.calls),
        Column("前7天日均", lambda t: t.baseline), Column("突增", lambda t: "突增" if t.surge else ""),
    ]
    tp = table(book, "话题", columns, (t for t in ctx.sc.topics.itertuples(index=False) if t.calls or t.surge))
    col = _letter(columns, "突增")
    tp.extras.append(lambda ws, n=len(tp.rows) + 1: ws.conditional_formatting.add(
        f"{col}2:{col}{max(n, 2)}", CellIsRule(operator="equal", formula=['"突增"'], fill=RED)))
    tp.add([None])
    tp.add([f"突增规则：{SURGE_RULE}（按已评分通话的话题计数）"])


def rule_precision(book: Book, ctx: Context) -> None:
    columns = [
        Column("规则", lambda q: q.rule_id), Column("类别", lambda q: ctx.cat(q.category)), Column("问题数", lambda q: int(q.flags)),
        Column("已复核", lambda q: int(q.reviewed)), Column("确认", lambda q: int(q.confirmed)), Column("驳回", lambda q: int(q.dismissed)),
        Column("精度(确认/已复核)", lambda q: None if pd.isna(q.precision) else float(q.precision), "0%"),
    ]
    table(book, "规则精度", columns, ctx.sc.rule_precision.itertuples(index=False))


def clip_index(book: Book, ctx: Context) -> None:
    columns = [
        Column("流水号", lambda f: f.call_id), Column("工号", lambda f: f.agent_id), Column("类别", lambda f: ctx.cat(f.category)),
        Column("开始(秒)", lambda f: _num(f.start)), Column("片段", lambda f: "", link=ctx.clip),
    ]
    table(book, "片段索引", columns, (f for f in ctx.flags.itertuples(index=False) if ctx.clip(f)))


SHEETS = (overview, agents, flag_detail, vetoed_calls, appeals, long_calls, to_report, cases, knowledge_base, topics, rule_precision,
          clip_index)


def write_scorecard(sc: Scorecard, path: Path, mask: bool = True, clips: dict[str, str] | None = None) -> Path:
    """The workbook of one week. clips: flag_key -> clip path relative to the workbook's folder."""
    # Flags joined once with their call (per-row lookups are too slow at 100k flags).
    call_cols = ["call_id", "day", "team", "agent_id", "agent_name", "caller", "topic"]
    fx = sc.flags.merge(sc.calls[call_cols], on="call_id", how="left") if len(sc.flags) else sc.flags.reindex(
        columns=list(sc.flags.columns) + call_cols[1:])
    ctx = Context(sc, mask_numbers if mask else (lambda s: s), clips or {}, fx)
    book = Book()
    for write in SHEETS:
        write(book, ctx)
    return book.save(path)
