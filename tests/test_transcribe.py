import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from audit import transcribe
from audit.run import pipeline
from audit.asr.audio import decode
from audit.cli import cli
from audit.errors import AudioError
from audit.transcribe import (
    AGENT, CUSTOMER, Segment, TranscribeOptions, Word, clean_segments, collapse_loops, is_hallucination,
    split_on_pauses, to_simplified,
)
from tests.conftest import DEMO

# ---------------------------------------------------------------- text guards (fast)


def test_traditional_output_becomes_simplified():
    assert to_simplified("國家電網客服，請問有什麼可以幫您") == "国家电网客服，请问有什么可以帮您"
    # full-width digits would slip past phone-number masking and the rules' number patterns
    assert transcribe.plain_text("電話１３９０６５２７７８１，ＯＫ") == "电话13906527781，OK"


def test_repeated_token_loop_is_collapsed():
    assert collapse_loops("好的" + "对" * 200) == "好的对对"
    assert collapse_loops("谢谢谢谢谢谢谢谢") == "谢谢"
    assert collapse_loops("对对，好的") == "对对，好的"


def test_hallucinations_on_silence_are_dropped():
    assert is_hallucination(Segment("", 0, 1, "", -0.2, 0.1))
    assert is_hallucination(Segment("", 0, 1, "谢谢观看", -1.5, 0.9))
    assert not is_hallucination(Segment("", 0, 1, "您好，国家电网客服", -0.3, 0.05))
    # subtitle lines Whisper learnt from video, even when it is confident about them
    assert is_hallucination(Segment("", 43.2, 46.8, "中文字幕后", -0.3, 0.2))
    assert not is_hallucination(Segment("", 0, 1, "我订阅了停电短信提醒", -0.3, 0.05))


def test_long_segment_split_where_words_pause():
    words = (Word(62.0, 62.5, "请您"), Word(62.5, 63.0, "稍等"), Word(203.0, 203.5, "感谢您的"), Word(203.5, 204.5, "耐心等待"))
    parts = split_on_pauses(Segment("", 62.0, 204.5, "请您稍等感谢您的耐心等待", words=words), 0.5)
    assert [(p.start, p.end, p.text) for p in parts] == [(62.0, 63.0, "请您稍等"), (203.0, 204.5, "感谢您的耐心等待")]


def test_clean_segments_keeps_time_order_and_converts():
    raw = [Segment("", 1.0, 2.0, "您好", words=(Word(1.0, 2.0, "您好"),)), Segment("", 3.0, 4.0, "國家電網", words=(Word(3.0, 4.0, "國家電網"),))]
    out = clean_segments(raw, TranscribeOptions())
    assert [s.text for s in out] == ["您好", "国家电网"]


# ---------------------------------------------------------------- audio (fast)


def test_decode_keeps_stereo_channels_and_resamples(tmp_path):
    a = decode(DEMO / "recordings" / "dev01.mp3")
    assert a.n_channels == 2 and a.sample_rate == 16000 and abs(a.duration - 121.07) < 0.2
    m = decode(DEMO / "recordings" / "dev04.wav")
    assert m.n_channels == 1 and m.codec == "pcm_alaw"


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty file"), (b"RIFF\x00\x00\x00\x00WAVEfmt garbage", "cannot decode|no audio"), (b"ID3" + b"\x00" * 50, "cannot decode|no audio")],
)
def test_corrupt_audio_raises_audio_error_naming_the_file(tmp_path, content, message):
    p = tmp_path / "bad.wav"
    p.write_bytes(content)
    with pytest.raises(AudioError, match=rf"bad\.wav: .*({message})"):
        decode(p)


# ---------------------------------------------------------------- stage with a fake engine (fast)


class CountingEngine:
    """Stands in for Whisper: one segment per channel, counts how often it runs."""

    name = "fake"
    runs = 0

    def run(self, samples, batched=True):
        CountingEngine.runs += 1
        if np.abs(samples).max() < 1e-3:  # like Whisper behind VAD: silence gives no segments
            return []
        n = len(samples) / 16000
        return [Segment("", 0.5, min(3.0, n), "您好国家电网", -0.2, 0.01, (Word(0.5, min(3.0, n), "您好国家电网"),))]


@pytest.fixture
def fake_engine(monkeypatch):
    CountingEngine.runs = 0
    monkeypatch.setattr(transcribe, "load_engine", lambda options: CountingEngine())
    monkeypatch.setattr(pipeline, "transcribe_options", lambda settings, threads=0: TranscribeOptions(model="fake", threads=1))
    return CountingEngine


def _ws_with_calls(demo_ws, rows):
    header = "流水号,坐席工号,坐席姓名,班组,开始时间,通话时长,录音文件\n"
    (demo_ws / "index.csv").write_text(header + "".join(rows), encoding="utf-8")
    cfg = demo_ws / "audit.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("full_coverage = false", "full_coverage = true").replace("workers = 0", "workers = 1"), encoding="utf-8")
    return cfg


def nightly(cfg, *extra):
    res = CliRunner().invoke(cli, ["nightly", "--date", "2026-11-19", "--stages", "sample,transcribe", "--json", "--config", str(cfg), *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_rerun_uses_the_cache_and_same_audio_is_transcribed_once(demo_ws, fake_engine):
    cfg = _ws_with_calls(demo_ws, [
        "c1,1001,甲,一班,2026-11-19 08:00:00,121,dev01.mp3\n",
        "c2,1002,乙,一班,2026-11-19 09:00:00,121,dev01.mp3\n",  # same recording, second call id
        "c3,1002,乙,一班,2026-11-19 10:00:00,76,dev04.wav\n",
    ])
    first = nightly(cfg)
    assert first["transcribe"] == {"total": 3, "done": 2, "cached": 1, "failed": 0}
    runs = fake_engine.runs
    second = nightly(cfg)
    assert second["transcribe"] == {"total": 3, "done": 0, "cached": 3, "failed": 0}
    assert fake_engine.runs == runs
    forced = nightly(cfg, "--force")
    assert forced["transcribe"] == {"total": 3, "done": 2, "cached": 1, "failed": 0} and fake_engine.runs > runs


def test_bad_files_are_isolated_and_reported(demo_ws, fake_engine):
    (demo_ws / "recordings" / "empty.wav").write_bytes(b"")
    (demo_ws / "recordings" / "junk.mp3").write_bytes(b"not audio at all" * 100)
    cfg = _ws_with_calls(demo_ws, [
        "good,1001,甲,一班,2026-11-19 08:00:00,121,dev01.mp3\n",
        "empty,1002,乙,一班,2026-11-19 09:00:00,10,empty.wav\n",
        "junk,1003,丙,一班,2026-11-19 10:00:00,10,junk.mp3\n",
        "gone,1004,丁,一班,2026-11-19 11:00:00,10,missing.wav\n",
    ])
    out = nightly(cfg)
    assert out["transcribe"] == {"total": 4, "done": 1, "cached": 0, "failed": 3}
    probs = {p["item"]: p["message"] for p in out["problems"] if p["stage"] == "transcribe"}
    assert "empty.wav: empty file" in probs["empty"]
    assert "junk.mp3" in probs["junk"]
    assert "missing.wav: file not found" in probs["gone"]


def test_symlink_escaping_the_root_is_refused(demo_ws, fake_engine, tmp_path):
    outside = tmp_path / "secret.wav"
    shutil.copyfile(DEMO / "recordings" / "dev04.wav", outside)
    (demo_ws / "recordings" / "link.wav").symlink_to(outside)
    cfg = _ws_with_calls(demo_ws, ["x,1001,甲,一班,2026-11-19 08:00:00,76,link.wav\n"])
    out = nightly(cfg)
    assert out["transcribe"]["failed"] == 1
    assert "outside the recording root" in out["problems"][0]["message"]


# ---------------------------------------------------------------- real Whisper (slow)


def _truth(call_id):
    return next(c for c in json.loads((DEMO / "truth.json").read_text(encoding="utf-8")) if c["id"] == call_id)


def _real_options():
    from audit.workspace.config import TranscribeSettings

    return pipeline.transcribe_options(TranscribeSettings(), 2)


@pytest.mark.slow
def test_stereo_call_gets_roles_timestamps_and_simplified_text():
    a = decode(DEMO / "recordings" / "dev01.mp3")
    short = replace(a, channels=a.channels[:, : 16000 * 25])  # greeting and first exchange
    tr = transcribe.transcribe_audio(short, _real_options())
    assert tr.layout == "stereo"
    agent, cust = tr.by(AGENT), tr.by(CUSTOMER)
    assert agent and cust
    assert "国家电网" in tr.text(AGENT) and "停电" in tr.text(CUSTOMER)
    assert all(s.start < s.end <= 25.5 for s in tr.segments)
    assert [s.start for s in tr.segments] == sorted(s.start for s in tr.segments)
    assert agent[0].start < 3.0 and agent[0].words
    assert to_simplified(tr.text()) == tr.text()


@pytest.mark.slow
def test_mono_call_attribution_matches_truth_for_most_speech():
    truth = _truth("dev04")
    tr = transcribe.transcribe_file(DEMO / "recordings" / "dev04.wav", _real_options())
    assert tr.layout == "mono" and tr.attribution_confidence is not None
    right = total = 0.0
    for s in tr.segments:
        mid = (s.start + s.end) / 2
        turn = min(truth["timeline"], key=lambda t: 0 if t["start"] <= mid <= t["end"] else min(abs(mid - t["start"]), abs(mid - t["end"])))
        want = AGENT if turn["spk"] == "A" else CUSTOMER
        total += s.end - s.start
        right += (s.end - s.start) * (s.speaker == want)
    assert right / total >= 0.85


def test_score_json_contract_and_rerun_replaces_flags(demo_ws, fake_engine):
    import sqlite3

    cfg = _ws_with_calls(demo_ws, ["c1,1001,甲,一班,2026-11-19 08:00:00,121,dev01.mp3\n"])
    nightly(cfg)
    runner = CliRunner()
    res = runner.invoke(cli, ["score", "--date", "2026-11-19", "--json", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    calls = json.loads(res.output)
    assert [c["call_id"] for c in calls] == ["c1"]
    flags = calls[0]["flags"]
    assert flags, "the fake transcript lacks a full greeting and closing"
    for f in flags:
        assert list(f) == ["flag_key", "call_id", "category", "rule_id", "severity", "points", "speaker", "start", "end", "evidence",
                           "confidence", "review_only", "hits", "decision", "state"]
        assert len(f["flag_key"]) == 16 and 0 <= f["confidence"] <= 1 and isinstance(f["review_only"], bool) and f["decision"] is None
        assert f["call_id"] == "c1" and f["severity"] in ("minor", "major", "critical") and isinstance(f["points"], (int, float))
    assert {"script.greeting", "script.closing"} <= {f["category"] for f in flags}
    assert all(0 <= v <= 100 for v in calls[0]["dimensions"].values())
    assert calls[0]["total"] == calls[0]["machine_total"]  # nothing reviewed yet
    db = sqlite3.connect(demo_ws / "callaudit.db")
    n = db.execute("select count(*) from flags").fetchone()[0]
    again = runner.invoke(cli, ["score", "--date", "2026-11-19", "--force", "--json", "--config", str(cfg)])
    assert again.exit_code == 0 and db.execute("select count(*) from flags").fetchone()[0] == n == len(flags)
    one = json.loads(runner.invoke(cli, ["score", "--call", "c1", "--json", "--config", str(cfg)]).output)
    assert one == calls


@pytest.mark.slow
def test_openai_whisper_on_converted_weights_matches_faster_whisper(tmp_path, monkeypatch):
    from audit.asr.convert import convert
    from audit.asr.metrics import cer

    opts = _real_options()
    monkeypatch.setattr("audit.asr.convert.checkpoint_path", lambda model_dir: tmp_path / "base.pt")
    assert convert(opts.model) == tmp_path / "base.pt"
    a = decode(DEMO / "recordings" / "dev01.mp3")
    short = replace(a, channels=a.channels[:, : 16000 * 25])
    fw = transcribe.transcribe_audio(short, opts)
    ow = transcribe.transcribe_audio(short, replace(opts, engine="openai-whisper"))
    assert ow.engine == "openai-whisper" and ow.segments
    assert cer(fw.text(AGENT), ow.text(AGENT)) <= 0.10
    assert cer(fw.text(), ow.text()) <= 0.15


def test_openai_engine_without_checkpoint_says_what_to_run(tmp_path, monkeypatch):
    from audit.errors import AuditError

    monkeypatch.setattr("audit.asr.convert.checkpoint_path", lambda model_dir: tmp_path / "missing.pt")
    with pytest.raises(AuditError, match="callaudit model convert"):
        transcribe.OpenAIWhisperEngine(TranscribeOptions(engine="openai-whisper", model=str(tmp_path)))


def test_cer_normalizes_numbers_and_script():
    from audit.asr.metrics import cer

    assert cer("工号幺零二三，國家電網", "工号1023国家电网") <= 0.1
    assert cer("您好", "你好") == 0.5


def test_transcript_facts_silences_and_speech_time():
    tr = transcribe.Transcript(
        (Segment(AGENT, 0.0, 4.0, "请您稍等"), Segment(CUSTOMER, 3.0, 5.0, "好"), Segment(AGENT, 25.0, 28.0, "感谢您的耐心等待")),
        30.0, "stereo", "fake", "fake",
    )
    d = tr.to_dict()
    assert d["silences"] == [(5.0, 25.0)] and d["speech_time"] == {AGENT: 7.0, CUSTOMER: 2.0}
    assert transcribe.Transcript.from_dict(json.loads(json.dumps(d))).segments == tr.segments


def test_homophones_rewritten_to_hotline_vocabulary(tmp_path):
    from audit.asr.lexicon import correct_homophones, load_lexicon

    lex = load_lexicon()
    assert correct_homophones("公号1023，详细地质是哪里，提供一下呼号", lex) == "工号1023，详细地址是哪里，提供一下户号"
    assert correct_homophones("你好，我想问问", lex) == "你好，我想问问"  # ni hao is not nin hao
    extra = tmp_path / "terms.txt"
    extra.write_text("光伏并网\n", encoding="utf-8")
    assert correct_homophones("广府并网", load_lexicon(str(extra))) == "光伏并网"
    a, b = TranscribeOptions(lexicon=str(extra)).cache_key("x"), TranscribeOptions().cache_key("x")
    extra.write_text("光伏并网 分布式\n", encoding="utf-8")
    assert a != b and TranscribeOptions(lexicon=str(extra)).cache_key("x") != a


def test_a_term_as_written_is_never_rewritten_to_its_homophone_twin(tmp_path):
    from audit.asr.lexicon import correct_homophones, load_lexicon

    extra = tmp_path / "t.txt"
    extra.write_text("缴费\n", encoding="utf-8")  # 交费 is built in: same pinyin
    lex = load_lexicon(str(extra))
    assert correct_homophones("网上交费", lex) == "网上交费" and correct_homophones("网上缴费", lex) == "网上缴费"
    assert correct_homophones("网上脚费", lex) in ("网上交费", "网上缴费")


def test_a_stretch_starting_inside_a_word_is_not_rewritten():
    from audit.asr.lexicon import correct_homophones, load_lexicon

    lex = load_lexicon()
    # 务也 sounds like 物业 and 份是 like 分时, but 服务 and 月份 are words of their own.
    assert correct_homophones("你这服务也太敷衍了", lex) == "你这服务也太敷衍了"
    assert correct_homophones("1月份是不是", lex) == "1月份是不是"
    assert correct_homophones("我会紧快处理，感谢您的来店", lex) == "我会尽快处理，感谢您的来电"


def test_sound_alike_terms_the_first_listed_wins_and_site_terms_come_first(tmp_path):
    from audit.asr.lexicon import correct_homophones, load_lexicon

    assert correct_homophones("我帮您合适一下", load_lexicon()) == "我帮您合适一下"  # a word as written stays
    assert correct_homophones("我帮您和是一下", load_lexicon()) == "我帮您核实一下"  # 核实 is listed before 合适
    extra = tmp_path / "site.txt"
    extra.write_text("合适\n", encoding="utf-8")
    assert correct_homophones("我帮您和是一下", load_lexicon(str(extra))) == "我帮您合适一下"


def test_mono_attribution_keeps_the_homophone_correction():
    """Attribution rebuilds segment text from words; the vocabulary correction must come after it."""

    class Fixed:
        name = "fake"

        def run(self, samples, batched=True):
            words = (Word(1.2, 2.0, "您好,"), Word(2.1, 3.4, "国家电网客服,"), Word(3.8, 5.0, "公号1375,"))
            return [Segment("", 1.2, 5.0, "".join(w.text for w in words), -0.2, 0.01, words)]

    audio = decode(DEMO / "recordings" / "dev04.wav")
    assert audio.n_channels == 1
    tr = transcribe.transcribe_audio(audio, TranscribeOptions(model="fake"), engine=Fixed())
    assert "工号1375" in tr.text() and "公号" not in tr.text()
    assert "公号1375," in [w.text for s in tr.segments for w in s.words]  # words keep what was heard


def test_agent_set_phrases_are_rewritten_on_the_agent_channel_only(tmp_path):
    segs = [Segment(AGENT, 0.5, 3.0, "你好，国家电网客服，请问你的户号是多少？"), Segment(CUSTOMER, 3.5, 5.0, "你好，户号是123")]
    out = transcribe.correct_segments(segs, TranscribeOptions(model="fake"))
    assert out[0].text == "您好，国家电网客服，请问您的户号是多少？"
    assert out[1].text == "你好，户号是123"
    # brush-offs keep their 你, so the etiquette rules still see them
    rude = transcribe.correct_segments([Segment(AGENT, 0, 2, "你自己去网上查")], TranscribeOptions(model="fake"))
    assert rude[0].text == "你自己去网上查"
    site = tmp_path / "site.txt"
    site.write_text("@agent 师傅=师傅们\n", encoding="utf-8")
    out = transcribe.correct_segments([Segment(AGENT, 0, 2, "师傅马上到")], TranscribeOptions(model="fake", lexicon=str(site)))
    assert out[0].text == "师傅们马上到"
