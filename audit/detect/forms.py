"""Score forms (质检评分表) as data: the items a hotline scores a call on, their points, which
rules take points off each item, when an item does not apply (N/A), and veto items (一票否决).

    forms:
      standard:
        description: 通用质检评分表
        teams: []                      # teams that use it; [] = every team without a form of its own
        items:
          - {name: 开场白, points: 10, rules: [script.greeting.incomplete]}
          - {name: 等待用语, points: 10, rules: [script.hold.phrasing], applies: when_rule}
        veto:
          - {categories: [etiquette.forbidden], reason: 使用服务禁语}

A call's form score is 100 x (points kept) / (points of the items that apply): an item whose
rules did not apply to the call (no hold in the call, not a fault call) is N/A and leaves the
denominator instead of giving free marks. A counted flag of a veto item scores the call 0 and
marks it vetoed with the reason.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Iterable

from audit.errors import RuleError

APPLIES = ("always", "when_rule")  # when_rule: N/A unless one of the item's rules applied to the call


@dataclass(frozen=True)
class FormItem:
    name: str
    points: float
    rules: tuple[str, ...]
    applies: str = "always"


@dataclass(frozen=True)
class VetoItem:
    reason: str
    rules: tuple[str, ...] = ()  # rule ids, `*` allowed
    categories: tuple[str, ...] = ()

    def matches(self, rule_id: str, category: str) -> bool:
        return category in self.categories or any(fnmatch.fnmatchcase(rule_id, r) for r in self.rules)


@dataclass(frozen=True)
class ScoreForm:
    name: str
    description: str
    teams: tuple[str, ...]
    items: tuple[FormItem, ...]
    veto: tuple[VetoItem, ...]
    # `callaudit rules test` checks these: {flags: [rule ids that count], applies: [rule ids], score: N}
    # or {flags: [...], vetoed: true}; `applies` left out = every item applies
    examples: tuple[dict, ...] = ()


@dataclass(frozen=True)
class FormScore:
    form: str
    total: float | None  # None: no item applied
    vetoed: bool
    veto_reason: str
    not_applicable: tuple[str, ...]  # items left out of the denominator


def parse_forms(name: str, spec) -> list[ScoreForm]:
    if not isinstance(spec, dict):
        raise RuleError(f"{name}: 'forms' must map form names to {{teams, items, veto}}")
    out = []
    for fname, f in spec.items():
        where = f"{name}: forms.{fname}"
        if not isinstance(f, dict) or set(f) - {"description", "teams", "items", "veto", "examples"}:
            raise RuleError(f"{where}: must be a mapping with description, teams, items, veto, examples")
        examples = f.get("examples") or []
        for i, ex in enumerate(examples):
            if not isinstance(ex, dict) or set(ex) - {"flags", "applies", "score", "vetoed"} or ("score" in ex) == ("vetoed" in ex):
                raise RuleError(f"{where}.examples[{i}]: needs flags (rule ids) and either score or vetoed, optionally applies")
        items = []
        for i, it in enumerate(f.get("items") or []):
            w = f"{where}.items[{i}]"
            if not isinstance(it, dict) or set(it) - {"name", "points", "rules", "applies"} or not it.get("name"):
                raise RuleError(f"{w}: needs name, points, rules (and optionally applies)")
            pts = it.get("points")
            if isinstance(pts, bool) or not isinstance(pts, (int, float)) or pts <= 0:
                raise RuleError(f"{w} ({it['name']}): points must be a number > 0, got {pts!r}")
            rules = it.get("rules") or []
            if not isinstance(rules, list) or not rules:
                raise RuleError(f"{w} ({it['name']}): rules must list the rule ids that take points off this item")
            applies = it.get("applies", "always")
            if applies not in APPLIES:
                raise RuleError(f"{w} ({it['name']}): applies must be one of {', '.join(APPLIES)}, got {applies!r}")
            items.append(FormItem(str(it["name"]), float(pts), tuple(map(str, rules)), applies))
        if not items:
            raise RuleError(f"{where}: needs at least one item")
        veto = []
        for i, v in enumerate(f.get("veto") or []):
            w = f"{where}.veto[{i}]"
            if not isinstance(v, dict) or set(v) - {"rules", "categories", "reason"} or not v.get("reason"):
                raise RuleError(f"{w}: needs a reason and rules or categories")
            if not (v.get("rules") or v.get("categories")):
                raise RuleError(f"{w}: needs rules or categories")
            veto.append(VetoItem(str(v["reason"]), tuple(map(str, v.get("rules") or [])), tuple(map(str, v.get("categories") or []))))
        out.append(ScoreForm(str(fname), str(f.get("description", "")), tuple(map(str, f.get("teams") or [])),
                             tuple(items), tuple(veto), tuple(examples)))
    return out


def check_forms(forms: Iterable[ScoreForm], rule_ids: set[str], source: str) -> None:
    """Every rule a form names exists in the pack; at most one default form; no team in two forms."""
    teams: dict[str, str] = {}
    defaults = []
    for f in forms:
        for it in f.items:
            missing = [r for r in it.rules if r not in rule_ids]
            if missing:
                raise RuleError(f"{source}: forms.{f.name} item {it.name}: no rule {', '.join(missing)} in the pack")
        for t in f.teams:
            if t in teams:
                raise RuleError(f"{source}: team {t} is in forms {teams[t]} and {f.name}")
            teams[t] = f.name
        if not f.teams:
            defaults.append(f.name)
    if len(defaults) > 1:
        raise RuleError(f"{source}: forms {', '.join(defaults)} all have no teams: only one form can be the default")


def form_for(forms: dict[str, ScoreForm], team: str | None) -> ScoreForm | None:
    for f in forms.values():
        if team and team in f.teams:
            return f
    return next((f for f in forms.values() if not f.teams), None)


def score_form(form: ScoreForm, counted: Iterable[tuple[str, str, float]], applicable: set[str] | None) -> FormScore:
    """counted: (rule id, category, points) of the flags that count; applicable: the rule ids that
    applied to the call (None: unknown, every item applies)."""
    counted = list(counted)
    for v in form.veto:
        hit = next(((r, c) for r, c, _ in counted if v.matches(r, c)), None)
        if hit:
            return FormScore(form.name, 0.0, True, f"{v.reason} ({hit[0]})", ())
    kept = possible = 0.0
    na = []
    for it in form.items:
        if it.applies == "when_rule" and applicable is not None and not (set(it.rules) & applicable):
            na.append(it.name)
            continue
        lost = sum(p for r, _, p in counted if r in it.rules)
        kept += max(0.0, it.points - lost)
        possible += it.points
    total = round(100.0 * kept / possible, 1) if possible else None
    return FormScore(form.name, total, False, "", tuple(na))
