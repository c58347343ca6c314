import pandas as pd

from audit.sampling import Band, SamplingOptions, assign_band, sample
from tests.conftest import make_calls


def test_every_agent_covered_even_with_only_short_calls():
    calls = make_calls(n_agents=4, per_agent=3)
    calls["duration"] = 30.0  # nothing long; 0% short rate
    opts = SamplingOptions(bands=(Band("long", 400), Band("short", 0, 200, rate=0.0)))
    picked = sample(calls, opts)
    assert sorted(picked["agent_id"].unique()) == sorted(calls["agent_id"].unique())
    assert (picked["reason"] == "coverage: agent's longest call").all()


def test_all_calls_over_400s_taken_and_band_counts_respected():
    calls = make_calls(n_agents=6, per_agent=40, seed=3)
    picked = sample(calls, SamplingOptions())
    long_ids = set(calls.loc[calls["duration"] > 400, "call_id"])
    assert long_ids and long_ids <= set(picked["call_id"])
    for band, quota in (("300-400s", 2), ("200-300s", 2)):
        per_agent = picked[picked["band"] == band].groupby("agent_id").size()
        available = calls[(calls["duration"] > int(band[:3])) & (calls["duration"] <= int(band[4:7]))].groupby("agent_id").size()
        for agent, n in available.items():
            assert per_agent.get(agent, 0) == min(quota, n), (band, agent)


def test_boundaries_are_right_closed():
    bands = SamplingOptions().bands
    got = assign_band(pd.Series([400.0, 400.01, 300.0, 200.0, 0.0]), bands).tolist()
    assert got == ["300-400s", ">400s", "200-300s", "<=200s", "<=200s"]


def test_new_agents_get_their_quota_multiplied():
    calls = make_calls(n_agents=2, per_agent=60, seed=5)
    calls["duration"] = 250.0  # all in 200-300s
    calls["is_new"] = calls["agent_id"] == "A001"
    picked = sample(calls, SamplingOptions(new_agent_multiplier=3))
    counts = picked.groupby("agent_id").size()
    assert counts["A000"] == 2 and counts["A001"] == 6
    assert picked.loc[picked["agent_id"] == "A001", "reason"].str.contains("new agent").all()


def test_same_seed_same_sample_regardless_of_row_order():
    calls = make_calls(n_agents=5, per_agent=50, seed=7)
    a = sample(calls, SamplingOptions(seed=11))
    b = sample(calls.sample(frac=1.0, random_state=1), SamplingOptions(seed=11))
    assert a["call_id"].tolist() == b["call_id"].tolist()
    c = sample(calls, SamplingOptions(seed=12))
    assert set(c["call_id"]) != set(a["call_id"])


def test_empty_day_gives_empty_sample():
    picked = sample(make_calls().iloc[0:0])
    assert picked.empty and {"band", "reason"} <= set(picked.columns)


def test_full_coverage_takes_everything():
    calls = make_calls(n_agents=3, per_agent=10)
    picked = sample(calls, SamplingOptions(full_coverage=True))
    assert len(picked) == len(calls)


def test_min_per_agent_above_one():
    calls = make_calls(n_agents=3, per_agent=10)
    calls["duration"] = 100.0
    picked = sample(calls, SamplingOptions(bands=(Band("s", 0, 200, rate=0.0),), min_per_agent=3))
    assert picked.groupby("agent_id").size().tolist() == [3, 3, 3]
