"""Speakers of a mono mix told apart by voice: the encoder's front end, speaker changes inside
a segment, and a call whose two speakers cannot be told apart. No Whisper: the transcripts
are built from the demo call's truth timeline (a word every 0.25 s)."""

import json

import numpy as np
import pytest

from audit.asr.audio import decode
from audit.asr.diarize import attribute
from audit.asr.transcript import AGENT, CUSTOMER, Segment, Word
from audit.asr.turns import single_speaker_pieces
from audit.asr.voices import call_mel, encoder, mel_filters, mel_frames
from audit.detect.confidence import ConfidenceOptions
from audit.detect.flags import CallView, apply_rules
from audit.detect.acoustic import measures_from_segments
from audit.detect.rules import DEFAULT_RULES_DIR, load_pack
from tests.conftest import DEMO

SR = 16000


@pytest.fixture(scope="module")
def dev01():
    audio = decode(DEMO / "recordings" / "dev01.mp3")
    truth = json.loads((DEMO / "truth.json").read_text(encoding="utf-8"))
    return audio, next(c for c in truth if c["id"] == "dev01")


def _segment(start: float, end: float, text: str) -> Segment:
    n = max(2, int((end - start) / 0.25))
    edges = np.linspace(start, end, n + 1)
    chars = list(text) or ["嗯"]
    words = tuple(Word(float(a), float(b), chars[i % len(chars)], 0.9) for i, (a, b) in enumerate(zip(edges, edges[1:])))
    return Segment("", start, end, "".join(w.text for w in words), -0.2, 0.0, words)


def _clip(audio, channel: int, start: float, seconds: float) -> np.ndarray:
    a = int(start * SR)
    return np.asarray(audio.channels[channel][a: a + int(seconds * SR)], dtype=np.float32)


def test_the_mel_front_end_is_the_encoders_own(dev01):
    """voices.mel_frames computes without librosa what resemblyzer.audio feeds the encoder."""
    import librosa
    from resemblyzer.audio import wav_to_mel_spectrogram

    x = _clip(dev01[0], 0, 1.2, 3.0)
    assert np.allclose(mel_frames(x), wav_to_mel_spectrogram(x), rtol=1e-4, atol=1e-7)
    assert np.allclose(mel_filters(), librosa.filters.mel(sr=SR, n_fft=400, n_mels=40), atol=1e-8)
    assert encoder() is encoder()  # loaded once per process


def test_a_change_of_voice_inside_one_segment_is_cut_there(dev01):
    """Two real voices back to back with no pause (one ASR segment running across the change
    at 6.0 s), then a turn of each: the segment is cut within 0.3 s of the change."""
    audio, _ = dev01
    gap = np.zeros(int(0.5 * SR), np.float32)
    signal = np.concatenate([_clip(audio, 0, 1.2, 6.0), _clip(audio, 1, 9.7, 6.0), gap,
                             _clip(audio, 0, 17.06, 6.0), gap, _clip(audio, 1, 25.04, 6.0)])
    segs = [_segment(0.0, 12.0, "您好国家电网客服我们家突然停电了"), _segment(12.5, 18.5, "好的请问您的详细地址"),
            _segment(19.0, 25.0, "地址是城南区春晖路")]
    pieces = single_speaker_pieces(segs, call_mel(signal, [(s.start, s.end) for s in segs]))
    first = [p.segment for p in pieces.pieces if p.segment.start < 12.0]
    assert len(first) == 2, [(p.start, p.end) for p in first]
    assert abs(first[0].end - 6.0) <= 0.3 and abs(first[1].start - 6.0) <= 0.3
    att = attribute(signal, SR, segs)
    by_time = {round(s.start): s.speaker for s in att.segments}
    assert by_time[0] == AGENT and by_time[round(first[1].start)] == CUSTOMER
    assert by_time[12] == AGENT and by_time[19] == CUSTOMER
    assert att.confidence is not None


def test_one_voice_for_both_speakers_is_low_confidence_and_its_speaker_flags_review_only(dev01):
    """The agent's voice says both sides' lines (the truth's wording, agent and caller
    alternating): nothing in the voice tells the speakers apart, so the confidence stays under
    the configured threshold and every speaker-dependent flag is review-only, saying why."""
    audio, call = dev01
    pieces, segs, t = [], [], 0.0
    agent_turns = [x for x in call["timeline"] if x["spk"] == "A"]
    for i, turn in enumerate(call["timeline"]):
        src = agent_turns[i % len(agent_turns)]
        seconds = min(src["end"] - src["start"], 5.0)
        pieces += [_clip(audio, 0, src["start"], seconds), np.zeros(int(0.6 * SR), np.float32)]
        segs.append(_segment(t, t + seconds, turn["text"]))
        t += seconds + 0.6
    signal = np.concatenate(pieces)
    att = attribute(signal, SR, segs)
    threshold = ConfidenceOptions().min_attribution
    assert att.confidence is not None and att.confidence < threshold
    assert att.note  # the reason, for the workbook and the review page
    pack = load_pack(DEFAULT_RULES_DIR)
    view = CallView("c", tuple(att.segments), measures_from_segments(list(att.segments), layout="mono"), layout="mono",
                    attribution_confidence=att.confidence, attribution_note=att.note)
    flags = [f for f in apply_rules(pack, view) if f.speaker in (AGENT, CUSTOMER)]
    assert flags and all(f.review_only for f in flags)
    assert all(att.note in f.evidence for f in flags if f.rule_id)


def test_the_voices_are_re_estimated_from_the_pieces_as_decided():
    """_refit's voices are the means of the pieces each side was given: a piece between two
    voices that the decision gave the agent pulls the agent's voice its way, unembedded pieces
    get no margin, and a side with no weighted piece gives nothing."""
    from audit.asr.diarize import _refit

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=256), rng.normal(size=256)
    V = np.stack([a, a, b, b, a + b, np.zeros(256)])
    V[:5] /= np.linalg.norm(V[:5], axis=1, keepdims=True)
    weight = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    embedded = np.array([True, True, True, True, True, False])
    as_agent = _refit(V, weight, np.array([1, 1, 0, 0, 1, 0]), embedded)
    as_customer = _refit(V, weight, np.array([1, 1, 0, 0, 0, 0]), embedded)
    assert (as_agent[:2] > 0).all() and (as_agent[2:4] < 0).all()
    assert as_agent[4] > as_customer[4]  # the mixed piece's side moves the voices toward it
    assert as_agent[5] == 0.0
    assert _refit(V, weight, np.ones(6, dtype=int), embedded) is None


def test_what_comes_before_the_first_sure_agent_piece_is_the_agents():
    """An inbound call opens with the agent: a short 您好 whose vector sits on the caller's voice still
    goes to the agent when the greeting follows it."""
    from audit.asr.diarize import decide
    from audit.asr.turns import Piece, Pieces

    rng = np.random.default_rng(1)
    agent, caller = rng.normal(size=256), rng.normal(size=256)

    def v(base):
        x = base + 0.3 * rng.normal(size=256)
        return (x / np.linalg.norm(x)).astype(np.float32)

    said = [(caller, 0.5, 0.6, "您好，"), (agent, 1.2, 3.0, "国网客服中心，工号三零八，请问有什么可以帮您的？")]
    t = 4.0
    for k in range(10):  # then the two take turns
        base, text = (caller, "我家昨天晚上停电了，到现在还没来。") if k % 2 == 0 else (agent, "好的，我这边帮您查一下。")
        said.append((base, t, t + 2.0, text))
        t += 2.5
    pieces = [Piece(Segment("agent", a, b, text), v(base), b - a) for base, a, b, text in said]
    out = decide(Pieces(pieces, None))
    assert out.segments[0].speaker == AGENT and out.segments[1].speaker == AGENT
    assert [s.speaker for s in out.segments[2:]] == [CUSTOMER, AGENT] * 5


def test_the_wording_of_every_piece_decides_which_voice_is_the_agent_when_set_phrases_are_few():
    """An agent who says 你 and none of the set phrases, a caller whose words are plain: the cue lists find
    nothing on either voice, and the one greeting piece whose vector lies on the caller's voice decided
    the call (every piece swapped). The learned wording of each piece (audit/asr/roles.py) says who talks."""
    from audit.asr.diarize import decide
    from audit.asr.roles import agent_log_odds
    from audit.asr.turns import Piece, Pieces

    assert agent_log_odds("我给您查一下，您这个情况建议先准备一台应急电源。") > 1
    assert agent_log_odds("俺家老头子七十八了，在家一天到晚离不了那个机器。") < -1

    rng = np.random.default_rng(2)
    agent, caller = rng.normal(size=256), rng.normal(size=256)

    def v(base):
        x = base + 0.3 * rng.normal(size=256)
        return (x / np.linalg.norm(x)).astype(np.float32)

    # no line holds a set phrase of either side (diarize.AGENT_CUES, CUSTOMER_CUES)
    agent_lines = ["看一下，明天八点到十八点计划检修，更换线路设备。", "检修时间定了一般不改，建议准备应急的电源。",
                   "登记好了，明天上午安排人回个电话。", "查到通知是准的，您提前做好准备。", "好的，记下来了。"]
    caller_lines = ["老爷子七十八了，肺不好，离不了制氧机。", "刚在网上看到一个通知，说明天要停电。",
                    "机器一停他就喘不上气，这可怎么弄。", "住在昆明路那边，老房子。", "行吧，那再想想办法。"]
    said = [(caller, 1.2, 3.2, "你好，有什么问题要帮你的？")]  # the agent's greeting, its vector on the caller's side
    t = 4.0
    for k in range(10):
        base, text = (caller, caller_lines[k // 2]) if k % 2 == 0 else (agent, agent_lines[k // 2])
        said.append((base, t, t + 2.0, text))
        t += 2.5
    pieces = [Piece(Segment("agent", a, b, text), v(base), b - a) for base, a, b, text in said]
    out = decide(Pieces(pieces, None))
    assert [s.speaker for s in out.segments[1:]] == [CUSTOMER, AGENT] * 5
