"""Rule packs: YAML files a QA lead reads and edits, validated with errors naming file, rule and field.

A pack file holds `rules:` (and optionally `topics:`). Rule types:
  match    flag where a phrase is said (by `speaker`, inside `window`)
  require  flag when phrases are NOT said (every group in `all`, or the `pattern`)
  hold     around each dead-air stretch: hold phrase before it, return phrase after it
  acoustic flag on a measure: overlap, level (loudness vs own baseline), speech_rate
Every rule carries its own examples; `callaudit rules test` checks them.

Shared `concepts:` (brush-off, hedge, threat ...) hold phrases, regexes and example
sentences that several rules reuse: `pattern: {concepts: [threat]}` takes the phrases,
`similar: {concept: threat}` the sentences (audit/detect/similarity.py). `scope:` lists what
cancels a hit (negated, past, reported: audit/detect/scope.py).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml

from audit.detect.anchors import RELATIONS, Anchor, parse_anchor
from audit.errors import RuleError
from audit.detect.forms import check_forms, parse_forms
from audit.detect.scope import SCOPES
from audit.detect.bank import Bank, load_bank
from audit.detect.learned import DEFAULT_FLAG, DEFAULT_REVIEW, DEFAULT_VET, FEATURES, Learned
from audit.detect.similarity import Similar
from audit.text.textmatch import Pattern, compile_regexes
from audit.text.textmatch import compile_pattern as _compile

# The rule packs shipped with callaudit (the repository's top-level rules/ folder).
DEFAULT_RULES_DIR = Path(__file__).resolve().parents[2] / "rules"

DIMENSIONS = ("应答规范", "信息收集", "答复准确", "语音清晰", "沟通技巧", "情绪控制", "服务隐患")
SEVERITIES = ("minor", "major", "critical")
TYPES = ("match", "require", "hold", "acoustic")
SPEAKERS = ("agent", "customer", "any")
MEASURES = ("overlap", "level", "speech_rate")
WINDOW_KEYS = ("first_seconds", "last_seconds", "first_turns", "last_turns")
COMMON_KEYS = {
    "id", "category", "dimension", "severity", "points", "description", "type", "speaker", "window",
    "examples", "when", "when_classifier", "when_speaker", "when_agent_says", "topics", "enabled", "scope",
}
TYPE_KEYS = {
    "match": {"pattern", "similar", "classifier", "min_count", "unless", "unless_speaker"},
    "require": {"pattern", "classifier", "all", "after", "before"},
    "hold": {"min_silence", "before", "after", "before_window", "after_window", "flag_when"},
    "acoustic": {
        "measure", "min_count", "db_above", "min_duration", "max_cps", "min_cps", "above_median", "below_median",
        "min_overlap", "words", "similar", "classifier", "combine", "pitch_above", "calm_if", "echo_question",
    },
}


@dataclass(frozen=True)
class Window:
    first_seconds: float | None = None
    last_seconds: float | None = None
    first_turns: int | None = None
    last_turns: int | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    dimension: str
    severity: str
    points: float
    description: str
    type: str
    speaker: str = "agent"
    window: Window = Window()
    pattern: Pattern | None = None
    groups: tuple[tuple[str, Pattern], ...] = ()  # require: every named group must be said
    when: Pattern | None = None  # the rule applies only if this is said (by when_speaker)
    when_learned: Learned | None = None  # ... or a sentence of when_speaker means this concept (when_classifier)
    when_speaker: str = "any"
    when_agent_says: Pattern | None = None  # ... or the agent says this (我给您报一个抢修): the call is of that kind
    topics: tuple[str, ...] = ()  # the rule applies only to calls of these topics
    similar: Similar | None = None  # match: sentences that mean what the rule looks for
    learned: Learned | None = None  # match: a sentence classifier of the bank says it means the concept
    scope: tuple[str, ...] = ()  # a hit in one of these scopes does not count (negated, past, reported)
    anchor: Anchor | None = None  # require: only in the stretch after (or before) a cue (audit/detect/anchors.py)
    params: dict = field(default_factory=dict, hash=False, compare=False)
    examples: dict = field(default_factory=dict, hash=False, compare=False)
    source: str = ""


@dataclass(frozen=True)
class Concept:
    """A shared idea (brush-off, threat ...): phrases and regexes for `pattern`, sentences for `similar`."""

    name: str
    description: str
    phrases: tuple[str, ...] = ()
    regexes: tuple[str, ...] = ()
    sentences: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class RulePack:
    rules: tuple[Rule, ...]
    topics: tuple[tuple[str, Pattern], ...]
    digest: str  # hash of the rule files' text: recorded with every flag
    files: tuple[str, ...] = ()
    concepts: dict = field(default_factory=dict, hash=False, compare=False)
    category_names: dict = field(default_factory=dict, hash=False, compare=False)  # code -> what reports call it
    forms: dict = field(default_factory=dict, hash=False, compare=False)  # name -> ScoreForm (audit/detect/forms.py)
    bank: str = ""  # the sentence bank's digest when a rule uses its classifiers (part of `digest`)

    def category_name(self, code: str) -> str:
        return self.category_names.get(code, code)

    @cached_property
    def by_id(self) -> dict[str, Rule]:
        """Rules by id (built once: scores read it for every call of a week)."""
        return {r.id: r for r in self.rules}


def _num(d: dict, key: str, where: str, default=None, minimum: float | None = 0):
    val = d.get(key, default)
    if val is None:
        return None
    if isinstance(val, bool) or not isinstance(val, (int, float)):
        raise RuleError(f"{where}: '{key}' must be a number, got {val!r}")
    if minimum is not None and val < minimum:
        raise RuleError(f"{where}: '{key}' must be >= {minimum}, got {val}")
    return float(val)


def _window(spec, where: str) -> Window:
    if spec is None:
        return Window()
    if not isinstance(spec, dict):
        raise RuleError(f"{where}: 'window' must be a mapping like {{first_seconds: 20}}")
    unknown = set(spec) - set(WINDOW_KEYS)
    if unknown:
        raise RuleError(f"{where}: window has unknown keys {sorted(unknown)} (allowed: {', '.join(WINDOW_KEYS)})")
    vals = {k: _num(spec, k, f"{where}.window") for k in WINDOW_KEYS}
    for k in ("first_turns", "last_turns"):
        if vals[k] is not None:
            vals[k] = int(vals[k])
    return Window(**vals)


def _choice(d: dict, key: str, allowed: tuple, where: str, default=None) -> str:
    val = d.get(key, default)
    if val not in allowed:
        raise RuleError(f"{where}: '{key}' must be one of {', '.join(allowed)}, got {val!r}")
    return val


def _similar(spec, where: str, concepts: dict[str, Concept]) -> Similar:
    """`similar: {concept: NAME or [NAMES], examples: [...], unlike: NAME or [NAMES], threshold: 0.6, margin: 0.1}`."""
    if not isinstance(spec, dict) or set(spec) - {"concept", "examples", "threshold", "unlike", "margin"}:
        raise RuleError(f"{where}: 'similar' must be a mapping with concept and/or examples, threshold, unlike, margin")

    def sentences_of(key: str) -> tuple[list[str], list[str]]:
        names = spec.get(key) or []
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise RuleError(f"{where}: similar.{key} must name a concept or list concepts")
        out: list[str] = []
        for name in names:
            if name not in concepts:
                raise RuleError(f"{where}: similar.{key} {name!r} is not defined (known: {', '.join(sorted(concepts)) or 'none'})")
            if not concepts[name].sentences:
                raise RuleError(f"{where}: similar.{key} {name!r} has no sentences")
            out += concepts[name].sentences
        return names, out

    names, sentences = sentences_of("concept")
    _, unlike = sentences_of("unlike")
    extra = spec.get("examples") or []
    if not isinstance(extra, list) or not all(isinstance(x, str) for x in extra):
        raise RuleError(f"{where}: similar.examples must be a list of sentences")
    sentences += extra
    if not sentences:
        raise RuleError(f"{where}: similar needs example sentences (examples, or a concept with sentences)")
    threshold = _num(spec, "threshold", f"{where}.similar", 0.6)
    if not 0 < threshold <= 1:
        raise RuleError(f"{where}: similar.threshold must be in (0, 1], got {threshold}")
    margin = _num(spec, "margin", f"{where}.similar", 0.1 if unlike else 0.0)
    return Similar(tuple(dict.fromkeys(sentences)), threshold, ",".join(names), tuple(dict.fromkeys(unlike)), margin)


def _scope(spec, where: str, rtype: str) -> tuple[str, ...]:
    if rtype not in ("match", "acoustic"):
        raise RuleError(f"{where}: 'scope' applies to match and acoustic rules (what is said), not {rtype}")
    vals = [spec] if isinstance(spec, str) else spec
    if not isinstance(vals, list) or any(v not in SCOPES for v in vals):
        raise RuleError(f"{where}: 'scope' must list some of {', '.join(SCOPES)}, got {spec!r}")
    return tuple(vals)


def _learned(spec, where: str, bank: Bank | None) -> Learned:
    """`classifier: {concept: escalation, flag: 0.6, review: 0.4}` or `classifier: escalation`."""
    if isinstance(spec, str):
        spec = {"concept": spec}
    if not isinstance(spec, dict) or set(spec) - {"concept", "flag", "review", "vet"} or not isinstance(spec.get("concept"), str):
        raise RuleError(f"{where}: 'classifier' must name a concept of the sentence bank, with optional flag and review thresholds")
    if bank is None:
        raise RuleError(f"{where}: classifier {spec['concept']!r} needs the sentence bank (bank/ beside the rule files)")
    if spec["concept"] not in bank.concepts:
        raise RuleError(f"{where}: classifier {spec['concept']!r} is not a concept of the bank (known: {', '.join(sorted(bank.concepts))})")
    flag = _num(spec, "flag", f"{where}.classifier", DEFAULT_FLAG)
    review = _num(spec, "review", f"{where}.classifier", min(DEFAULT_REVIEW, flag))
    vet = _num(spec, "vet", f"{where}.classifier", min(DEFAULT_VET, review))
    if not (0 <= vet <= review <= flag <= 1):
        raise RuleError(f"{where}: classifier thresholds need 0 <= vet <= review <= flag <= 1, got vet {vet}, review {review}, flag {flag}")
    return Learned(spec["concept"], flag, review, str(bank.folder), bank.digest, vet)


def parse_rule(d, file: str, index: int, concepts: dict[str, Concept] | None = None, bank: Bank | None = None) -> Rule:
    concepts = concepts or {}
    terms = {name: (c.phrases, c.regexes) for name, c in concepts.items()}

    def compile_pattern(spec, at):  # noqa: F811 (concept names resolve against this pack)
        return _compile(spec, at, terms)

    if not isinstance(d, dict):
        raise RuleError(f"{file}: rules[{index}] must be a mapping")
    rid = d.get("id")
    where = f"{file}: rule {rid or f'#{index}'}"
    if not rid or not isinstance(rid, str):
        raise RuleError(f"{where}: missing 'id'")
    for key in ("category", "description"):
        if not isinstance(d.get(key), str) or not d.get(key):
            raise RuleError(f"{where}: missing '{key}'")
    rtype = _choice(d, "type", TYPES, where)
    unknown = set(d) - COMMON_KEYS - TYPE_KEYS[rtype]
    if unknown:
        raise RuleError(f"{where}: unknown fields {sorted(unknown)} for type {rtype}")
    points = _num(d, "points", where)
    if points is None:
        raise RuleError(f"{where}: missing 'points'")
    params = {k: d[k] for k in TYPE_KEYS[rtype] if k in d}
    pattern, groups, similar, learned = None, (), None, None
    if rtype in ("match", "require"):
        if "pattern" in d:
            pattern = compile_pattern(d["pattern"], f"{where}.pattern")
        if rtype == "require" and "all" in d:
            if not isinstance(d["all"], dict) or not d["all"]:
                raise RuleError(f"{where}: 'all' must map group names to phrases")
            groups = tuple((name, compile_pattern(spec, f"{where}.all.{name}")) for name, spec in d["all"].items())
        similar = _similar(d["similar"], where, concepts) if "similar" in d else None
        learned = _learned(d["classifier"], where, bank) if "classifier" in d else None
        if pattern is None and not groups and similar is None and learned is None:
            raise RuleError(f"{where}: type {rtype} needs 'pattern'" + (" or 'all'" if rtype == "require" else ", 'similar' or 'classifier'"))
        if rtype == "match":
            if "unless" in params:
                params["unless"] = compile_pattern(params["unless"], f"{where}.unless")
            params["unless_speaker"] = _choice(d, "unless_speaker", SPEAKERS, where, "any")
            params.setdefault("min_count", 1)
            _num(params, "min_count", where, minimum=1)
    elif rtype == "hold":
        params["before"] = compile_pattern(d.get("before"), f"{where}.before") if "before" in d else None
        params["after"] = compile_pattern(d.get("after"), f"{where}.after") if "after" in d else None
        for k, default in (("min_silence", 10.0), ("before_window", 15.0), ("after_window", 8.0)):
            params[k] = _num(d, k, where, default)
        params["flag_when"] = _choice(d, "flag_when", ("missing_before", "missing_after", "missing_either"), where, "missing_either")
        if params["before"] is None and params["flag_when"] != "missing_after":
            raise RuleError(f"{where}: flag_when {params['flag_when']} needs 'before' phrases")
        if params["after"] is None and params["flag_when"] != "missing_before":
            raise RuleError(f"{where}: flag_when {params['flag_when']} needs 'after' phrases")
    elif rtype == "acoustic":
        params["measure"] = _choice(d, "measure", MEASURES, where)
        for k in ("db_above", "min_duration", "max_cps", "min_cps", "above_median", "below_median", "min_overlap", "min_count", "pitch_above"):
            if k in d:
                params[k] = _num(d, k, where)
        params["combine"] = _choice(d, "combine", ("any", "all"), where, "any")
        if "words" in d:
            params["words"] = compile_pattern(d["words"], f"{where}.words")
        if "calm_if" in d:
            if "pitch_above" not in params:
                raise RuleError(f"{where}: calm_if says when a raised pitch alone does not count, so it needs pitch_above")
            params["calm_if"] = compile_pattern(d["calm_if"], f"{where}.calm_if")
        if "echo_question" in d:
            if not isinstance(d["echo_question"], bool):
                raise RuleError(f"{where}: echo_question must be true or false")
            if d["echo_question"] and not (params["measure"] == "level" and params["combine"] == "all"):
                raise RuleError(f"{where}: echo_question works with measure level and combine all only")
            params["echo_question"] = d["echo_question"]
        if "similar" in d:
            similar = _similar(d["similar"], where, concepts)
        if "classifier" in d:
            learned = _learned(d["classifier"], where, bank)
        if params["measure"] == "level" and "db_above" not in params:
            raise RuleError(f"{where}: measure level needs 'db_above'")
        if params["measure"] == "level" and params["combine"] == "all" and not (
                "words" in params or "similar" in d or "classifier" in d or "pitch_above" in params):
            raise RuleError(f"{where}: combine all with measure level needs words, similar, classifier or pitch_above to combine with")
        if ("similar" in d or "classifier" in d or "pitch_above" in params) and not (params["measure"] == "level" and params["combine"] == "all"):
            raise RuleError(f"{where}: similar, classifier and pitch_above work with measure level and combine all only")
        if params["measure"] == "speech_rate" and "max_cps" not in params and "min_cps" not in params:
            raise RuleError(f"{where}: measure speech_rate needs 'max_cps' and/or 'min_cps'")
    examples = d.get("examples") or {}
    if not isinstance(examples, dict) or set(examples) - {"flag", "ok", "review"}:
        raise RuleError(f"{where}: 'examples' must be a mapping with 'flag', 'ok' and/or 'review' lists")
    return Rule(
        id=rid,
        category=d["category"],
        dimension=_choice(d, "dimension", DIMENSIONS, where),
        severity=_choice(d, "severity", SEVERITIES, where, "minor"),
        points=points,
        description=d["description"],
        type=rtype,
        speaker=_choice(d, "speaker", SPEAKERS, where, "agent"),
        window=_window(d.get("window"), where),
        pattern=pattern,
        groups=groups,
        when=compile_pattern(d["when"], f"{where}.when") if "when" in d else None,
        when_learned=_learned(d["when_classifier"], f"{where}.when_classifier", bank) if "when_classifier" in d else None,
        when_speaker=_choice(d, "when_speaker", SPEAKERS, where, "any"),
        when_agent_says=compile_pattern(d["when_agent_says"], f"{where}.when_agent_says") if "when_agent_says" in d else None,
        topics=tuple(d.get("topics") or ()),
        similar=similar,
        learned=learned,
        scope=_scope(d["scope"], where, rtype) if "scope" in d else (),
        anchor=_anchor(d, where, compile_pattern) if rtype == "require" else None,
        params=params,
        examples=examples,
        source=file,
    )


def load_pack(folder: Path, errors: list[str] | None = None) -> RulePack:
    """Load and validate every *.yaml in folder. Raises RuleError naming file, rule and field.

    With an `errors` list, a bad file is left out and its error appended instead, so one
    broken edit does not stop a night's scoring (the nightly run reports it)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not files:
        raise RuleError(f"no rule files (*.yaml) in {folder}; run `callaudit init` or set [scoring] rules")
    rules: list[Rule] = []
    topics: list[tuple[str, Pattern]] = []
    digest = hashlib.sha256()
    texts = {f: f.read_text(encoding="utf-8") for f in files}
    bank = None
    if (folder / "bank").is_dir() and any("classifier" in t for t in texts.values()):
        try:
            bank = load_bank(folder / "bank")
        except RuleError as exc:  # rules using it are then refused, each named
            if errors is None:
                raise
            errors.append(str(exc))
    concepts: dict[str, Concept] = {}
    for f, text in texts.items():  # concepts first: any rule file may use any concept
        try:
            for c in _parse_concepts(f.name, text):
                if c.name in concepts:
                    raise RuleError(f"{f.name}: concept {c.name}: already defined in {concepts[c.name].source}")
                concepts[c.name] = c
        except RuleError as exc:
            if errors is None:
                raise
            errors.append(str(exc))
    for f in files:
        text = texts[f]
        try:
            file_rules, file_topics = _parse_file(f.name, text, concepts, bank)
        except RuleError as exc:
            if errors is None:
                raise
            errors.append(str(exc))
            continue
        digest.update(f.name.encode() + b"\0" + text.encode())
        rules += file_rules
        topics += file_topics
    names: dict[str, str] = {}
    for f, text in texts.items():
        try:
            for code, label in _parse_category_names(f.name, text).items():
                if names.get(code, label) != label:
                    raise RuleError(f"{f.name}: categories.{code}: named {label!r} here and {names[code]!r} in another file")
                names[code] = label
        except RuleError as exc:
            if errors is None:
                raise
            errors.append(str(exc))
    seen: dict[str, str] = {}
    for r in rules:
        if r.id in seen:
            raise RuleError(f"{r.source}: rule {r.id}: id already used in {seen[r.id]}")
        seen[r.id] = r.source
    forms = {}
    for f, text in texts.items():
        try:
            spec = _load_doc(f.name, text).get("forms")
            if spec:
                file_forms = parse_forms(f.name, spec)
                check_forms([*forms.values(), *file_forms], set(seen), f.name)
                forms.update({x.name: x for x in file_forms})
        except RuleError as exc:
            if errors is None:
                raise
            errors.append(str(exc))
    used = bank is not None and any(r.learned is not None for r in rules)
    if used:  # a retrain is a new pack: its scores are rescored
        digest.update(b"bank\0" + bank.digest.encode() + FEATURES.encode())
    return RulePack(tuple(rules), tuple(topics), digest.hexdigest()[:16], tuple(f.name for f in files), concepts, names, forms,
                    bank.digest if used else "")


def _anchor(d: dict, where: str, compile_pattern) -> Anchor | None:
    given = [r for r in RELATIONS if r in d]
    if not given:
        return None
    if len(given) > 1:
        raise RuleError(f"{where}: use 'after' or 'before', not both")
    return parse_anchor(given[0], d[given[0]], where, compile_pattern, SPEAKERS)


def _load_doc(name: str, text: str) -> dict:
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise RuleError(f"{name}: not valid YAML ({exc})") from exc
    if not isinstance(doc, dict) or set(doc) - {"pack", "description", "categories", "rules", "topics", "concepts", "forms"}:
        raise RuleError(f"{name}: top level must be a mapping with pack, description, categories, rules, topics, concepts, forms")
    return doc


def _parse_category_names(name: str, text: str) -> dict[str, str]:
    """`categories: {script.greeting: 开场白}`: what reports call a category (the code stays the key)."""
    spec = _load_doc(name, text).get("categories") or {}
    if not isinstance(spec, dict) or not all(isinstance(v, str) and v.strip() for v in spec.values()):
        raise RuleError(f"{name}: 'categories' must map category codes to display names, e.g. script.greeting: 开场白")
    return {str(k): v.strip() for k, v in spec.items()}


def _parse_concepts(name: str, text: str) -> list[Concept]:
    out = []
    concepts = _load_doc(name, text).get("concepts") or {}
    if not isinstance(concepts, dict):
        raise RuleError(f"{name}: 'concepts' must map concept names to phrases/regex/sentences")
    for cname, spec in concepts.items():
        where = f"{name}: concept {cname}"
        if not isinstance(spec, dict) or set(spec) - {"description", "phrases", "regex", "sentences"}:
            raise RuleError(f"{where}: must be a mapping with description, phrases, regex, sentences")
        lists = {}
        for key in ("phrases", "regex", "sentences"):
            val = spec.get(key) or []
            if not isinstance(val, list) or not all(isinstance(x, (str, int)) for x in val):
                raise RuleError(f"{where}: '{key}' must be a list of text")
            lists[key] = tuple(str(x) for x in val)
        if not any(lists.values()):
            raise RuleError(f"{where}: needs phrases, regex or sentences")
        compile_regexes(list(lists["regex"]), f"{where}.regex")
        out.append(Concept(str(cname), str(spec.get("description", "")), lists["phrases"], lists["regex"], lists["sentences"], name))
    return out


def _parse_file(name: str, text: str, concepts: dict[str, Concept] | None = None,
                bank: Bank | None = None) -> tuple[list[Rule], list[tuple[str, Pattern]]]:
    doc = _load_doc(name, text)
    rules = [parse_rule(d, name, i, concepts, bank) for i, d in enumerate(doc.get("rules") or []) if not (isinstance(d, dict) and d.get("enabled") is False)]
    topics = [(str(t), _compile(spec, f"{name}: topics.{t}", {})) for t, spec in (doc.get("topics") or {}).items()]
    return rules, topics


def copy_default_rules(dest: Path) -> int:
    """Copy the shipped rule packs into a workspace (never overwriting edited files)."""
    if not DEFAULT_RULES_DIR.is_dir():
        return 0
    dest.mkdir(parents=True, exist_ok=True)
    n = 0
    for src in sorted(DEFAULT_RULES_DIR.glob("*.yaml")) + sorted((DEFAULT_RULES_DIR / "bank").glob("*.yaml")):
        target = dest / src.relative_to(DEFAULT_RULES_DIR)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            n += 1
    return n
