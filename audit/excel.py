"""Writing workbooks people read: safe text, masked numbers, sized columns, frozen headers, atomic files."""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import Any, Iterable

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

FONT_NAME = "Microsoft YaHei"  # falls back to any CJK font where absent (LibreOffice: Noto Sans CJK)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Personal numbers in transcripts and caller fields (reports mask them by default).
_ID_CARD = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4,6}(\d{2})(?!\d)")
_LONG_NUMBER = re.compile(r"(?<!\d)(\d{2})\d{5,}(\d{2})(?!\d)")  # account (户号), landline, card numbers
_CN_DIGITS = re.compile(r"[零〇一二两三四五六七八九幺]{7,}")


def mask_numbers(text: str) -> str:
    """Keep the first and last digits of personal numbers: 13812345678 -> 138******78."""
    if not text:
        return text
    text = _ID_CARD.sub(lambda m: m.group(1) + "*" * 8 + m.group(2), text)
    text = _MOBILE.sub(lambda m: m.group(1) + "*" * (len(m.group(0)) - 5) + m.group(2), text)
    text = _LONG_NUMBER.sub(lambda m: m.group(1) + "*" * (len(m.group(0)) - 4) + m.group(2), text)
    return _CN_DIGITS.sub(lambda m: m.group(0)[:2] + "*" * (len(m.group(0)) - 4) + m.group(0)[-2:], text)


def safe_text(value: Any) -> Any:
    """Text that would start a formula in Excel/LibreOffice gets a leading apostrophe (stays text)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def display_width(value: Any) -> int:
    """Width in Excel character units: CJK characters count double."""
    text = str(value) if value is not None else ""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


class Sheet:
    """A worksheet written row by row: header styling, safe cells, width fitting and a frozen header."""

    def __init__(self, wb: Workbook, title: str, headers: list[str], first: bool = False):
        self.ws: Worksheet = wb.active if first else wb.create_sheet()
        self.ws.title = title
        self.headers = headers
        self.widths = [display_width(h) for h in headers]
        self.ws.append(headers)
        for cell in self.ws[1]:
            cell.font = Font(name=FONT_NAME, bold=True)
            cell.fill = HEADER_FILL
            cell.alignment = Alignment(vertical="center", wrap_text=False)
        self.ws.freeze_panes = "A2"

    @property
    def next_row(self) -> int:
        return self.ws.max_row + 1

    def add(self, values: Iterable[Any], number_format: dict[int, str] | None = None) -> int:
        values = [safe_text(v) for v in values]
        self.ws.append(values)
        r = self.ws.max_row
        for i, v in enumerate(values):
            cell = self.ws.cell(r, i + 1)
            cell.font = Font(name=FONT_NAME)
            if isinstance(v, str):
                cell.data_type = "s"  # never a formula, whatever the text
            if number_format and i in number_format:
                cell.number_format = number_format[i]
            self.widths[i] = max(self.widths[i], min(display_width(v if not isinstance(v, float) else f"{v:.1f}"), 60))
        return r

    def link(self, row: int, col: int, target: str, text: str) -> None:
        cell = self.ws.cell(row, col)
        cell.value = safe_text(text)
        cell.hyperlink = target
        cell.font = Font(name=FONT_NAME, color="0563C1", underline="single")

    def finish(self, autofilter: bool = True) -> None:
        for i, w in enumerate(self.widths, start=1):
            self.ws.column_dimensions[get_column_letter(i)].width = max(6, w + 2)
        if autofilter and self.ws.max_row > 1:
            self.ws.auto_filter.ref = self.ws.dimensions


def save_atomic(wb: Workbook, path: Path) -> Path:
    """Write to a temp file beside the target, then rename: a crash never leaves half a workbook.

    Callers hold the report lock, so temp files of this name left by a killed run are removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.stem}-*.xlsx"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        wb.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
