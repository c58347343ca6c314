import json
import random

import pytest
from click.testing import CliRunner

from audit import transcribe
from audit.run import pipeline
from audit.cli import cli
from audit.detect.episodes import episodes
from audit.detect.flags import Flag
from audit.transcribe import Segment, TranscribeOptions, Word


def hit(rule, start, end, evidence="x", confidence=0.8, review_only=False, call="c"):
    return Flag(call, rule.split(".")[0] + "." + rule.split(".")[1], rule, "major", 5.0, "agent", start, end, evidence,
                confidence, review_only)


def test_close_hits_of_one_rule_are_one_episode_with_the_strongest_evidence():
    hits = [hit("emotion.customer.angry", 30.0, 33.0, "a"), hit("emotion.customer.angry", 36.0, 40.0, "b", 0.95),
            hit("emotion.customer.angry", 48.0, 50.0, "c")]
    (ep,) = episodes(hits, gap=10.0)
    assert (ep.start, ep.end, ep.hits, ep.evidence, ep.confidence) == (30.0, 50.0, 3, "b", 0.95)
    assert ep.key == hits[0].key  # reviews of the first hit stay with the episode


def test_far_apart_hits_other_rules_other_calls_and_untimed_flags_stay_apart():
    flags = [hit("emotion.customer.angry", 0.0, 2.0), hit("emotion.customer.angry", 20.1, 22.0),
             hit("acoustic.raised_voice.agent", 1.0, 3.0), hit("emotion.customer.angry", 1.0, 2.0, call="other"),
             hit("script.greeting.incomplete", None, None), hit("script.greeting.incomplete", None, None, "y")]
    out = episodes(flags, gap=10.0)
    assert len(out) == 6 and all(f.hits == 1 for f in out)
    assert len(episodes(flags, gap=20.0)) == 5  # the two angry hits 18.1 s apart join at a 20 s gap


def test_one_counted_hit_makes_the_episode_count_and_order_does_not_matter():
    flags = [hit("answer.hedging.vague", t, t + 2, f"e{t}", 0.5, review_only=t != 12.0) for t in (0.0, 6.0, 12.0, 18.0)]
    results = set()
    for seed in range(5):
        shuffled = flags[:]
        random.Random(seed).shuffle(shuffled)
        (ep,) = episodes(shuffled, gap=10.0)
        results.add((ep.start, ep.end, ep.hits, ep.evidence, ep.review_only))
    assert results == {(0.0, 20.0, 4, "e12.0", False)}
    assert episodes([f for f in flags if f.review_only], gap=10.0)[0].review_only


LINES = ["这不归我们管，你找物业去。", "这事跟我们没关系，你自己看着办。", "我管不了，你爱找谁找谁。"]


class CloseBrushoffs:
    """Three brush-offs 4 s apart on both channels: one stretch."""

    name = "fake"

    def run(self, samples, batched=True):
        return [Segment("", 2.0 + 4 * i, 5.5 + 4 * i, t, -0.2, 0.01, (Word(2.0 + 4 * i, 5.5 + 4 * i, t, 0.9),))
                for i, t in enumerate(LINES)]


@pytest.mark.parametrize("gap", [10.0, 0.0])
def test_an_episode_is_one_row_in_score_json_and_the_gap_is_configurable(demo_ws, gap):
    cfg = demo_ws / "audit.toml"
    text = cfg.read_text(encoding="utf-8").replace("full_coverage = false", "full_coverage = true")
    text = text.replace("workers = 0", "workers = 1").replace("[scoring]\n", f"[scoring]\nepisode_gap = {gap}\n")
    cfg.write_text(text, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(transcribe, "load_engine", lambda options: CloseBrushoffs())
        mp.setattr(pipeline, "transcribe_options", lambda settings, threads=0: TranscribeOptions(model="fake", threads=1, refill=False))
        res = CliRunner().invoke(cli, ["nightly", "--date", "2026-11-19", "--json", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    out = CliRunner().invoke(cli, ["score", "--date", "2026-11-19", "--json", "--config", str(cfg)])
    calls = json.loads(out.output)
    assert calls
    for c in calls:
        brush = [f for f in c["flags"] if f["rule_id"] == "etiquette.forbidden.brushoff"]
        if gap:  # one stretch, one row (a line can hit twice: by phrase and by a similar sentence)
            assert len(brush) == 1 and brush[0]["hits"] >= 3
            assert brush[0]["start"] == 2.0 and brush[0]["end"] == 13.5
        else:
            assert len(brush) >= 3 and all(f["hits"] == 1 for f in brush)
