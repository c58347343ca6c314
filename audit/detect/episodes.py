"""One stretch of the same problem is one finding.

An angry caller shouting for a minute, or an agent brushing off three times in a row, gave one
flag per sentence: a reviewer judged the same moment many times and the call paid for each.
Consecutive hits of one rule in a call, each starting within `gap` seconds of the end of the
one before, become one episode: it starts where the first hit starts (so its key, which reviews
hang on, stays the first hit's), ends where the last ends, counts its hits, and shows the
strongest evidence. Flags with no time (something missing from the call) stand alone.
"""

from __future__ import annotations

from dataclasses import replace

from audit.detect.flags import Flag

DEFAULT_GAP = 10.0


def _strength(f: Flag) -> tuple:
    return (not f.review_only, f.confidence, -(f.start or 0.0))


def episodes(flags: list[Flag], gap: float = DEFAULT_GAP) -> list[Flag]:
    """The flags with each rule's close hits merged (input order does not matter)."""
    timed: dict[tuple[str, str], list[Flag]] = {}
    out = []
    for f in flags:
        if f.start is None:
            out.append(f)
        else:
            timed.setdefault((f.call_id, f.rule_id), []).append(f)
    for hits in timed.values():
        hits.sort(key=lambda f: (f.start, f.end or f.start))
        run = [hits[0]]
        for f in hits[1:]:
            if f.start - max(h.end if h.end is not None else h.start for h in run) <= gap:
                run.append(f)
            else:
                out.append(_episode(run))
                run = [f]
        out.append(_episode(run))
    return sorted(out, key=lambda f: (f.start if f.start is not None else -1, f.rule_id))


def _episode(run: list[Flag]) -> Flag:
    if len(run) == 1:
        return run[0]
    best = max(run, key=_strength)
    return replace(
        best,
        start=run[0].start,
        end=max(h.end if h.end is not None else h.start for h in run),
        hits=sum(h.hits for h in run),
        review_only=all(h.review_only for h in run),  # one counted hit makes the episode count
    )
