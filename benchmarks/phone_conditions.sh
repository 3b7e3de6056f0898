#!/usr/bin/env bash
# Every record of docs/phone_conditions.jsonl (benchmarks/phone_conditions.py), then the page from them.
# Each phone: every condition on over three seeds (with the naive protocol and searches), each guard
# off in turn and each condition alone (three seeds each); then a phone that never cools, to be
# refused. A profile takes 10-60 s on 2 cores (the hard phone's the longest: ten passes on its little
# core, sessions measured again after throttling), so the whole matrix about an hour in one lane; run
# lanes in parallel with PHONES=... and STEPS=... (all, guards, alone). Usage:
#   benchmarks/phone_conditions.sh                       # everything, one lane
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
      guards) run --phone "$phone" --seeds 3 --guards-off-only $(printf -- '--off %s ' $GUARDS) ;;
      alone) for condition in drift dvfs throttle noise interference none; do run --phone "$phone" --only "$condition" --no-search --seeds 3; done ;;
    esac
  done
done
# a phone the protocol cannot correct: the hard phone, never cooling once hot; its profile must be refused
[ -z "${NO_REFUSAL:-}" ] && run --phone fakes/phones/never-cools.json --no-naive --no-search || true
.venv/bin/python -m benchmarks.phone_conditions_page "$OUT"
