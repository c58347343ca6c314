"""Anchor-relative windows: "within N turns (or seconds) after X", "before X".

A rule can be about what follows a moment rather than the whole call: after the customer
reports an outage, the agent must ask for the address or 户号 within a few turns; after a hold,
the agent must give the result. The anchor is the first time its cue is said (by its speaker);
the rule then looks only at its own speaker's speech in the stretch the anchor opens, and does
not apply at all when the anchor never comes (a score form counts it N/A).

    after:  {cue: {concepts: [...]} or [phrases], speaker: customer, within_turns: 3, within_seconds: 90}
    before: {cue: [...], speaker: agent}
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.errors import RuleError
from audit.text.textmatch import Pattern
from audit.asr.transcript import Segment

RELATIONS = ("after", "before")


@dataclass(frozen=True)
class Anchor:
    relation: str  # after | before
    cue: Pattern
    speaker: str = "any"  # who says the cue
    within_turns: int | None = None  # of the rule's speaker, counted from the anchor
    within_seconds: float | None = None


def parse_anchor(relation: str, spec, where: str, compile_pattern, speakers: tuple[str, ...]) -> Anchor:
    w = f"{where}.{relation}"
    if not isinstance(spec, dict) or "cue" not in spec or set(spec) - {"cue", "speaker", "within_turns", "within_seconds"}:
        raise RuleError(f"{w}: must be a mapping with cue and optionally speaker, within_turns, within_seconds")
    speaker = spec.get("speaker", "any")
    if speaker not in speakers:
        raise RuleError(f"{w}.speaker: must be one of {', '.join(speakers)}, got {speaker!r}")
    turns, seconds = spec.get("within_turns"), spec.get("within_seconds")
    if turns is not None and (isinstance(turns, bool) or not isinstance(turns, int) or turns < 1):
        raise RuleError(f"{w}.within_turns: must be a whole number >= 1, got {turns!r}")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0):
        raise RuleError(f"{w}.within_seconds: must be a number > 0, got {seconds!r}")
    return Anchor(relation, compile_pattern(spec["cue"], f"{w}.cue"), speaker, turns,
                  None if seconds is None else float(seconds))


def find_anchor(anchor: Anchor, segments: tuple[Segment, ...] | list[Segment]) -> Segment | None:
    """The first segment of the anchor's speaker that says the cue."""
    return next((s for s in segments if (anchor.speaker == "any" or s.speaker == anchor.speaker)
                 and anchor.cue.search(s.text) is not None), None)


def _turns(segments: list[Segment], speaker: str) -> list[list[Segment]]:
    """The speaker's segments grouped into turns: a turn ends where someone else speaks."""
    turns: list[list[Segment]] = []
    open_turn = False
    for s in segments:
        if speaker == "any" or s.speaker == speaker:
            if open_turn:
                turns[-1].append(s)
            else:
                turns.append([s])
                open_turn = True
        else:
            open_turn = False
    return turns


def anchored(anchor: Anchor, at: Segment, segments: list[Segment], speaker: str) -> list[Segment]:
    """The rule speaker's segments in the stretch the anchor opens (after) or closes (before)."""
    ordered = sorted(segments, key=lambda s: s.start)
    if anchor.relation == "after":
        stretch = [s for s in ordered if s.start >= at.start]  # the anchor's own sentence may already say it
        if anchor.within_seconds is not None:
            stretch = [s for s in stretch if s.start <= at.end + anchor.within_seconds]
        turns = _turns(stretch, speaker)
        if anchor.within_turns is not None:
            turns = turns[: anchor.within_turns]
    else:
        stretch = [s for s in ordered if s.end <= at.start]
        if anchor.within_seconds is not None:
            stretch = [s for s in stretch if s.end >= at.start - anchor.within_seconds]
        turns = _turns(stretch, speaker)
        if anchor.within_turns is not None:
            turns = turns[-anchor.within_turns:]
    return [s for turn in turns for s in turn]


def stretch_bounds(anchor: Anchor, at: Segment, duration: float) -> tuple[float, float]:
    """Where in the call the anchored stretch lies (for unheard-speech checks)."""
    if anchor.relation == "after":
        return at.end, min(duration or at.end, at.end + (anchor.within_seconds or duration or 0.0))
    return max(0.0, at.start - (anchor.within_seconds or at.start)), at.start
