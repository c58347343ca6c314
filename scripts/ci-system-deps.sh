#!/usr/bin/env bash
# System packages some tests need that pip cannot install: LibreOffice Calc, for the test that
# opens the weekly workbook the way a supervisor would (tests/test_reports.py).
#
# Runs only as root (a fresh CI machine), when `soffice` is missing and apt-get exists; set
# CALLAUDIT_SYSTEM_DEPS=0 to skip it. Never fails the test run: when apt is unreachable it says
# why and the LibreOffice test skips. Took 17 s on a Debian 12 machine with a near mirror.
set -uo pipefail

[ "${CALLAUDIT_SYSTEM_DEPS:-1}" = 0 ] && exit 0
command -v soffice >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: LibreOffice (soffice) is not installed; its test will skip (as root, scripts/ci-system-deps.sh installs it)" >&2
  exit 0
fi

echo "Installing LibreOffice Calc (libreoffice-calc-nogui) for the workbook test..." >&2
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -o Acquire::Retries=1 -o Acquire::http::Timeout=30 -o Acquire::https::Timeout=30 -o DPkg::Lock::Timeout=120)
log=$(mktemp)
# Bounded: a hanging mirror must not eat the CI budget.
if timeout 240 apt-get "${apt_opts[@]}" update >"$log" 2>&1 \
  && timeout 240 apt-get "${apt_opts[@]}" install -y --no-install-recommends libreoffice-calc-nogui >>"$log" 2>&1 \
  && command -v soffice >/dev/null 2>&1; then
  echo "LibreOffice installed in $(( $(date +%s) - start )) s" >&2
else
  echo "warning: could not install libreoffice-calc-nogui (apt unreachable or failed); the LibreOffice test will skip. Last lines:" >&2
  tail -n 5 "$log" >&2
fi
rm -f "$log"
exit 0
