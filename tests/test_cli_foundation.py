import json
import sqlite3

import pytest
from click.testing import CliRunner

from audit.cli import cli
from tests.conftest import make_calls


@pytest.fixture
def ws(tmp_path):
    """A workspace with a generated index of 5 agents x 20 calls on one day."""
    runner = CliRunner()
    res = runner.invoke(cli, ["init", str(tmp_path)])
    assert res.exit_code == 0, res.output
    make_calls().to_csv(tmp_path / "index.csv", index=False)
    return tmp_path


def run(ws, *args):
    res = CliRunner().invoke(cli, [*args, "--config", str(ws / "audit.toml")])
    assert res.exit_code == 0, res.output
    return res.output


def test_init_writes_commented_config_and_refuses_to_overwrite(tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(tmp_path)]).exit_code == 0
    text = (tmp_path / "audit.toml").read_text(encoding="utf-8")
    assert "[sampling]" in text and "# " in text
    again = runner.invoke(cli, ["init", str(tmp_path)])
    assert again.exit_code == 1 and "already exists" in again.output


def test_sample_json_lists_every_agent(ws):
    out = json.loads(run(ws, "sample", "--date", "2026-11-19", "--json"))
    assert out["agents"] == 5 and out["calls_indexed"] == 100
    assert {c["agent_id"] for c in out["calls"]} == {f"A{i:03d}" for i in range(5)}
    assert out["sampled"] == len(out["calls"]) == sum(out["sampled_per_band"].values())
    assert all(c["reason"] for c in out["calls"])


def test_nightly_twice_gives_same_rows(ws):
    first = run(ws, "nightly", "--date", "2026-11-19", "--stages", "sample")
    assert "5 agents, 100 calls indexed" in first
    db = sqlite3.connect(ws / "callaudit.db")
    counts = lambda: [db.execute(f"select count(*) from {t}").fetchone()[0] for t in ("calls", "samples")]  # noqa: E731
    before = counts()
    run(ws, "nightly", "--date", "2026-11-19", "--stages", "sample")
    assert counts() == before and before[0] == 100
    assert db.execute("select count(*) from runs where status='done'").fetchone()[0] == 2


def test_nightly_reports_bad_rows_and_continues(ws):
    df = make_calls()
    df.loc[3, "duration"] = -1
    df.loc[7, "agent_id"] = ""
    df.to_csv(ws / "index.csv", index=False)
    out = run(ws, "nightly", "--date", "2026-11-19", "--stages", "sample")
    assert "98 calls indexed" in out and "2 index rows skipped" in out
    probs = json.loads(run(ws, "problems", "--date", "2026-11-19", "--json"))
    assert {p["item"] for p in probs} == {"row 5: 2026-11-19-000-0003", "row 9: 2026-11-19-000-0007"}


def test_empty_day(ws):
    out = json.loads(run(ws, "sample", "--date", "2026-01-01", "--json"))
    assert out["sampled"] == 0 and out["calls"] == []


def test_missing_config_is_a_clear_error(tmp_path):
    res = CliRunner().invoke(cli, ["sample", "--date", "2026-11-19", "--config", str(tmp_path / "audit.toml")])
    assert res.exit_code == 1 and "callaudit init" in res.output


def test_every_command_has_help():
    runner = CliRunner()
    def walk(group, path):
        for name, cmd in group.commands.items():
            assert cmd.help, f"{' '.join(path + [name])} has no help"
            res = runner.invoke(cli, path + [name, "--help"])
            assert res.exit_code == 0
            if hasattr(cmd, "commands"):
                walk(cmd, path + [name])
    walk(cli, [])
