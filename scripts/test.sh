#!/usr/bin/env bash
# Set up if needed, then run the tests. Extra arguments go to pytest (e.g. -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/ci-system-deps.sh  # LibreOffice for the workbook test: installed only as root (CI), never fatal
exec .venv/bin/python -m pytest "$@"
