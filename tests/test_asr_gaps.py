"""What the transcript may lack, and the parts that make up for it: skipped speech decoded
again, voice activity after long holds, speakers on one channel, site vocabulary, and the
store and reports carrying review-only flags. No Whisper: engines here are stand-ins."""

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

from audit.asr.audio import decode
from audit.workspace.config import ConfigError, load_config
from audit.asr.diarize import attribute_speakers
from audit.asr.lexicon import correct_homophones, load_lexicon
from audit.asr.refill import holes, refill, thin
from audit.workspace.store import MIGRATIONS, SCHEMA_VERSION, Store
from audit.asr.transcript import AGENT, CUSTOMER, Segment, Word
from audit.asr.vad import speech_spans
from audit.detect.scores import counted_flags, reviewed_scores
from tests.conftest import DEMO

SR = 16000


@pytest.fixture(scope="module")
def dev01():
    return decode(DEMO / "recordings" / "dev01.mp3"), json.loads((DEMO / "truth.json").read_text(encoding="utf-8"))


def _truth(truth, cid):
    return next(c for c in truth if c["id"] == cid)


def quiet(seconds, level=0.002):
    return np.random.default_rng(1).normal(0, level, int(seconds * SR)).astype(np.float32)


# ---------------------------------------------------------------- voice activity after a long hold


def test_speech_after_a_long_hold_is_found_where_it_starts(dev01):
    audio, _ = dev01
    greeting = audio.channels[0][int(1.0 * SR) : int(9.0 * SR)]
    signal = np.concatenate([greeting, quiet(150.0), greeting])
    spans = speech_spans(signal, SR)
    onset = min(a for a, _ in spans if a > 100)
    # the second greeting's first sound is at 158 s + its own lead-in (about 0.1-0.3 s)
    assert 158.0 <= onset <= 158.6


# ---------------------------------------------------------------- speech the first pass skipped


class SkippingEngine:
    """First call: hears only the first 3 s. Later calls (a hole decoded alone): hears all of it."""

    name = "fake"

    def __init__(self):
        self.calls = []

    def run(self, samples, batched=True):
        self.calls.append(len(samples) / SR)
        n = len(samples) / SR
        if len(self.calls) == 1:
            return [Segment("", 0.2, 3.0, "您好国家电网", -0.2, 0.0, (Word(0.2, 3.0, "您好国家电网", 0.9),))]
        return [Segment("", 0.1, n - 0.1, "后面这句第一遍没听到", -0.2, 0.0, (Word(0.1, n - 0.1, "后面这句第一遍没听到", 0.9),))]


def test_skipped_speech_is_decoded_again_and_lands_at_its_own_time(dev01):
    audio, _ = dev01
    speech = audio.channels[0][int(1.0 * SR) : int(9.0 * SR)]
    signal = np.concatenate([speech[: 3 * SR], quiet(2.0), speech])  # speech at 0-3 s and 5-13 s
    engine = SkippingEngine()
    first = engine.run(signal)
    assert holes(signal, first), "the 5-13 s speech is not covered by the first pass"
    out = refill(engine, signal, first, lambda raw: raw)
    later = [s for s in out if s.text == "后面这句第一遍没听到"]
    assert later and 4.5 <= later[0].start <= 6.0 and later[0].end <= 13.5
    assert [s.start for s in out] == sorted(s.start for s in out)
    assert len(engine.calls) >= 2 and all(c < 10 for c in engine.calls[1:])  # holes decoded alone, not the call again


def test_a_loop_remnant_gives_way_to_what_a_second_decode_hears(dev01):
    audio, _ = dev01
    signal = np.ascontiguousarray(audio.channels[0][int(1.0 * SR) : int(9.0 * SR)])
    remnant = Segment("", 0.0, 8.0, "竟竟", -0.1, 0.8, (Word(0.0, 8.0, "竟竟", 0.9),))
    assert thin(remnant)

    class Hears:
        name = "fake"

        def run(self, samples, batched=True):
            return [Segment("", 0.1, len(samples) / SR - 0.1, "您好国家电网客服", -0.2, 0.0, ())]

    out = refill(Hears(), signal, [remnant], lambda raw: raw)
    assert [s.text for s in out] == ["您好国家电网客服"]


# ---------------------------------------------------------------- one channel, two speakers


def test_speakers_of_a_downmixed_call_are_told_apart(dev01):
    """dev01 mixed to one channel, its scripted turns as the transcript (words every 0.25 s)."""
    audio, truth = dev01
    call = _truth(truth, "dev01")
    mix = np.ascontiguousarray((audio.channels[0] + audio.channels[1]) / 2)
    segs = []
    for t in call["timeline"]:
        n = max(2, int((t["end"] - t["start"]) / 0.25))
        edges = np.linspace(t["start"], t["end"], n + 1)
        chars = list(t["text"])
        per = max(1, len(chars) // n)
        words = tuple(Word(float(a), float(b), "".join(chars[i * per : (i + 1) * per]) or "嗯", 0.9)
                      for i, (a, b) in enumerate(zip(edges, edges[1:])))
        segs.append(Segment("", t["start"], t["end"], t["text"], -0.2, 0.0, words))
    out, confidence = attribute_speakers(mix, SR, segs)
    right = total = 0.0
    for s in out:
        mid = (s.start + s.end) / 2
        turn = next(t for t in call["timeline"] if t["start"] - 0.01 <= mid <= t["end"] + 0.01)
        total += s.end - s.start
        right += (s.end - s.start) * (s.speaker == (AGENT if turn["spk"] == "A" else CUSTOMER))
    assert right / total >= 0.9
    assert confidence is not None and confidence >= 0.5
    assert out[0].speaker == AGENT  # the greeting


# ---------------------------------------------------------------- the site's own vocabulary


def test_site_vocabulary_is_read_and_corrects_transcripts(tmp_path):
    cfg = tmp_path / "audit.toml"
    cfg.write_text('[site]\nplaces = ["锦华小区", "杏林街"]\nproducts = ["电e宝"]\n', encoding="utf-8")
    terms = load_config(cfg).transcribe.site_terms
    assert terms == ("锦华小区", "杏林街", "电e宝")
    assert correct_homophones("我是金华小区物业的", load_lexicon("", terms)) == "我是锦华小区物业的"
    assert correct_homophones("我是金华小区物业的", load_lexicon()) == "我是金华小区物业的"
    cfg.write_text('[site]\nstreets = ["x"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="streets"):
        load_config(cfg)


def test_long_terms_are_corrected_by_near_sound_but_a_written_term_is_not_touched():
    lex = load_lexicon()
    assert correct_homophones("想在车位上装个触电装", lex) == "想在车位上装个充电桩"
    assert correct_homophones("您好,公电服务热线", lex) == "您好,供电服务热线"
    assert correct_homophones("国网供电服务热线", lex) == "国网供电服务热线"
    assert correct_homophones("有人触电了", lex) == "有人触电了"


# ---------------------------------------------------------------- store and reports


def test_an_older_store_gains_confidence_and_review_only_columns(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:
        db.executescript(script)
    db.execute("PRAGMA user_version = 2")
    db.execute("INSERT INTO flags (flag_key, call_id, category, rule_id, severity, points) VALUES ('k', 'c', 'x', 'r', 'minor', 5)")
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.version == SCHEMA_VERSION
        row = store.db.execute("SELECT confidence, review_only FROM flags WHERE flag_key = 'k'").fetchone()
        assert tuple(row) == (1.0, 0)


def test_review_decisions_on_counted_and_review_only_flags():
    from audit.detect.rules import DEFAULT_RULES_DIR, load_pack

    pack = load_pack(DEFAULT_RULES_DIR)
    calls = pd.DataFrame({"call_id": ["a", "b"], "dimensions": [json.dumps({"应答规范": 95.0}), json.dumps({"应答规范": 100.0})],
                          "measures": ["{}", "{}"]})
    flags = pd.DataFrame({
        "flag_key": ["1", "2", "3"], "call_id": ["a", "b", "b"], "category": ["script.greeting"] * 3,
        "rule_id": ["script.greeting.incomplete"] * 3, "points": [5.0, 5.0, 5.0], "review_only": [0, 1, 1],
        "decision": ["dismiss", "confirm", None],
    })
    dims = reviewed_scores(calls, flags, pack, {})
    assert dims.at[0, "应答规范"] == 100.0  # a dismissed counted flag gives its points back
    assert dims.at[1, "应答规范"] == 95.0  # a confirmed review-only flag now costs its points; the open one nothing
    assert counted_flags(flags)["flag_key"].tolist() == ["2"]


def test_review_only_thresholds_come_from_the_workspace_config(tmp_path):
    from audit.detect.confidence import ConfidenceOptions
    from audit.detect.rules import DEFAULT_RULES_DIR, load_pack
    from audit.scoring import scored_with

    cfg = tmp_path / "audit.toml"
    cfg.write_text("[scoring.confidence]\nmin_attribution = 0.8\n", encoding="utf-8")
    conf = load_config(cfg).confidence
    assert conf.min_attribution == 0.8 and conf.min_asr == ConfidenceOptions().min_asr
    pack = load_pack(DEFAULT_RULES_DIR)
    assert scored_with(pack, conf) != scored_with(pack, ConfidenceOptions())  # new thresholds: rescored
    assert scored_with(pack, ConfidenceOptions()).startswith(pack.digest)
    cfg.write_text("[scoring.confidence]\nmin_attrib = 0.8\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="min_attrib"):
        load_config(cfg)


def test_a_garbled_greeting_still_seeds_the_agent_side():
    """Mono attribution seeds the agent from set phrases; ASR garbles the greeting most, so its sound counts too."""
    from audit.asr.diarize import cue_vote

    for heard in ("我是359号克服", "您切通的是国家电网公电服务热线", "华务员三八二为您服务", "欢迎这店国网"):
        assert cue_vote(heard) > 0, heard
    for caller in ("我要克服困难", "我想问一下电费", "你们那个师傅说明天来"):
        assert cue_vote(caller) <= 0, caller
