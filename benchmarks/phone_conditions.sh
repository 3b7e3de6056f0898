#!/usr/bin/env bash
# Every record of docs/phone_conditions.jsonl (benchmarks/phone_conditions.py), then the page from them.
# Each phone: every condition on over three seeds (with the naive protocol and searches), each guard
# off in turn, and each condition alone. The hard phone's profiles are most of the time (about 25 min
# each on 2 cores: ten passes on its little core, and sessions measured again after throttling); run
# lanes in parallel with PHONES=... and STEPS=... (all, guards, alone). Usage:
#   benchmarks/phone_conditions.sh                       # everything, one lane (hours)
#   PHONES="pixel-like iphone-like" benchmarks/phone_conditions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-docs/phone_conditions.jsonl}
PHONES=${PHONES:-"pixel-like iphone-like hard"}
STEPS=${STEPS:-"all guards alone"}
GUARDS=${GUARDS:-"cooldown anchor round_anchor steady_rounds slow_sessions noise_rounds thermal_budget"}
run() { .venv/bin/python -m benchmarks.phone_conditions --out "$OUT" "$@" >/dev/null; }
for phone in $PHONES; do
  for step in $STEPS; do
    case $step in
      all) run --phone "$phone" --seeds 3 ;;
      guards) for guard in $GUARDS; do run --phone "$phone" --guards-off-only --off "$guard"; done ;;
      alone) for condition in drift dvfs throttle noise interference none; do run --phone "$phone" --only "$condition" --no-search; done ;;
    esac
  done
done
.venv/bin/python -m benchmarks.phone_conditions_page "$OUT"
