"""What callaudit writes for people, one module per thing written.

    scorecard.py   a week's numbers: scores after review, agents, gaps, trend, topics (no file)
    workbook.py    the weekly Excel workbook, one writer per sheet, columns declared as data
    xlsx.py        cells people read: formula guard, widths, frozen headers, atomic save
    weekly.py      `callaudit weekly`: the scorecard, its clips and the workbook, under the report lock
    clips.py       audio cut around each flag, with a masked transcript sidecar
    daily.py       the night's summary (markdown), written by `callaudit nightly`
    monthly.py     the month's roll-up (`callaudit monthly`)
    reviews.py     what waits for a reviewer (the queue), and decisions brought back from the workbook

May import: the workspace (config, store, review flow), `audit.detect` (rules, scores),
`audit.asr` (audio for clips), `audit.text` (masking), `audit.errors`. Never the runner,
the CLI or the web page.
"""
