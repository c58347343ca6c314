"""Workspace configuration: audit.toml, with every key documented in the template `init` writes."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from audit.detect.confidence import ConfidenceOptions
from audit.errors import ConfigError
from audit.sampling import Band, SamplingOptions

CONFIG_NAME = "audit.toml"

TEMPLATE = """\
# callaudit workspace. Paths are relative to this file's folder.
# Every command finds audit.toml in the current folder, or takes --config PATH.

[workspace]
database = "callaudit.db"        # SQLite state: runs, calls, samples, transcripts, flags, reviews
output = "reports"               # reports/<week>/scorecard-<week>.xlsx, clips, daily summaries
timezone = "Asia/Shanghai"       # "yesterday" for `nightly` is computed in this zone

[recordings]
root = "{root}"                  # every audio path must resolve inside this folder
index = "{index}"                # CSV/TSV/XLSX export of the recording system; "" = scan `root`
encoding = "auto"                # auto = UTF-8, UTF-8-BOM, then GBK/GB18030; or name one
# Used only when index = "": a regex on each file's path under root, with named
# groups agent_id, call_id (default: file stem) and start (parsed with scan_time_format).
scan_pattern = '(?P<agent_id>[^/_]+)_(?P<start>\\d{{14}})_(?P<call_id>[^/_.]+)\\.\\w+$'
scan_time_format = "%Y%m%d%H%M%S"

[index.columns]
# Our field = the header in your export. Leave a field out to use the built-in
# aliases (e.g. 坐席工号 -> agent_id, 通话时长 -> duration, 录音文件 -> audio_path).
# call_id = "流水号"
# agent_id = "坐席工号"
# agent_name = "坐席姓名"
# team = "班组"
# start = "开始时间"
# duration = "通话时长"          # seconds, or HH:MM:SS
# audio_path = "录音文件"
# caller = "主叫号码"            # optional
# topic = "业务类型"             # optional
# hire_date = "入职日期"         # optional, drives new_hired_after

[sampling]
seed = 0                         # same seed + same index = same sample on every rerun
full_coverage = false            # true = audit every call (needs the compute)
min_per_agent = 1                # every agent who worked that day gets at least this many
new_agents = []                  # agent ids that count as new
new_hired_after = ""             # or: agents whose hire_date is after this date are new
new_agent_multiplier = 2.0       # new agents' counts and rates are multiplied by this

# Duration bands (seconds, lo < duration <= hi). No count/rate = take all calls in the band.
[[sampling.bands]]
name = ">400s"
lo = 400

[[sampling.bands]]
name = "300-400s"
lo = 300
hi = 400
count = 2

[[sampling.bands]]
name = "200-300s"
lo = 200
hi = 300
count = 2

[[sampling.bands]]
name = "<=200s"
lo = 0
hi = 200
rate = 0.05

[transcribe]
engine = "faster-whisper"        # or "openai-whisper" (needs `callaudit model convert`)
model = ""                       # a CTranslate2 model folder; "" = Whisper base assembled from PyPI parts
device = "auto"                  # auto = cuda when present, else cpu
compute_type = "auto"            # auto = int8 on cpu, float16 on cuda
language = "zh"                  # forced: never trust language detection on 8 kHz audio
agent_channel = "left"           # stereo recordings: which channel is the agent
beam_size = 1                    # 1 = greedy decoding (fastest); 5 = beam search
batch_size = 0                   # >1: decode speech chunks in batches (~25% faster; lost whole chunks on a dev call)
workers = 0                      # 0 = sized to the machine (workers x threads <= cores)
vad = true                       # skip silence before decoding (speed, fewer hallucinations)
homophones = true                # rewrite 公号->工号, 呼号->户号 ... from the hotline vocabulary
lexicon = ""                     # a file of your own terms (place names, products), ahead of the built-in vocabulary
refill = true                    # decode again, alone, stretches of speech the first pass skipped

[site]
# Your hotline's own words: they go ahead of the built-in vocabulary when transcripts are
# corrected (a stretch that sounds like one of these, or nearly so for three syllables and
# more, is rewritten to it). Editing this list means new transcripts on the next run.
hotline_names = []               # e.g. ["95598", "供电服务热线"]
short_names = []                 # e.g. ["国网", "国网客服"]
company_names = []               # e.g. ["国网江苏省电力有限公司", "城东供电所"]
places = []                      # districts, towns, villages, streets callers name
products = []                    # e.g. ["网上国网", "电e宝"]

[executor]
kind = "local"                   # local = process pool on this machine; ray = Ray (pip install 'callaudit[ray]')
address = ""                     # ray only: "" = start Ray here; "ray://head:10001" or "auto" = join a cluster

[scoring]
rules = "rules"                  # folder of YAML rule packs
episode_gap = 10.0               # hits of one rule this many seconds apart or closer are one episode (one finding)
# Weights of the dimension scores in the call total (need not sum to 1).
[scoring.weights]
"应答规范" = 1.0
"信息收集" = 1.0
"答复准确" = 1.0
"语音清晰" = 0.5
"沟通技巧" = 1.0
"情绪控制" = 1.0
"服务隐患" = 1.5

# When a flag goes to a reviewer instead of costing points (review-only). Defaults keep the
# dev corpus's clean calls clean; raise them to send more to reviewers.
[scoring.confidence]
min_asr = 0.5                    # absence flag: ASR's mean word probability in the window below this
approx_sound = 0.75              # absence flag: the element heard nearly (graded pinyin) at least this alike
min_attribution = 0.7            # mono call: speaker-dependent flags review-only below this (calibrated: no call under 0.9 accuracy reaches 0.7)
max_unheard = 1.0                # absence flag: seconds of speech in the window ASR wrote nothing for
mono_level_margin = 2.0          # mono call: loudness flags need this many dB more to count

[reports]
mask_pii = true                  # mask phone, ID and account numbers in reports
clip_padding = 3.0               # seconds of audio kept before and after a flag in clips
clip_format = "mp3"              # mp3 or wav
clip_channels = "both"           # both, or speaker = only the flagged speaker's channel (stereo)
"""


@dataclass(frozen=True)
class TranscribeSettings:
    engine: str = "faster-whisper"
    model: str = ""
    device: str = "auto"
    compute_type: str = "auto"
    language: str = "zh"
    agent_channel: str = "left"
    beam_size: int = 1
    batch_size: int = 0
    workers: int = 0
    vad: bool = True
    homophones: bool = True
    lexicon: str = ""
    refill: bool = True
    site_terms: tuple[str, ...] = ()  # from [site]: hotline, company, place and product names


@dataclass(frozen=True)
class Config:
    base: Path  # folder of audit.toml
    database: Path
    output: Path
    timezone: str
    recording_root: Path
    index: Path | None
    encoding: str
    scan_pattern: str
    scan_time_format: str
    columns: dict[str, str]
    sampling: SamplingOptions
    new_agents: tuple[str, ...]
    new_hired_after: str
    transcribe: TranscribeSettings
    rules: Path
    weights: dict[str, float]
    executor: str = "local"
    executor_address: str = ""
    mask_pii: bool = True
    confidence: ConfidenceOptions = ConfidenceOptions()
    episode_gap: float = 10.0
    clip_padding: float = 3.0
    clip_format: str = "mp3"
    clip_channels: str = "both"


def write_template(folder: Path, root: str = "recordings", index: str = "index.csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CONFIG_NAME
    if path.exists():
        raise ConfigError(f"{path} already exists; edit it, or remove it to start over")
    path.write_text(TEMPLATE.format(root=root, index=index), encoding="utf-8")
    return path


def _get(d: dict, key: str, kind, default, where: str):
    val = d.get(key, default)
    if kind is float and isinstance(val, int) and not isinstance(val, bool):
        val = float(val)
    if not isinstance(val, kind) or (kind is int and isinstance(val, bool)):
        raise ConfigError(f"{where}.{key} must be {kind.__name__}, got {val!r}")
    return val


def _bands(items: list, where: str) -> tuple[Band, ...]:
    out = []
    for i, b in enumerate(items):
        w = f"{where}[{i}]"
        if not isinstance(b, dict) or "name" not in b or "lo" not in b:
            raise ConfigError(f"{w} needs name and lo")
        unknown = set(b) - {"name", "lo", "hi", "count", "rate"}
        if unknown:
            raise ConfigError(f"{w} has unknown keys {sorted(unknown)}")
        count, rate = b.get("count"), b.get("rate")
        if count is not None and (not isinstance(count, int) or count < 0):
            raise ConfigError(f"{w}.count must be a whole number >= 0")
        if rate is not None and not (isinstance(rate, (int, float)) and 0 <= rate <= 1):
            raise ConfigError(f"{w}.rate must be between 0 and 1")
        out.append(Band(str(b["name"]), float(b["lo"]), float(b.get("hi", math.inf)), count, rate))
    return tuple(out)


SITE_KEYS = ("hotline_names", "short_names", "company_names", "places", "products")


def _site_terms(site) -> tuple[str, ...]:
    if not isinstance(site, dict):
        raise ConfigError("[site] must be a table of name lists")
    unknown = set(site) - set(SITE_KEYS)
    if unknown:
        raise ConfigError(f"[site] has unknown keys {sorted(unknown)} (allowed: {', '.join(SITE_KEYS)})")
    out: list[str] = []
    for key in SITE_KEYS:
        vals = site.get(key, [])
        if not isinstance(vals, list) or not all(isinstance(v, (str, int)) for v in vals):
            raise ConfigError(f"site.{key} must be a list of names")
        out += [str(v).strip() for v in vals if str(v).strip()]
    return tuple(dict.fromkeys(out))


def _episode_gap(sc: dict) -> float:
    gap = _get(sc, "episode_gap", float, 10.0, "scoring")
    if gap < 0:
        raise ConfigError(f"scoring.episode_gap must be seconds >= 0, got {gap}")
    return gap


def _confidence(raw) -> ConfidenceOptions:
    if not isinstance(raw, dict):
        raise ConfigError("[scoring.confidence] must be a table of thresholds")
    fields = ConfidenceOptions.__dataclass_fields__
    unknown = set(raw) - set(fields)
    if unknown:
        raise ConfigError(f"[scoring.confidence] has unknown keys {sorted(unknown)} (allowed: {', '.join(fields)})")
    vals = {k: _get(raw, k, float, getattr(ConfidenceOptions(), k), "scoring.confidence") for k in raw}
    bad = [k for k, v in vals.items() if not math.isfinite(v) or v < 0]
    if bad:
        raise ConfigError(f"scoring.confidence.{bad[0]} must be a number >= 0, got {vals[bad[0]]}")
    return replace(ConfidenceOptions(), **vals)


def load_config(path: Path | None = None) -> Config:
    """Load audit.toml (default: ./audit.toml) and resolve its paths."""
    path = Path(path) if path else Path.cwd() / CONFIG_NAME
    if not path.exists():
        raise ConfigError(f"no {path.name} at {path.parent}; run `callaudit init DIR` or pass --config")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    base = path.parent.resolve()
    ws, rec, idx = raw.get("workspace", {}), raw.get("recordings", {}), raw.get("index", {})
    smp, tr, sc, rp = raw.get("sampling", {}), raw.get("transcribe", {}), raw.get("scoring", {}), raw.get("reports", {})

    def p(value: str) -> Path:
        return (base / value).resolve() if not Path(value).is_absolute() else Path(value)

    index_s = _get(rec, "index", str, "", "recordings")
    sampling = SamplingOptions(
        bands=_bands(smp["bands"], "sampling.bands") if "bands" in smp else SamplingOptions().bands,
        seed=_get(smp, "seed", int, 0, "sampling"),
        new_agent_multiplier=_get(smp, "new_agent_multiplier", float, 2.0, "sampling"),
        min_per_agent=_get(smp, "min_per_agent", int, 1, "sampling"),
        full_coverage=_get(smp, "full_coverage", bool, False, "sampling"),
    )
    known = {f for f in TranscribeSettings.__dataclass_fields__} - {"site_terms"}
    unknown = set(tr) - known
    if unknown:
        raise ConfigError(f"[transcribe] has unknown keys {sorted(unknown)}")
    transcribe = TranscribeSettings(**tr, site_terms=_site_terms(raw.get("site", {})))
    if transcribe.lexicon:
        transcribe = replace(transcribe, lexicon=str(p(transcribe.lexicon)))
    if transcribe.agent_channel not in ("left", "right"):
        raise ConfigError("transcribe.agent_channel must be 'left' or 'right'")
    if transcribe.engine not in ("faster-whisper", "openai-whisper"):
        raise ConfigError("transcribe.engine must be 'faster-whisper' or 'openai-whisper'")
    if rp.get("clip_channels", "both") not in ("both", "speaker"):
        raise ConfigError("reports.clip_channels must be 'both' or 'speaker'")
    ex = raw.get("executor", {})
    executor = _get(ex, "kind", str, "local", "executor")
    if executor not in ("local", "ray"):
        raise ConfigError("executor.kind must be 'local' or 'ray'")
    return Config(
        base=base,
        database=p(_get(ws, "database", str, "callaudit.db", "workspace")),
        output=p(_get(ws, "output", str, "reports", "workspace")),
        timezone=_get(ws, "timezone", str, "Asia/Shanghai", "workspace"),
        recording_root=p(_get(rec, "root", str, "recordings", "recordings")),
        index=p(index_s) if index_s else None,
        encoding=_get(rec, "encoding", str, "auto", "recordings"),
        scan_pattern=_get(rec, "scan_pattern", str, r"(?P<call_id>[^/]+)\.\w+$", "recordings"),
        scan_time_format=_get(rec, "scan_time_format", str, "%Y%m%d%H%M%S", "recordings"),
        columns={k: str(v) for k, v in idx.get("columns", {}).items()},
        sampling=sampling,
        new_agents=tuple(str(a) for a in smp.get("new_agents", [])),
        new_hired_after=str(smp.get("new_hired_after", "")),
        transcribe=transcribe,
        rules=p(_get(sc, "rules", str, "rules", "scoring")),
        weights={str(k): float(v) for k, v in sc.get("weights", {}).items()},
        confidence=_confidence(sc.get("confidence", {})),
        episode_gap=_episode_gap(sc),
        executor=executor,
        executor_address=_get(ex, "address", str, "", "executor"),
        mask_pii=_get(rp, "mask_pii", bool, True, "reports"),
        clip_padding=_get(rp, "clip_padding", float, 3.0, "reports"),
        clip_format=_get(rp, "clip_format", str, "mp3", "reports"),
        clip_channels=_get(rp, "clip_channels", str, "both", "reports"),
    )
