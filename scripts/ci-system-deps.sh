#!/usr/bin/env bash
# System packages some tests need that pip cannot install:
#  - LibreOffice Calc, for the test that opens the weekly workbook the way a supervisor would
#    (tests/test_reports.py);
#  - Chromium and its WebDriver, for the test that drives the review page in a real browser
#    (tests/test_browser.py; Selenium is pointed at these, nothing is downloaded at run time),
#    with a small CJK font so its screenshot shows Chinese.
#
# Runs only as root (a fresh CI machine), for what is missing, when apt-get exists; set
# CALLAUDIT_SYSTEM_DEPS=0 to skip it. Never fails the test run: when apt is unreachable it says
# why and those tests skip. Took 17 s (LibreOffice) and about 40 s (Chromium) on a Debian 12
# machine with a near mirror.
set -uo pipefail

[ "${CALLAUDIT_SYSTEM_DEPS:-1}" = 0 ] && exit 0
want=()
command -v soffice >/dev/null 2>&1 || want+=(libreoffice-calc-nogui)
{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || want+=(chromium chromium-driver fonts-wqy-microhei)
[ ${#want[@]} = 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: ${want[*]} not installed; the tests needing them will skip (as root, scripts/ci-system-deps.sh installs them)" >&2
  exit 0
fi

echo "Installing ${want[*]} for the workbook and browser tests..." >&2
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -o Acquire::Retries=1 -o Acquire::http::Timeout=30 -o Acquire::https::Timeout=30 -o DPkg::Lock::Timeout=120)
log=$(mktemp)
# Bounded: a hanging mirror must not eat the CI budget.
if timeout 240 apt-get "${apt_opts[@]}" update >"$log" 2>&1 \
  && timeout 300 apt-get "${apt_opts[@]}" install -y --no-install-recommends "${want[@]}" >>"$log" 2>&1; then
  echo "${want[*]} installed in $(( $(date +%s) - start )) s" >&2
else
  echo "warning: could not install ${want[*]} (apt unreachable or failed); the tests needing them will skip. Last lines:" >&2
  tail -n 5 "$log" >&2
fi
rm -f "$log"
exit 0
