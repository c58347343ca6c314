"""How sure a flag is, and when a flag goes to a reviewer instead of costing points.

The transcript-side evidence (was a required phrase perhaps said, though not written?) is in
audit/detect/heard.py.

A flag that says something is missing ("greeting incomplete") is only as good as the
transcript it read: where ASR heard the window poorly, or heard a required element only
approximately (audit/text/soundalike.py), the element may well have been said. Such flags,
and speaker-dependent flags on a mono call whose speakers could not be told apart
reliably, are review-only: listed for a reviewer, no points deducted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audit.asr.transcript import Segment


@dataclass(frozen=True)
class ConfidenceOptions:
    """`[scoring.confidence]` in audit.toml; the defaults keep the dev corpus's clean calls clean."""

    min_asr: float = 0.5  # an absence flag whose window ASR heard below this (mean word probability) is review-only
    approx_sound: float = 0.75  # a required element that sounds at least this alike (but not the same) is review-only
    approx_sound_unsure: float = 0.65  # ...or this alike where ASR was unsure of those very characters
    unsure_word: float = 0.6  # word probability below which ASR counts as unsure
    mono_level_margin: float = 2.0  # mono mixes: loudness flags count only this far above db_above (dB); below, review-only
    min_attribution: float = 0.7  # mono calls: speaker-dependent flags are review-only below this attribution confidence (calibrated on mixed-down stereo calls: benchmarks/results/mono-2026-12-02.md)
    similar_margin: float = 0.04  # a similar-sentence hit within this of the rule's threshold is review-only
    max_unheard: float = 1.0  # an absence flag whose window holds this much speech (s) that ASR wrote nothing for is review-only...
    max_unheard_share: float = 0.15  # ...and at least this share of the window's speech (long windows)


def asr_confidence(segs: list[Segment] | tuple[Segment, ...]) -> float:
    """Mean word probability over the segments (by character), or exp(avg_logprob) where words are absent."""
    probs, weights = [], []
    for s in segs:
        if s.words:
            for w in s.words:
                n = max(1, len(w.text.strip()))
                probs.append(w.probability)
                weights.append(n)
        elif s.text:
            probs.append(float(np.exp(min(0.0, s.avg_logprob))))
            weights.append(len(s.text))
    if not probs:
        return 1.0
    return round(float(np.average(probs, weights=weights)), 3)


def margin_confidence(value: float, threshold: float, span: float) -> float:
    """0.5 at the threshold, rising to 1 at threshold + span (acoustic measures)."""
    if span <= 0:
        return 1.0
    return round(float(np.clip(0.5 + 0.5 * (value - threshold) / span, 0.0, 1.0)), 3)
