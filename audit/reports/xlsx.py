"""Writing workbooks people read: safe text, masked numbers, sized columns, frozen headers, atomic files."""

from __future__ import annotations

import os
import tempfile
import unicodedata
from pathlib import Path
from typing import Any, Iterable

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet


FONT_NAME = "Microsoft YaHei"  # falls back to any CJK font where absent (LibreOffice: Noto Sans CJK)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
HEADER_FONT = Font(name=FONT_NAME, bold=True)
LINK_FONT = Font(name=FONT_NAME, color="0563C1", underline="single")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

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
    """A worksheet collected row by row, written when the Book is saved.

    Rows are buffered so column widths can be fitted before writing (the workbook is
    streamed in openpyxl's write-only mode: ~2x faster, flat memory at 100k rows)."""

    def __init__(self, title: str, headers: list[str], freeze: str = "A2", autofilter: bool = True):
        self.title = title
        self.headers = headers
        self.rows: list[list[Any]] = []
        self.formats: dict[int, str] = {}  # column index -> number format
        self.links: dict[tuple[int, int], str] = {}  # (row, col) 1-based -> target
        self.widths = [display_width(h) for h in headers]
        self.freeze = freeze
        self.autofilter = autofilter
        self.extras: list = []  # callables(ws) adding charts, conditional formats, validations

    @property
    def next_row(self) -> int:
        return len(self.rows) + 2

    def add(self, values: Iterable[Any], number_format: dict[int, str] | None = None) -> int:
        """Append a row; returns its 1-based row number."""
        values = [safe_text(v) for v in values]
        self.rows.append(values)
        if number_format:
            self.formats.update(number_format)
        for i, v in enumerate(values):
            if v is not None and i < len(self.widths):
                w = display_width(f"{v:.1f}" if isinstance(v, float) else v)
                if w > self.widths[i]:
                    self.widths[i] = min(w, 60)
        return len(self.rows) + 1

    def link(self, row: int, col: int, target: str, text: str) -> None:
        self.rows[row - 2][col - 1] = safe_text(text)
        self.links[(row, col)] = target

    def _write(self, ws: Worksheet) -> None:
        for i, w in enumerate(self.widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = max(6, w + 2)
        if self.freeze:
            ws.freeze_panes = self.freeze
        header = []
        for h in self.headers:
            cell = WriteOnlyCell(ws, h)
            cell.font, cell.fill = HEADER_FONT, HEADER_FILL
            header.append(cell)
        ws.append(header)
        styled_cols = set(self.formats)
        link_rows = {r for r, _ in self.links}
        for r, values in enumerate(self.rows, start=2):
            if not styled_cols and r not in link_rows:
                ws.append(values)
                continue
            row = list(values)
            for c in styled_cols:
                if c < len(row) and row[c] is not None:
                    cell = WriteOnlyCell(ws, row[c])
                    cell.number_format = self.formats[c]
                    row[c] = cell
            if r in link_rows:
                for (lr, lc), target in self.links.items():
                    if lr == r:
                        cell = WriteOnlyCell(ws, values[lc - 1])
                        cell.hyperlink, cell.font = target, LINK_FONT
                        row[lc - 1] = cell
            ws.append(row)
        if self.autofilter and self.rows:
            ws.auto_filter.ref = f"A1:{get_column_letter(len(self.headers))}{len(self.rows) + 1}"
        for extra in self.extras:
            extra(ws)


class Book:
    """Sheets in order; `save` streams them into one workbook, atomically."""

    def __init__(self):
        self.sheets: list[Sheet] = []

    def sheet(self, title: str, headers: list[str], **kw) -> Sheet:
        sh = Sheet(title, headers, **kw)
        self.sheets.append(sh)
        return sh

    def save(self, path: Path) -> Path:
        wb = Workbook(write_only=True)
        for sh in self.sheets:
            sh._write(wb.create_sheet(sh.title))
        return save_atomic(wb, path)


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
