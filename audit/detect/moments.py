"""One moment, one category, one flag.

Two rules of one category can hit the same sentence: the brush-off phrases and the brush-off
classifier, the sensitive-caller keywords and their sound-alike list. A reviewer should judge
that moment once, and the call should pay for it once. Timed flags of one category whose
spans overlap become one (neighbouring sentences of one turn touch, and stay apart): the strongest stands (counted
before review-only, then more points, then more confidence), keeps its key, and names the
other rules in its evidence. It counts if any of them counted. Flags with no time (something
missing from the call) stand alone: each names a different thing that was missing.
"""

from __future__ import annotations

from dataclasses import replace

from audit.detect.flags import Flag

def _strength(f: Flag) -> tuple:
    return (not f.review_only, f.points, f.confidence, -(f.start or 0.0), f.rule_id)


def one_per_moment(flags: list[Flag]) -> list[Flag]:
    """The flags with same-category flags at one moment merged (input order does not matter)."""
    out = [f for f in flags if f.start is None]
    by_cat: dict[tuple[str, str], list[Flag]] = {}
    for f in flags:
        if f.start is not None:
            by_cat.setdefault((f.call_id, f.category), []).append(f)
    for group in by_cat.values():
        group.sort(key=lambda f: (f.start, f.end if f.end is not None else f.start, f.rule_id))
        run, run_end = [group[0]], _end(group[0])
        for f in group[1:]:
            if f.start < run_end:
                run.append(f)
                run_end = max(run_end, _end(f))
            else:
                out.append(_merge(run))
                run, run_end = [f], _end(f)
        out.append(_merge(run))
    return sorted(out, key=lambda f: (f.start if f.start is not None else -1, f.rule_id))


def _end(f: Flag) -> float:
    return f.end if f.end is not None else f.start


def _merge(run: list[Flag]) -> Flag:
    if len(run) == 1:
        return run[0]
    best = max(run, key=_strength)
    others = sorted({f.rule_id for f in run} - {best.rule_id})
    return replace(
        best,
        start=min(f.start for f in run),
        end=max(_end(f) for f in run),
        review_only=all(f.review_only for f in run),
        evidence=f"{best.evidence}（同一处另有规则: {'、'.join(others)}）",
    )
