"""What a transcript is: segments with speaker role, timing and words (plain frozen dataclasses).

Shared by transcription, speaker attribution, acoustic measures and rules, so it
imports nothing of theirs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

AGENT, CUSTOMER = "agent", "customer"


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float = 1.0


@dataclass(frozen=True)
class Segment:
    """One stretch of speech by one speaker. Text is Simplified Chinese."""

    speaker: str
    start: float
    end: float
    text: str
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Transcript:
    segments: tuple[Segment, ...]
    duration: float
    layout: str  # "stereo" or "mono"
    engine: str
    model: str
    options: dict = field(default_factory=dict)
    audio_sha256: str = ""
    attribution_confidence: float | None = None  # mono only: how sure the agent/customer split is (0-1)
    attribution_note: str = ""  # mono only: why that confidence is low (for the reviewer), "" when sure

    @property
    def speech_time(self) -> dict[str, float]:
        out = {AGENT: 0.0, CUSTOMER: 0.0}
        for s in self.segments:
            out[s.speaker] = out.get(s.speaker, 0.0) + (s.end - s.start)
        return {k: round(v, 2) for k, v in out.items()}

    def silences(self, min_gap: float = 3.0) -> list[tuple[float, float]]:
        """Stretches of at least min_gap s where no segment of either speaker is running."""
        out, end = [], None
        for seg in sorted(self.segments, key=lambda x: x.start):
            if end is not None and seg.start - end >= min_gap:
                out.append((round(end, 2), round(seg.start, 2)))
            end = seg.end if end is None else max(end, seg.end)
        return out

    def by(self, speaker: str) -> list[Segment]:
        return [s for s in self.segments if s.speaker == speaker]

    def text(self, speaker: str | None = None) -> str:
        return "".join(s.text for s in self.segments if speaker is None or s.speaker == speaker)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["speech_time"] = self.speech_time  # derived facts, for readers of the JSON
        d["silences"] = self.silences()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Transcript":
        segs = tuple(
            Segment(**{**s, "words": tuple(Word(**w) for w in s.get("words", ()))}) for s in d["segments"]
        )
        keep = {k: v for k, v in d.items() if k in cls.__dataclass_fields__ and k != "segments"}  # derived keys dropped
        return cls(segments=segs, **keep)



def split_on_pauses(seg: Segment, gap: float) -> list[Segment]:
    """Cut a segment where its words pause, so timing rules see utterances, not 40 s blocks."""
    if len(seg.words) < 2:
        return [seg]
    groups, cur = [], [seg.words[0]]
    for w in seg.words[1:]:
        if w.start - cur[-1].end >= gap:
            groups.append(cur)
            cur = []
        cur.append(w)
    groups.append(cur)
    if len(groups) == 1:
        return [seg]
    return [
        replace(seg, start=g[0].start, end=g[-1].end, text="".join(w.text for w in g).strip(), words=tuple(g))
        for g in groups
    ]
