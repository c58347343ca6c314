"""`callaudit rules test`: run every rule's own examples (flag: must fire and count,
review: must fire for a reviewer only, with no points; ok: must not fire at all).

An example is a plain utterance (said by the rule's speaker at 0-4 s), or a list of
turns "A|C START-END [+DB] TEXT" for rules about timing, loudness and order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from audit.detect.acoustic import measures_from_segments
from audit.errors import RuleError
from audit.detect.flags import CallView, apply_rules
from audit.detect.forms import score_form
from audit.detect.rules import Rule, RulePack
from audit.asr.transcript import AGENT, CUSTOMER, Segment

_TURN = re.compile(r"^(A|C)\s+([\d.]+)-([\d.]+)\s+(?:([+-][\d.]+)\s+)?(.+)$")


@dataclass(frozen=True)
class ExampleResult:
    rule_id: str
    expect: str  # "flag", "review" or "ok"
    example: str
    passed: bool
    got: int  # flags raised


def example_view(rule: Rule, example) -> CallView:
    turns = example if isinstance(example, list) else [example]
    segs, levels = [], {}
    for i, t in enumerate(turns):
        if not isinstance(t, str):
            raise RuleError(f"{rule.source}: rule {rule.id}: example turns must be text, got {t!r}")
        m = _TURN.match(t.strip())
        if m:
            spk = AGENT if m.group(1) == "A" else CUSTOMER
            segs.append(Segment(spk, float(m.group(2)), float(m.group(3)), m.group(5)))
            if m.group(4):
                levels[i] = float(m.group(4))
        elif isinstance(example, list):
            raise RuleError(f"{rule.source}: rule {rule.id}: example turn {t!r} is not 'A|C START-END [+DB] TEXT'")
        else:
            spk = CUSTOMER if rule.speaker == "customer" else AGENT
            segs.append(Segment(spk, 0.0, 4.0, t))
    return CallView("example", tuple(segs), measures_from_segments(segs, levels_db=levels))


def run_examples(pack: RulePack) -> list[ExampleResult]:
    out = []
    for rule in pack.rules:
        single = RulePack((rule,), pack.topics, pack.digest)
        for expect in ("flag", "review", "ok"):
            for ex in rule.examples.get(expect) or []:
                flags = [f for f in apply_rules(single, example_view(rule, ex)) if f.rule_id == rule.id]
                counted = [f for f in flags if not f.review_only]
                passed = {"flag": bool(counted), "review": bool(flags) and not counted, "ok": not flags}[expect]
                text = ex if isinstance(ex, str) else " / ".join(ex)
                out.append(ExampleResult(rule.id, expect, text, passed, len(flags)))
    rules = pack.by_id
    for form in pack.forms.values():
        for ex in form.examples:
            counted = [(r, rules[r].category if r in rules else "", rules[r].points if r in rules else 0.0) for r in ex["flags"]]
            got = score_form(form, counted, set(ex["applies"]) if "applies" in ex else None)
            passed = got.vetoed if ex.get("vetoed") else (not got.vetoed and got.total == float(ex["score"]))
            want = "vetoed" if ex.get("vetoed") else f"score {ex['score']}"
            text = f"flags {', '.join(ex['flags']) or '-'} -> {want} (got {'vetoed' if got.vetoed else got.total})"
            out.append(ExampleResult(f"form {form.name}", "form", text, passed, len(ex["flags"])))
    return out
