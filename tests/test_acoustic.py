import numpy as np
import pytest

from audit.detect.acoustic import gaps, interruptions, pitch_stats, relative_levels, speech_activity, speech_rates
from audit.asr.audio import decode
from audit.transcribe import AGENT, CUSTOMER, Segment
from tests.conftest import DEMO

SR = 16000


@pytest.fixture(scope="module")
def speech():
    """Real telephone speech: the agent's greeting and the customer's first turn of demo call dev01."""
    a = decode(DEMO / "recordings" / "dev01.mp3")
    return a.channels[0][int(1.2 * SR) : int(9.2 * SR)], a.channels[1][int(9.7 * SR) : int(16.7 * SR)]


def quiet(seconds):
    return np.random.default_rng(0).normal(0, 0.001, int(seconds * SR)).astype(np.float32)


def test_fifteen_second_silence_is_found(speech):
    agent, _ = speech
    signal = np.concatenate([agent, quiet(15.0), agent])
    found = gaps(speech_activity(signal, SR), len(signal) / SR, min_gap=5.0)
    assert len(found) == 1
    start, end = found[0]
    assert abs(start - 8.0) < 0.6 and abs((end - start) - 15.0) < 0.8


def test_agent_starting_1_5_s_before_customer_ends_is_an_interruption(speech):
    agent, customer = speech  # customer turn is 7 s long
    left = np.concatenate([quiet(5.5), agent])
    right = np.concatenate([customer, quiet(len(left) / SR - len(customer) / SR)])
    spans = interruptions(speech_activity(left, SR), speech_activity(right, SR), min_overlap=0.7, min_prior=0.5)
    assert len(spans) == 1
    a, b = spans[0]
    assert abs(a - 5.5) < 0.4 and 1.1 <= b - a <= 1.9


def test_agent_waiting_for_the_customer_is_not_an_interruption(speech):
    agent, customer = speech
    left = np.concatenate([quiet(7.8), agent])
    right = np.concatenate([customer, quiet(len(left) / SR - len(customer) / SR)])
    assert interruptions(speech_activity(left, SR), speech_activity(right, SR), 0.7, 0.5) == []


def test_plus_10_db_segment_stands_out_from_the_speakers_baseline():
    rng = np.random.default_rng(1)
    parts, segs = [], []
    for i, gain_db in enumerate([0, 0, 0, 10, 0]):
        parts.append((rng.normal(0, 0.05, 2 * SR) * 10 ** (gain_db / 20)).astype(np.float32))
        segs.append(Segment(AGENT, 2.0 * i, 2.0 * i + 2.0, f"seg{i}"))
    signal = np.concatenate(parts)
    levels = relative_levels({AGENT: signal}, SR, segs)
    rel = [lv.db_rel for lv in levels]
    assert abs(rel[3] - 10.0) < 0.5
    assert all(abs(r) < 0.5 for i, r in enumerate(rel) if i != 3)


def test_pitch_of_a_200_hz_voice_like_tone():
    t = np.arange(3 * SR) / SR
    tone = sum(np.sin(2 * np.pi * 200 * k * t) / k for k in range(1, 6)).astype(np.float32) * 0.1
    stats = pitch_stats(tone, SR, [Segment(CUSTOMER, 0.0, 3.0, "x")])
    assert abs(stats["median_hz"] - 200) < 5


def test_speech_rate_counts_characters_over_stretches():
    segs = [
        Segment(AGENT, 0.0, 10.0, "一二三四五六七八九十" * 5),  # 50 chars / 10 s
        Segment(AGENT, 10.2, 12.0, "接着说"),  # joined: gap 0.2 s < 0.35 s
        Segment(CUSTOMER, 13.0, 20.0, "客户的话不算" * 3),
        Segment(AGENT, 30.0, 32.0, "太短"),
    ]
    rates = speech_rates(segs, min_duration=4.0)
    assert len(rates) == 1
    assert rates[0].start == 0.0 and rates[0].end == 12.0 and rates[0].cps == round(53 / 12.0, 2)


def test_a_caller_shouting_in_long_turns_still_stands_out_from_their_short_calm_answers():
    # three long shouted complaints (+8 dB, 6 s each) and four short calm answers (1.2 s each):
    # weighted by length the shouts would be the caller's "typical" level and stand at 0 dB
    rng = np.random.default_rng(2)
    parts, segs, t = [], [], 0.0
    for i, (gain_db, secs) in enumerate([(8, 6.0), (0, 1.2), (8, 6.0), (0, 1.2), (0, 1.2), (8, 6.0), (0, 1.2)]):
        parts.append((rng.normal(0, 0.03, int(secs * SR)) * 10 ** (gain_db / 20)).astype(np.float32))
        segs.append(Segment(CUSTOMER, t, t + secs, f"seg{i}"))
        t += secs
    levels = relative_levels({CUSTOMER: np.concatenate(parts)}, SR, segs)
    shouted = [lv.db_rel for lv in levels if lv.end - lv.start > 5]
    assert len(shouted) == 3 and all(r >= 7.0 for r in shouted)


def test_speech_rate_counts_amounts_as_they_are_said():
    from audit.text.syllables import syllables

    assert syllables("一月二百八十六度") == syllables("1月286度") == 8
    assert syllables("工号2865") == 6  # IDs and numbers of four digits or more: one syllable a digit
    assert syllables("零点5") == 3 and syllables("共05户") == 4
    # 4 s of a bill read out: 24 syllables (6 per s), though only 17 characters are written
    fast = speech_rates([Segment(AGENT, 0.0, 4.0, "142块9毛8，156块2毛4，129块")], min_duration=2.0)
    assert fast[0].cps == 6.0


def test_measures_survive_the_store_unchanged():
    """The score stage reads measures back from JSON: they must be the very same measures."""
    import json

    from audit.detect.acoustic import Measures, measure_call
    from audit.transcribe import Transcript

    audio = decode(DEMO / "recordings" / "dev01.mp3")
    segs = (Segment(AGENT, 1.2, 9.2, "您好，国家电网客服，工号一零二三。"), Segment(CUSTOMER, 9.7, 16.7, "我家停电了，一百四十二块的电费也交了。"),
            Segment(AGENT, 17.0, 30.0, "好的，请您稍等，我帮您查询一下您家的用电情况和缴费记录，马上就好。"))
    m = measure_call(audio, Transcript(segments=segs, duration=audio.duration, layout="stereo", engine="x", model="x"))
    assert m.levels and m.activity and m.rates
    assert Measures.from_dict(json.loads(json.dumps(m.to_dict()))) == m
