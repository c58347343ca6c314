"""Render a Scorecard as the weekly workbook team leaders open."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from openpyxl.chart import LineChart, Reference
from openpyxl.formatting.rule import CellIsRule, ColorScaleRule
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from audit.reports.xlsx import Book
from audit.masking import mask_numbers
from audit.rules import DIMENSIONS
from audit.scores import counted_flags
from audit.reports.scorecard import FOLLOWUPS, KB_CATEGORIES, REPORT_CATEGORIES, SURGE_RULE, Scorecard

REVIEW_SHEET = "问题明细"
REVIEW_COLUMNS = ("复核", "跟进", "备注", "flag_key")
CATEGORY_NAMES = {
    "script.greeting": "开场白", "script.closing": "结束语", "script.hold": "等待用语", "etiquette.forbidden": "服务禁语",
    "answer.hedging": "答复含糊", "info.collection": "信息收集", "risk.escalation": "投诉升级", "risk.report": "须上报",
    "emotion.customer": "客户情绪", "acoustic.silence": "静音", "acoustic.speech_rate": "语速",
    "acoustic.interruption": "抢话", "acoustic.raised_voice": "提高音量",
}
DECISION_LABEL = {"confirm": "确认", "dismiss": "驳回", "case": "典型案例"}
RED = PatternFill("solid", fgColor="F8CBAD")


def _num(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return round(float(v), 1)


def _cat(c: str) -> str:
    return f"{CATEGORY_NAMES.get(c, c)} ({c})"


def write_scorecard(sc: Scorecard, path: Path, mask: bool = True, clips: dict[str, str] | None = None) -> Path:
    """clips: flag_key -> clip path relative to the workbook's folder."""
    m = mask_numbers if mask else (lambda s: s)
    clips = clips or {}
    book = Book()
    # Flags joined once with their call (per-row lookups are too slow at 100k flags).
    call_cols = ["call_id", "day", "team", "agent_id", "agent_name", "caller", "topic"]
    fx = sc.flags.merge(sc.calls[call_cols], on="call_id", how="left") if len(sc.flags) else sc.flags.reindex(
        columns=list(sc.flags.columns) + call_cols[1:])
    fx["day"] = pd.to_datetime(fx["day"])

    # ---- 总览 Overview
    ov = book.sheet("总览", ["项目", "数值"], autofilter=False)
    ov.add(["周次", sc.week])
    ov.add(["班组", sc.team or "全部"])
    ov.add(["索引通话数", sc.indexed])
    ov.add(["抽检通话数", sc.sampled])
    ov.add(["已评分通话数", len(sc.calls)])
    ov.add(["平均总分", _num(sc.team_mean.get("total"))])
    for d in DIMENSIONS:
        ov.add([f"平均分 · {d}", _num(sc.team_mean.get(d))])
    counted = counted_flags(sc.flags) if len(sc.flags) else sc.flags
    for cat, n in (counted["category"].value_counts().sort_index().items() if len(counted) else []):
        ov.add([f"问题数 · {_cat(cat)}", int(n)])
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

    # ---- 座席评分 Agents
    cats = [c for c in sc.agents.columns if "." in c and not c.startswith(("gap:", "delta:"))]
    head = ["排名", "工号", "姓名", "班组", "抽检通话", "总分", *DIMENSIONS, *[f"问题·{CATEGORY_NAMES.get(c, c)}" for c in cats],
            "总分差距(对团队)", *[f"差距·{d}" for d in DIMENSIONS], "总分较上周", *[f"较上周·{d}" for d in DIMENSIONS]]
    ag = book.sheet("座席评分", head, freeze="D2")
    for a in sc.agents.to_dict(orient="records"):
        ag.add(
            [a["rank"], a["agent_id"], a["agent_name"], a["team"], int(a["calls"]), _num(a["total"]),
             *[_num(a[d]) for d in DIMENSIONS], *[int(a[c]) for c in cats],
             _num(a["gap:total"]), *[_num(a[f"gap:{d}"]) for d in DIMENSIONS],
             _num(a["delta:total"]), *[_num(a[f"delta:{d}"]) for d in DIMENSIONS]],
            number_format={i: "0.0" for i in range(5, len(head))},
        )
    n = len(sc.agents) + 1
    if n > 1:
        first_gap = 7 + len(DIMENSIONS) + len(cats)

        def agent_colors(ws):
            ws.conditional_formatting.add(
                f"F2:{get_column_letter(6 + len(DIMENSIONS))}{n}",
                ColorScaleRule(start_type="num", start_value=60, start_color="F8696B", mid_type="num", mid_value=85,
                               mid_color="FFEB84", end_type="num", end_value=100, end_color="63BE7B"),
            )
            ws.conditional_formatting.add(
                f"{get_column_letter(first_gap)}2:{get_column_letter(len(head))}{n}",
                CellIsRule(operator="lessThan", formula=["-5"], fill=RED),
            )

        ag.extras.append(agent_colors)

    # ---- 问题明细 Flag detail with the review round-trip columns. Counted flags first, then the
    # review-only ones (not deducted until a reviewer confirms them), each group by call and time.
    fl = book.sheet(REVIEW_SHEET, ["日期", "班组", "工号", "姓名", "流水号", "时间(秒)", "类别", "规则", "严重度", "扣分",
                                  "计分", "置信度", "说话人", "证据", "片段", *REVIEW_COLUMNS])
    speaker_name = {"agent": "坐席", "customer": "客户"}
    if len(fx):
        fx = fx.assign(_ro=fx["review_only"].fillna(0).astype(int)).sort_values(["_ro", "call_id", "start"], kind="stable")
    for f in fx.itertuples(index=False):
        ro = bool(f.review_only)
        r = fl.add([
            f.day.to_pydatetime(), f.team, f.agent_id, f.agent_name, f.call_id, _num(f.start),
            _cat(f.category), f.rule_id, f.severity, 0.0 if ro and f.decision not in ("confirm", "case") else f.points,
            "仅复核" if ro else "扣分", None if pd.isna(f.confidence) else round(float(f.confidence), 2), speaker_name.get(f.speaker, f.speaker),
            m(f.evidence or ""), "", DECISION_LABEL.get(f.decision or "", ""), f.followup or "", f.note or "", f.flag_key,
        ], number_format={0: "yyyy-mm-dd", 11: "0.00"})
        if f.flag_key in clips:
            fl.link(r, 15, clips[f.flag_key], "播放")
    def review_choices(ws, last=max(len(fl.rows) + 1, 2)):
        dv1 = DataValidation(type="list", formula1='"确认,驳回,典型案例"', allow_blank=True)
        dv2 = DataValidation(type="list", formula1=f'"{",".join(FOLLOWUPS)}"', allow_blank=True)
        dv1.add(f"P2:P{last}")
        dv2.add(f"Q2:Q{last}")
        ws.data_validations.append(dv1)
        ws.data_validations.append(dv2)

    fl.extras.append(review_choices)
    fl.widths[13] = 60

    # ---- 长通话 Long calls
    lc = book.sheet("长通话", ["日期", "工号", "姓名", "流水号", "时长(秒)", "话题", "团队同话题中位时长(秒)", "坐席说话占比",
                             "客户说话占比", "等待/静音(秒)", "查询次数", "抢话次数", "客户情绪激动", "服务隐患", "问题"])
    if len(sc.calls):
        medians = sc.calls.groupby("topic")["duration"].median()
        cats_of = sc.flags.groupby("call_id")["category"].agg(lambda c: sorted(set(c))) if len(sc.flags) else {}
        for c in sc.calls[sc.calls["measures"].str.contains('"long_call": {', regex=False, na=False)].itertuples(index=False):
            lcd = json.loads(c.measures)["long_call"]
            fcats = cats_of.get(c.call_id, []) if len(sc.flags) else []
            lc.add([pd.Timestamp(c.day).to_pydatetime(), c.agent_id, c.agent_name, c.call_id, _num(c.duration), c.topic,
                    _num(medians.get(c.topic)), lcd["agent_talk_share"], lcd["customer_talk_share"], lcd["hold_silence_s"],
                    lcd["system_checks"], lcd["interruptions"], "是" if lcd["customer_emotion"] else "否",
                    "是" if lcd["service_risk"] else "否", "、".join(CATEGORY_NAMES.get(x, x) for x in fcats) or "无"],
                   number_format={0: "yyyy-mm-dd", 7: "0%", 8: "0%"})

    # ---- 上报事项 To report
    rp = book.sheet("上报事项", ["日期", "工号", "姓名", "流水号", "主叫号码", "类别", "证据", "跟进状态", "备注"])
    for f in fx[fx["category"].isin(REPORT_CATEGORIES)].itertuples(index=False):
        rp.add([f.day.to_pydatetime(), f.agent_id, f.agent_name, f.call_id, m(f.caller or ""),
                _cat(f.category), m(f.evidence or ""), f.followup or "待跟进", f.note or ""], number_format={0: "yyyy-mm-dd"})

    # ---- 典型案例 Cases, 知识库候选 Knowledge-base candidates
    cs = book.sheet("典型案例", ["日期", "工号", "姓名", "流水号", "类别", "证据", "备注", "片段"])
    for f in fx[fx["decision"] == "case"].itertuples(index=False):
        r = cs.add([f.day.to_pydatetime(), f.agent_id, f.agent_name, f.call_id, _cat(f.category),
                    m(f.evidence or ""), f.note or "", ""], number_format={0: "yyyy-mm-dd"})
        if f.flag_key in clips:
            cs.link(r, 8, clips[f.flag_key], "播放")
    kb = book.sheet("知识库候选", ["话题", "通话数", "流水号", "类别", "坐席答不上或需查询的内容"])
    if len(fx):
        kbf = counted_flags(fx)
        kbf = kbf[kbf["category"].isin(KB_CATEGORIES)]
        for topic, grp in kbf.groupby("topic"):
            for f in grp.itertuples(index=False):
                kb.add([topic, grp["call_id"].nunique(), f.call_id, _cat(f.category), m(f.evidence or "")])

    # ---- 话题 Topics
    tp = book.sheet("话题", ["日期", "话题", "通话数", "前7天日均", "突增"])
    for t in sc.topics.itertuples(index=False):
        if not t.calls and not t.surge:
            continue
        tp.add([pd.Timestamp(t.day).to_pydatetime(), t.topic, t.calls, t.baseline, "突增" if t.surge else ""],
               number_format={0: "yyyy-mm-dd"})
    tp.extras.append(lambda ws, n=len(tp.rows) + 1: ws.conditional_formatting.add(
        f"E2:E{max(n, 2)}", CellIsRule(operator="equal", formula=['"突增"'], fill=RED)))
    tp.add([None])
    tp.add([f"突增规则：{SURGE_RULE}（按已评分通话的话题计数）"])

    # ---- 规则精度 Rule precision
    rpq = book.sheet("规则精度", ["规则", "类别", "问题数", "已复核", "确认", "驳回", "精度(确认/已复核)"])
    for q in sc.rule_precision.itertuples(index=False):
        rpq.add([q.rule_id, _cat(q.category), int(q.flags), int(q.reviewed), int(q.confirmed),
                 int(q.dismissed), None if pd.isna(q.precision) else float(q.precision)], number_format={6: "0%"})

    # ---- 片段索引 Clip index
    ci = book.sheet("片段索引", ["流水号", "工号", "类别", "开始(秒)", "片段"])
    for f in fx.itertuples(index=False):
        if f.flag_key in clips:
            r = ci.add([f.call_id, f.agent_id, _cat(f.category), _num(f.start), ""])
            ci.link(r, 5, clips[f.flag_key], clips[f.flag_key])
    return book.save(path)
