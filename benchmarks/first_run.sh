#!/usr/bin/env bash
# The README's first command, cold, three times: a fresh clone of this repository, `./scripts/setup.sh`
# (timed), then `bench profile --device host --quick` with an empty export cache each time (timed),
# each LUT validated with `bench validate --samples 20`. Prints the wall times and the validation
# figures. Run it on a quiet machine: anything else running disturbs the timing (see the README).
#   benchmarks/first_run.sh [CLONE_DIR]   (default /tmp/first-run; it is deleted first)
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
clone=${1:-/tmp/first-run}
rm -rf "$clone" && git clone -q "$repo" "$clone" && cd "$clone"
seconds() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }
t0=$(date +%s.%N); ./scripts/setup.sh > setup.log 2>&1; t1=$(date +%s.%N)
echo "set-up: $(seconds "$t0" "$t1") s"
for i in 1 2 3; do
  export BENCH_CACHE=$clone/cache$i
  t0=$(date +%s.%N)
  .venv/bin/bench profile --device host --quick > profile$i.log 2>&1
  t1=$(date +%s.%N)
  id=$(grep -o "LUT [0-9a-f]\{16\}" profile$i.log | head -1 | cut -c5-)
  .venv/bin/bench validate --lut "$id" --device host --samples 20 --json > validate$i.json 2> validate$i.log
  .venv/bin/python -c "
import json, sys
d = json.load(open(sys.argv[3]))
print(f'run {sys.argv[1]}: profile {sys.argv[2]} s, LUT {sys.argv[4]}: within ±5% {d[\"within_5\"]:.0%}, within ±10% {d[\"within_10\"]:.0%}, '
      f'MAPE {d[\"mape\"]:.1%}, bias {d[\"bias\"]:+.1%}, Spearman {d[\"spearman\"]:.3f}, speed factor {d[\"speed_factor\"]:.3f}')
" "$i" "$(seconds "$t0" "$t1")" validate$i.json "$id"
done
