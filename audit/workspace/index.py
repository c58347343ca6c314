"""Read the recording system's call index (CSV/XLSX), or build one by scanning a folder.

Bad rows are never fatal: each is reported with its spreadsheet row number and skipped.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from audit.errors import IndexError_

log = logging.getLogger("audit")

FIELDS_REQUIRED = ("call_id", "agent_id", "start", "duration", "audio_path")
FIELDS_OPTIONAL = ("agent_name", "team", "caller", "topic", "direction", "hire_date")

# Headers seen in recording-system exports, tried when audit.toml maps nothing for a field.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "call_id": ("call_id", "callid", "id", "流水号", "通话编号", "通话ID", "录音编号", "呼叫编号"),
    "agent_id": ("agent_id", "agent", "坐席工号", "座席工号", "工号", "坐席编号", "座席编号"),
    "agent_name": ("agent_name", "坐席姓名", "座席姓名", "姓名", "坐席", "座席"),
    "team": ("team", "班组", "组别", "小组"),
    "start": ("start", "start_time", "开始时间", "通话开始时间", "呼叫时间", "来电时间"),
    "duration": ("duration", "duration_s", "通话时长", "时长", "通话时长(秒)", "受理时长"),
    "audio_path": ("audio_path", "audio", "file", "path", "录音文件", "录音路径", "录音文件名"),
    "caller": ("caller", "caller_number", "主叫号码", "来电号码", "客户号码"),
    "topic": ("topic", "业务类型", "诉求类型", "工单类型"),
    "direction": ("direction", "呼叫方向", "呼入呼出"),
    "hire_date": ("hire_date", "入职日期", "上岗日期"),
}


@dataclass(frozen=True)
class RowProblem:
    """One index row that was skipped, and why."""

    row: int  # spreadsheet row number (header is row 1); 0 for file-level problems
    item: str  # call id when known, else the file name
    message: str


@dataclass
class CallIndex:
    """Calls read from an index: `calls` has one row per valid call; `problems` the skipped rows."""

    calls: pd.DataFrame
    problems: list[RowProblem] = field(default_factory=list)
    source: str = ""
    encoding: str = ""


def detect_encoding(raw: bytes) -> str:
    """UTF-8 (with or without BOM) first, then GB18030 (a superset of GBK), then a statistical guess."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    for enc in ("utf-8", "gb18030"):
        try:
            raw.decode(enc)
            return enc
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(raw[:200_000]).best()
    if best is None:
        raise IndexError_("cannot detect the text encoding; set [recordings] encoding in audit.toml")
    return best.encoding


def _resolve_columns(headers: list[str], mapping: dict[str, str], source: str) -> dict[str, str]:
    """Map our field names to the file's headers, from audit.toml first, then known aliases."""
    stripped = {h.strip(): h for h in headers}
    lower = {h.strip().lower(): h for h in headers}
    out: dict[str, str] = {}
    for fld in FIELDS_REQUIRED + FIELDS_OPTIONAL:
        wanted = mapping.get(fld)
        if wanted:
            if wanted.strip() not in stripped:
                raise IndexError_(
                    f"{source}: [index.columns] maps {fld} to '{wanted}', but the file has no such column "
                    f"(columns: {', '.join(h.strip() for h in headers)})"
                )
            out[fld] = stripped[wanted.strip()]
            continue
        for alias in HEADER_ALIASES.get(fld, ()):
            if alias in stripped or alias.lower() in lower:
                out[fld] = stripped.get(alias) or lower[alias.lower()]
                break
    missing = [f for f in FIELDS_REQUIRED if f not in out]
    if missing:
        raise IndexError_(
            f"{source}: no column for {', '.join(missing)}; map them under [index.columns] in audit.toml "
            f"(columns found: {', '.join(h.strip() for h in headers)})"
        )
    return out


def parse_durations(raw: pd.Series) -> pd.Series:
    """Seconds as numbers, or HH:MM:SS / MM:SS. Unparseable -> NaN."""
    text = raw.astype(str).str.strip()
    secs = pd.to_numeric(text, errors="coerce")
    clock = secs.isna() & text.str.contains(":", regex=False)
    if clock.any():
        parts = text[clock].str.split(":")
        padded = parts.map(lambda p: ["0"] * (3 - len(p)) + p if len(p) <= 3 else None)
        ok = padded.notna()
        td = pd.to_timedelta(padded[ok].str.join(":"), errors="coerce")
        secs.loc[td.index] = td.dt.total_seconds()
    return secs


def parse_times(raw: pd.Series) -> pd.Series:
    """Local wall-clock start times; unparseable -> NaT."""
    text = raw.astype(str).str.strip()
    out = pd.to_datetime(text, errors="coerce")
    retry = out.isna() & text.ne("") & text.ne("nan")
    if retry.any():
        out.loc[retry] = pd.to_datetime(text[retry], errors="coerce", format="mixed")
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_localize(None)
    return out


def _inside_root(paths: pd.Series, root: Path) -> np.ndarray:
    """True where a relative or absolute path stays inside root once '..' is collapsed.

    Symlinks are checked again when the audio is opened (audio.open_inside_root)."""
    root_s = os.path.normpath(str(root.absolute()))
    prefix = root_s.rstrip(os.sep) + os.sep
    out = np.empty(len(paths), dtype=bool)
    for i, p in enumerate(paths.to_numpy()):
        full = os.path.normpath(p if os.path.isabs(p) else os.path.join(root_s, p))
        out[i] = full.startswith(prefix)
    return out


def read_index(
    path: Path,
    recording_root: Path,
    columns: dict[str, str] | None = None,
    encoding: str = "auto",
) -> CallIndex:
    """Read a CSV or XLSX call index. Raises IndexError_ only when the file as a whole is unusable."""
    path = Path(path)
    source = path.name
    if not path.exists():
        raise IndexError_(f"call index {path} does not exist; set [recordings] index in audit.toml (or '' to scan the recording root)")
    enc = ""
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            raw = pd.read_excel(path, dtype=str, keep_default_na=False)
        else:
            data = path.read_bytes()
            if not data.strip():
                raise IndexError_(f"call index {path} is empty")
            enc = detect_encoding(data) if encoding == "auto" else encoding
            sep = "\t" if path.suffix.lower() == ".tsv" else ","
            from io import StringIO

            raw = pd.read_csv(StringIO(data.decode(enc)), dtype=str, keep_default_na=False, sep=sep)
    except IndexError_:
        raise
    except Exception as exc:  # pandas/openpyxl raise many kinds
        raise IndexError_(f"cannot read call index {path}: {exc}") from exc
    return normalize_index(raw, recording_root, columns or {}, source=source, encoding=enc)


def normalize_index(
    raw: pd.DataFrame, recording_root: Path, columns: dict[str, str], source: str = "index", encoding: str = ""
) -> CallIndex:
    """Rename, type and validate index rows; bad rows become RowProblems."""
    colmap = _resolve_columns([str(c) for c in raw.columns], columns, source)
    df = pd.DataFrame({fld: raw[col].astype(str).str.strip() for fld, col in colmap.items()})
    for fld in FIELDS_OPTIONAL:
        if fld not in df:
            df[fld] = ""
    rownum = pd.Series(np.arange(len(df)) + 2, index=df.index)  # header is spreadsheet row 1

    problems: list[RowProblem] = []
    bad = pd.Series(False, index=df.index)

    def reject(mask: pd.Series, why) -> None:
        nonlocal bad
        mask = mask & ~bad
        for idx in df.index[mask]:
            cid = df.at[idx, "call_id"] or f"row {rownum[idx]}"
            problems.append(RowProblem(int(rownum[idx]), cid, why(idx) if callable(why) else why))
        bad |= mask

    empty = lambda s: s.eq("") | s.str.lower().isin(["nan", "none", "null"])  # noqa: E731
    reject(empty(df["call_id"]), "missing call id")
    reject(empty(df["agent_id"]), "missing agent id")
    reject(empty(df["audio_path"]), "missing audio path")

    dur = parse_durations(df["duration"])
    reject(dur.isna(), lambda i: f"duration '{df.at[i, 'duration']}' is not a number of seconds")
    reject(dur < 0, lambda i: f"negative duration {df.at[i, 'duration']}")
    start = parse_times(df["start"])
    reject(start.isna(), lambda i: f"start time '{df.at[i, 'start']}' cannot be parsed")
    inside = pd.Series(_inside_root(df["audio_path"], Path(recording_root)), index=df.index)
    reject(~inside, lambda i: f"audio path '{df.at[i, 'audio_path']}' is outside the recording root")
    dup = df["call_id"].duplicated(keep="first") & ~bad
    reject(dup, "duplicate call id (first row kept)")

    hire = parse_times(df["hire_date"].where(~empty(df["hire_date"]), ""))
    calls = df.assign(duration=dur, start=start, hire_date=hire)[~bad].reset_index(drop=True)
    calls["day"] = calls["start"].dt.date
    problems.sort(key=lambda p: p.row)
    if problems:
        log.warning("%s: %d bad rows skipped", source, len(problems))
    return CallIndex(calls=calls, problems=problems, source=source, encoding=encoding)


def scan_folder(root: Path, pattern: str, time_format: str = "%Y%m%d%H%M%S") -> CallIndex:
    """Build an index from file names when the site has no export.

    `pattern` is a regular expression matched against each file's path relative to
    root, with named groups agent_id, call_id (default: the file stem) and start
    (parsed with time_format). Durations are read from the audio headers.
    """
    from audit.asr.audio import probe_duration

    rx = re.compile(pattern)
    rows, problems = [], []
    root = Path(root)
    if not root.is_dir():
        raise IndexError_(f"recording root {root} is not a folder")
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(root).as_posix()
        m = rx.search(rel)
        if not m:
            continue
        g = m.groupdict()
        try:
            duration = probe_duration(p)
        except Exception as exc:
            problems.append(RowProblem(0, rel, f"cannot read duration: {exc}"))
            continue
        rows.append(
            {
                "call_id": g.get("call_id") or p.stem,
                "agent_id": g.get("agent_id", ""),
                "start": g.get("start", ""),
                "duration": str(duration),
                "audio_path": rel,
            }
        )
    raw = pd.DataFrame(rows, columns=list(FIELDS_REQUIRED))
    if "start" in rx.groupindex:
        raw["start"] = pd.to_datetime(raw["start"], format=time_format, errors="coerce").astype(str)
    idx = normalize_index(raw, root, {}, source=f"scan of {root}")
    idx.problems[:0] = problems
    return idx
