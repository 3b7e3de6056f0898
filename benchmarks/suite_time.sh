#!/usr/bin/env bash
# The README's second command as CI runs it, on a fresh clone: `CI=true ./scripts/setup.sh --tests`
# (timed) and the suite with each given number of xdist workers (timed, with the CPU-seconds of the
# whole process tree and how many of the machine's cores it kept busy), each on a clone of its own
# so that no run finds another's bytecode or export cache. With more than one count, the wall times
# are also printed against the first's. Each run is appended to docs/suite_time.jsonl, the raw file
# docs/figures.md's "The suite's time" is read from; each test's CPU-seconds go to the clone's
# tests-cpu.jsonl (`python -m benchmarks.suite_cpu FILE` lists the costliest). Run it on a quiet machine: the suite is
# CPU-bound, and anything else running takes its cores.
#
# With `--against COMMIT`, each count runs first on a clone of that older commit, then on HEAD, on
# the same machine back to back, and HEAD's time is printed against the older one's: this VM's
# speed moves by up to 1.7x from one day to the next, so a time from another day says little about
# whether the suite itself grew.
#
# With `--lane EXPR`, only the tests `-m EXPR` selects run (`--lane "not slow"`: the quick lane), and
# the record says so (`"marker"`).
#   benchmarks/suite_time.sh [--against COMMIT] [--lane EXPR] [WORKERS ...]   (default: 2 3; clones go to /tmp/suite-time-*)
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
against=""
if [ "${1:-}" = "--against" ]; then
  against=$(git -C "$repo" rev-parse --short "${2:?--against needs a commit}") || exit 2
  shift 2
fi
lane=()
marker=""
if [ "${1:-}" = "--lane" ]; then
  marker=${2:?--lane needs a marker expression, e.g. "not slow"}
  lane=(-m "$marker")
  shift 2
fi
[ $# -gt 0 ] || set -- 2 3
cores=$(nproc)
first=""
head=$(git -C "$repo" rev-parse --short HEAD)

# run COMMIT WORKERS [BASELINE_SECONDS BASELINE_NAME]: one fresh clone's set-up and suite; prints its
# line (against the baseline's time where one is given), appends its record, and leaves its total
# seconds in $total
run() {
  local commit=$1 n=$2 baseline=${3:-} name=${4:-} clone=/tmp/suite-time-$1-$2
  rm -rf "$clone" && git clone -q "$repo" "$clone" && git -C "$clone" checkout -q "$commit" && cd "$clone" || exit 1
  local t0 t1 t2 rc wall user sys
  t0=$(date +%s.%N)
  CI=true ./scripts/setup.sh --tests > setup.log 2>&1 || { echo "$commit -n $n: the set-up failed, see $clone/setup.log"; exit 1; }
  t1=$(date +%s.%N)
  local cpu=()  # each test's CPU-seconds (benchmarks/suite_cpu.py), where the commit has the plugin
  [ -f benchmarks/suite_cpu_plugin.py ] && cpu=(-p benchmarks.suite_cpu_plugin)
  CI=true SUITE_CPU_OUT="$clone/tests-cpu.jsonl" /usr/bin/time -f "%e %U %S" -o tests.time .venv/bin/python -m pytest -n "$n" "${lane[@]}" "${cpu[@]}" > tests.log 2>&1
  rc=$?
  t2=$(date +%s.%N)
  read -r wall user sys < <(tail -1 tests.time)  # time's last line; a failed suite has "Command exited ..." above it
  total=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$t0" "$t2")
  python3 - "$repo/docs/suite_time.jsonl" "$commit" "$n" "$t0" "$t1" "$t2" "$wall" "$user" "$sys" "$rc" "$cores" "$baseline" "$name" "$(tail -1 tests.log)" "$marker" <<'EOF'
import datetime, json, sys
out, commit, n, t0, t1, t2, wall, user, system, rc, cores, baseline, name, summary, marker = sys.argv[1:]
setup, tests = float(t1) - float(t0), float(t2) - float(t1)
cpu = float(user) + float(system)
line = (f"{commit} -n {n}{f' -m {marker!r}' if marker else ''}: set-up {setup:.0f} s, tests {tests:.0f} s, {setup + tests:.0f} s in all; tests {cpu:.0f} CPU-seconds, "
        f"{cpu / float(wall):.2f} of {cores} cores busy; exit {rc}: {summary.strip('= ')}")
if baseline:
    line += f"; {(setup + tests) / float(baseline):.3f}x {name}'s time"
print(line, flush=True)
record = {"date": datetime.date.today().isoformat(), "commit": commit, "workers": int(n), "cores": int(cores), "checkout": "fresh",
          "setup_s": round(setup, 1), "tests_s": round(tests, 1), "tests_wall_s": float(wall), "tests_cpu_s": round(cpu, 1), "exit": int(rc),
          "summary": summary.strip("= "), **({"marker": marker} if marker else {}), "source": "benchmarks/suite_time.sh"}
with open(out, "a") as f:
    f.write(json.dumps(record) + "\n")
EOF
}

for n in "$@"; do
  if [ -n "$against" ]; then
    run "$against" "$n"
    run "$head" "$n" "$total" "$against"
  else
    run "$head" "$n" "$first" "the first count"
    [ -n "$first" ] || first=$total
  fi
done
