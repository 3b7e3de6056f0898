#!/usr/bin/env bash
# The quick path as the README prints it, timed: a fresh clone of this branch, `./scripts/setup.sh`,
# `bench profile --device host --quick` with an empty export cache (timed: the first command), then
# every step the README's next-steps block shows (on the committed quick LUT, as printed), run in
# order (validate, data, training, search; the search with --json so its result can be read), and
# the found model's measured latency against the printed budget (1.05x allowed). The result goes to
# docs/quick_path.json, the raw file search_quality.md's quick-path figures are read from. Run it on
# a quiet machine: anything else running disturbs both the timings and the measured latency.
#   benchmarks/quick_path.sh [CLONE_DIR]   (default /tmp/quick-path; it is deleted first)
# With REUSE_VENV=DIR the clone uses that environment instead of running the set-up (the set-up is
# then not timed; benchmarks/first_run.sh times it).
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
clone=${1:-/tmp/quick-path}
rm -rf "$clone" && git clone -q -b "$(git -C "$repo" branch --show-current)" "$repo" "$clone" && cd "$clone"
export BENCH_CACHE=$clone/cache
now() { date +%s.%N; }
seconds() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.0f}')" "$1" "$2"; }
start=$(now)
if [ -n "${REUSE_VENV:-}" ]; then
  ln -s "$REUSE_VENV" .venv
  export PYTHONPATH=$clone  # the reused environment's own install may point at another checkout
  echo "set-up: skipped (reusing $REUSE_VENV)"
else
  ./scripts/setup.sh > setup.log 2>&1
  echo "set-up: $(seconds "$start" "$(now)") s"
fi
t=$(now)
.venv/bin/bench profile --device host --quick > profile.log 2>&1
echo "bench profile --device host --quick: $(seconds "$t" "$(now)") s"
# the README's printed steps, continued lines joined, as the commands a user pastes (they name .venv/bin/bench)
sed -n '/^next steps:/,/^```/p' README.md | sed -e :a -e '/\\$/N; s/\\\n *//; ta' | grep -E '^  (\S*/)?bench ' | sed 's/^  //' > steps.txt
i=0
while read -r step; do
  i=$((i + 1)); t=$(now)
  rc=0
  case "$step" in
    *"bench search "*) eval "$step --json" > search.json 2> step$i.log || rc=$? ;;
    *) eval "$step" > step$i.log 2>&1 || rc=$? ;;
  esac
  echo "$step: $(seconds "$t" "$(now)") s$([ $rc = 0 ] || echo ", FAILED (exit $rc): $(tail -n 1 step$i.log)")" | tee -a times.txt
done < steps.txt
echo "whole path: $(seconds "$start" "$(now)") s"
echo "data + training + search: $(.venv/bin/python -c "import re; print(sum(float(re.search(r': ([0-9.]+) s', l).group(1)) for l in open('times.txt') if any(k in l for k in ('bench data ', 'bench train ', 'bench search '))))") s"
.venv/bin/python - "$repo/docs/quick_path.json" <<'PY'
import json, re, sys
from pathlib import Path
r = json.load(open("search.json"))  # result.json version 2: the float32 model, then per device and constraint
[host] = r["devices"].values()
latency, timed = host["constraints"]["latency"], host["measurement"]
budget, at_lut = latency["budget"], latency["measured"]
held, test = r["model"]["holdout"], r["model"]["test"]
summary = (
    f"found {r['config_hash'][:8]}: held-out {held['value']:.1%} [{held['low']:.1%}, {held['high']:.1%}] of {held['total']}, "
    f"test {test['value']:.1%} [{test['low']:.1%}, {test['high']:.1%}] of {test['total']}; predicted {latency['predicted']:.3f} ms, "
    f"measured {timed['measured_ms']:.3f} ms ({at_lut:.3f} ms at the LUT's speed) = {at_lut / budget:.3f}x the {budget:g} ms budget (goal 0.90-1.05x)"
)
print(summary)
steps = []
for line in Path("times.txt").read_text().splitlines():
    step, seconds = line.rsplit(": ", 1)
    steps.append({"step": step, "seconds": float(re.match(r"[0-9.]+", seconds).group())})
Path(sys.argv[1]).parent.mkdir(parents=True, exist_ok=True)
Path(sys.argv[1]).write_text(json.dumps({"summary": summary, "steps": steps, "result": r}, indent=1))
PY
