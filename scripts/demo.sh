#!/usr/bin/env bash
# Set up, then run the nightly audit on the bundled demo calls (two weeks) and write the weekly scorecard.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd demo
for day in 2026-11-12 2026-11-13 2026-11-19 2026-11-20; do
  ../.venv/bin/callaudit nightly --date "$day"
done
../.venv/bin/callaudit weekly --week 2026-W47
echo "Review the flags in the browser: (cd demo && ../.venv/bin/callaudit serve)  -> http://127.0.0.1:8765/" >&2
