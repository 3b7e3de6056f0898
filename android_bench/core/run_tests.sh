#!/usr/bin/env bash
# Compiles the Android app's pure-Kotlin core and its JUnit 4 tests with kotlinc, runs the tests on
# the JVM and ends with "N passed, N failed" (exit status 0 only when all passed). No Gradle and no
# Android SDK needed: Debian's `kotlin` and `junit4` packages are enough.
#
# The jars are cached under build/kotlinc/, keyed by a hash of the sources, this script and the
# Kotlin standard library, so a second run with nothing changed only runs the tests.
#
# With --build-only it compiles (when the cache misses) and stops there: the test set-up
# (scripts/setup.sh --tests) builds ahead, beside its other work, so the suite only runs the tests.
#
# Environment: CONTRACT_DIR (default: the repository's tests/contract), RESULT_OUT_DIR (where the
# tests leave the result files they write, for the Python side to validate; default: a temp folder),
# JUNIT_JAR and HAMCREST_JAR (default: Debian's).
set -euo pipefail

build_only=0
case "${1:-}" in
  "") ;;
  --build-only) build_only=1 ;;
  *) echo "usage: $0 [--build-only]" >&2; exit 2 ;;
esac
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
contract_dir="${CONTRACT_DIR:-$here/../../tests/contract}"
junit="${JUNIT_JAR:-/usr/share/java/junit4.jar}"
hamcrest="${HAMCREST_JAR:-/usr/share/java/hamcrest-core.jar}"

if ! command -v kotlinc >/dev/null; then
  echo "kotlinc not found: install it with 'apt-get install -y kotlin junit4'" >&2
  exit 2
fi
for jar in "$junit" "$hamcrest"; do
  if [ ! -f "$jar" ]; then
    echo "$jar not found: install JUnit 4 with 'apt-get install -y junit4' (or set JUNIT_JAR / HAMCREST_JAR)" >&2
    exit 2
  fi
done
stdlib="$(dirname "$(readlink -f "$(command -v kotlinc)")")/../lib/kotlin-stdlib.jar"
if [ ! -f "$stdlib" ]; then
  echo "the Kotlin standard library is not at $stdlib" >&2
  exit 2
fi

cd "$here"
key="$( { find src -name '*.kt' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; sha256sum run_tests.sh "$stdlib"; } | sha256sum | cut -c1-16)"
cache="build/kotlinc/$key"
if [ ! -f "$cache/tests.jar" ]; then
  rm -rf build/kotlinc
  mkdir -p "$cache.partial"
  log="$cache.partial/kotlinc.log"
  mapfile -d '' main_sources < <(find src/main -name '*.kt' -print0 | LC_ALL=C sort -z)
  mapfile -d '' test_sources < <(find src/test -name '*.kt' -print0 | LC_ALL=C sort -z)
  # The core is compiled with nothing but the standard library on its class path: that is what
  # proves it has no Android (or test) dependency.
  # kotlinc runs ~10 s, too short for the JVM's optimising compiler to pay for itself: stopping
  # at the first tier halves its CPU time (26 s to 12 s here, the tests' build included).
  export JAVA_OPTS="${JAVA_OPTS:--Xmx256M -Xms32M -XX:TieredStopAtLevel=1}"
  status=0
  kotlinc "${main_sources[@]}" -d "$cache.partial/core.jar" >"$log" 2>&1 \
    && kotlinc -cp "$cache.partial/core.jar:$junit" "${test_sources[@]}" -d "$cache.partial/tests.jar" >>"$log" 2>&1 \
    || status=$?
  # Debian's kotlinc wrapper passes a JVM flag that JDK 13+ warns about; the rest is the compiler's.
  grep -v 'Options -Xverify:none and -noverify were deprecated' "$log" >&2 || true
  if [ "$status" -ne 0 ]; then
    echo "kotlinc failed" >&2
    exit 1
  fi
  mv "$cache.partial" "$cache"
fi
[ "$build_only" = 0 ] || exit 0

classes=()
while IFS= read -r f; do
  rel="${f#src/test/kotlin/}"
  classes+=("$(echo "${rel%.kt}" | tr / .)")
done < <(find src/test/kotlin -name '*Test.kt' | LC_ALL=C sort)

result_out=()
if [ -n "${RESULT_OUT_DIR:-}" ]; then
  result_out=("-Dresult.out.dir=$RESULT_OUT_DIR")
fi
exec java -XX:TieredStopAtLevel=1 -cp "$cache/core.jar:$cache/tests.jar:$stdlib:$junit:$hamcrest" \
  "-Dcontract.dir=$contract_dir" "${result_out[@]}" org.autovit.bench.core.TestMainKt "${classes[@]}"
