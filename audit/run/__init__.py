"""Running the night: pick the calls, then transcribe -> measure -> score each.

`pipeline` (index -> sample), `stages` (the one runner for per-call stages: prepare ->
work -> save, status and resume), `executor` (local process pool or Ray), `progress`
(rate and ETA), `nightly` (the whole night, with its lock and daily summary), and
`dryrun` (`rules try`: a candidate pack over stored transcripts, writing nothing).

May import: the workspace, the reports (the nightly's summary), the stages' entry
modules and everything below them. Never the CLI or the web page.
"""
