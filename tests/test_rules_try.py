"""`callaudit rules try`: a candidate pack's changes on stored calls, and nothing written."""

import hashlib
import json
import shutil

from click.testing import CliRunner

from audit.cli import cli
from tests.conftest import REPO
from tests.test_one_score import DAY, ws  # noqa: F401 (fixture: a demo night with scripted brush-offs)


def hashes(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_rules_try_reports_added_and_removed_flags_and_writes_nothing(ws, tmp_path):  # noqa: F811
    candidate = tmp_path / "rules-new"
    shutil.copytree(REPO / "rules", candidate)
    # the candidate drops the brush-off rule and adds a rule for 物业 mentioned by the agent
    text = (candidate / "etiquette.yaml").read_text(encoding="utf-8")
    start = text.index("  - id: etiquette.forbidden.brushoff")
    end = text.find("  - id:", start + 10) % (len(text) + 1)  # the next rule, or the end of the file
    new_rule = ("  - id: etiquette.property_referral\n    category: etiquette.forbidden\n    dimension: 沟通技巧\n"
                "    severity: minor\n    points: 2\n    description: 坐席把客户推给物业\n    type: match\n"
                "    speaker: agent\n    pattern: [物业]\n")
    (candidate / "etiquette.yaml").write_text(text[:start] + new_rule + text[end:], encoding="utf-8")
    form = (candidate / "form.yaml").read_text(encoding="utf-8")  # the score form names the rule: follow it
    (candidate / "form.yaml").write_text(form.replace("etiquette.forbidden.brushoff", "etiquette.property_referral"), encoding="utf-8")
    before = hashes(ws)
    res = CliRunner().invoke(cli, ["rules", "try", str(candidate), "--from", DAY, "--to", DAY, "--json",
                                   "--config", str(ws / "audit.toml")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["calls"] >= 3
    assert out["by_rule"]["etiquette.forbidden.brushoff"]["removed"] >= 3 and out["by_rule"]["etiquette.forbidden.brushoff"]["added"] == 0
    assert out["by_rule"]["etiquette.property_referral"]["added"] >= 3
    assert all("物业" in c["evidence"] for c in out["added"] if c["rule_id"] == "etiquette.property_referral")
    assert out["score_change"] and all(v > 0 for v in out["score_change"].values())  # 10-point brush-offs out, 2-point referrals in
    assert hashes(ws) == before  # every file byte-identical: database, reports, recordings

    plain = CliRunner().invoke(cli, ["rules", "try", str(candidate), "--from", DAY, "--to", DAY, "--config", str(ws / "audit.toml")])
    assert plain.exit_code == 0 and "flags added" in plain.output and hashes(ws) == before


def test_rules_try_refuses_a_broken_candidate_by_name(ws, tmp_path):  # noqa: F811
    candidate = tmp_path / "bad"
    candidate.mkdir()
    (candidate / "x.yaml").write_text("rules:\n  - id: x\n    category: a.b\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["rules", "try", str(candidate), "--from", DAY, "--to", DAY, "--config", str(ws / "audit.toml")])
    assert res.exit_code == 1 and "x.yaml" in res.output and "Traceback" not in res.output
