#!/usr/bin/env bash
# The README's picture, docs/report-top.png: the top of a LUT's report (its verdict, how wide its
# intervals are, the search command) as headless Chromium renders it. Run from the repository root
# after the LUT is validated: scripts/report_picture.sh aa5a9101
set -euo pipefail
lut="${1:?give the id of the LUT whose report to picture (the README shows aa5a9101)}"
out="${2:-docs/report-top.png}"
page="$(mktemp -d)/report.html"
profile="$(mktemp -d)"
trap 'rm -rf "$(dirname "$page")" "$profile"' EXIT
.venv/bin/bench report "$lut" --out "$page" >/dev/null
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
    --window-size=1100,820 --screenshot="$out" "file://$page" 2>/dev/null
echo "wrote $out from the report of LUT $lut"
