#!/usr/bin/env bash
# Sets up .venv. Idempotent: a second run is quick.
#   ./scripts/setup.sh           the toolkit itself (what `bench profile` needs); no GPL package
#   ./scripts/setup.sh --tests   also the test tools, the iOS extra (pymobiledevice3, GPL-3.0, only
#                                for the iOS runner's tests) and, as root with apt, Debian's kotlin,
#                                junit4 and libusb for the Android core's tests, adb (the platform
#                                adb server the Android runner's adb-server route is tested through)
#                                and chromium for the report's browser tests
# torch is pinned (2.14.1 + torchvision 0.29.1, with their ~3 GB of CUDA libraries, which its
# import needs even on a CPU). uv installs them, not pip: the registry these machines reach sends no
# caching headers, so pip's cache never keeps a wheel and every pip set-up downloaded the 3 GB again,
# one file at a time (121 s); uv downloads in parallel (24 s cold) and keeps every wheel in its own
# cache (~/.cache/uv), so a second set-up links them in seconds. uv itself comes from pip, pinned like
# everything else: every install is held to constraints.txt, the versions last verified. uv is told to
# trust the system's certificates (--system-certs), as pip does through its cert setting: by default uv
# trusts only its own built-in roots and fails behind a proxy that re-signs TLS with a local CA, as
# these machines' egress does (without SSL_CERT_FILE in its environment, uv fails there with "invalid
# peer certificate: UnknownIssuer").
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in
  "") extras="" ;;
  --tests) extras="[dev,ios]" ;;
  *) echo "usage: $0 [--tests]" >&2; exit 2 ;;
esac
PYTHON=${PYTHON:-python3.11}
# The heavy modules the test suite imports, in two sets, each byte-compiled by a process of its own:
# the export and quantization toolchains (torch first); the plotting, statistics and fuzzing
# libraries and the iOS extra's modules that the runner and its fake import (~600, which each xdist
# worker would otherwise compile as it collects the tests), then coremltools, which by then finds
# torch compiled by the first process and its other dependencies by its own: 22 s on 2 cores, where
# coremltools at the end of the first set kept one core waiting (26.5 s).
SUITE_IMPORTS="import torch, torchvision, timm, executorch.exir, executorch.runtime, \
executorch.backends.xnnpack.partition.xnnpack_partitioner, executorch.backends.xnnpack.quantizer.xnnpack_quantizer, \
torchao.quantization.pt2e.quantize_pt2e"
SUITE_IMPORTS_APART="import scipy.stats, sklearn.datasets, matplotlib.pyplot, hypothesis, pymobiledevice3.lockdown, pymobiledevice3.usbmux, \
pymobiledevice3.services.afc, pymobiledevice3.services.os_trace, pymobiledevice3.services.installation_proxy, \
pymobiledevice3.services.house_arrest, pymobiledevice3.services.mobile_image_mounter, pymobiledevice3.services.dvt.instruments.dvt_provider, \
pymobiledevice3.services.dvt.instruments.process_control, pymobiledevice3.remote.remote_service_discovery, \
pymobiledevice3.remote.userspace_tunnel, pymobiledevice3.tunneld.api, pymobiledevice3.dtx.ns_types; import coremltools"
command -v "$PYTHON" >/dev/null || PYTHON=python3
say() { echo "setup: $*" >&2; }
# Python 3.11 only: pyproject.toml requires >=3.11,<3.12, the versions in constraints.txt were
# verified on it, and pip would otherwise fail minutes later, deep in a resolver message.
need="install Python 3.11 (Debian/Ubuntu: apt-get install python3.11 python3.11-venv; macOS: brew install python@3.11) or name one with PYTHON=/path/to/python3.11"
version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
if [ ! -x .venv/bin/python ]; then
  found=$(command -v "$PYTHON" >/dev/null && version "$PYTHON")
  if [ "$found" != 3.11 ]; then
    echo "setup: the toolkit needs Python 3.11 and $PYTHON is ${found:-not found}; $need" >&2
    exit 2
  fi
elif [ "$(version .venv/bin/python)" != 3.11 ]; then
  echo "setup: .venv holds Python $(version .venv/bin/python), not the 3.11 the toolkit needs; delete .venv and run this again ($need)" >&2
  exit 2
fi
# The Debian packages the tests need download and unpack in the background, beside the Python
# packages: on a fresh machine (as CI starts) the two are most of the set-up, and neither waits on
# the other's network or disk.
apt_pid=""
apt_log=""
compile_pid=""
compile_apart_pid=""
if [ "$mode" = --tests ]; then
  # grep reads ldconfig's whole list: `grep -q` would stop at the first match, and ldconfig, still
  # writing, would die of SIGPIPE, which pipefail takes for "no libusb" (1 check in 20 on a busy
  # machine, and apt-get ran on every such set-up).
  if ! command -v kotlinc >/dev/null || [ ! -f /usr/share/java/junit4.jar ] || ! ldconfig -p 2>/dev/null | grep libusb-1.0 >/dev/null \
    || ! command -v adb >/dev/null || ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "installing kotlin, junit4, libusb, adb and chromium with apt-get in the background (a minute or two)"
      apt_log=$(mktemp)
      # Without recommends: chromium's would add a desktop's printing, power and sound services
      # (~130 packages) that a headless browser never starts; its fonts are named instead.
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        kotlin junit4 libusb-1.0-0 adb chromium fonts-liberation) >"$apt_log" 2>&1 &
      apt_pid=$!
    else
      echo "note: install kotlin, junit4, libusb-1.0-0, adb and chromium (Debian: sudo apt-get install kotlin junit4 libusb-1.0-0 adb chromium) to run the Android core and adb-server tests and the report's browser tests" >&2
    fi
  fi
fi
# The iOS app's Swift package (built and tested by the suite's `swift test`) is built with the same
# flags in the background too, where a Swift toolchain is installed: a CPU-bound build beside
# downloads, which the suite's `swift test` then only runs.
swift_pid=""
swift_log=""
if [ "$mode" = --tests ]; then
  swift=$(command -v swift || true)
  [ -n "$swift" ] || [ ! -x /opt/swift/bin/swift ] || swift=/opt/swift/bin/swift
  if [ -n "$swift" ] && [ -d ios_bench/BenchCore ]; then
    swift_log=$(mktemp)
    "$swift" build --build-tests --package-path ios_bench/BenchCore -Xswiftc -warnings-as-errors >"$swift_log" 2>&1 &
    swift_pid=$!
  fi
fi
# The Android core's Kotlin (compiled by the suite's Kotlin test, ~25 s of a JVM on a fresh clone)
# is compiled here too, in the background, once kotlinc is there: now, or after apt-get below.
kotlin_pid=""
kotlin_log=""
build_kotlin() {
  if [ "$mode" = --tests ] && command -v kotlinc >/dev/null; then
    kotlin_log=$(mktemp)
    bash android_bench/core/run_tests.sh --build-only >"$kotlin_log" 2>&1 &
    kotlin_pid=$!
  fi
}
[ -n "$apt_pid" ] || build_kotlin
# After the background jobs above have started, which need nothing of it. Without pip: ensurepip
# takes ~6 s of CPU, and pip comes with the rest below, from uv's cache.
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv --without-pip
fi
stamp=.venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)${mode:+-tests}
if [ ! -f "$stamp" ]; then
  say "installing torch, executorch and the toolkit into .venv at the versions in constraints.txt (~3 GB the first time; seconds from uv's cache)"
  # uv by the venv's pip where it has one (a venv made before), else by the Python's own (pip 22.3+
  # installs into another environment with --python), else by a pip ensurepip gives the venv.
  if [ -x .venv/bin/pip ]; then
    .venv/bin/python -m pip install -qq -c constraints.txt uv
  elif ! "$PYTHON" -m pip --python .venv/bin/python install -qq -c constraints.txt uv 2>/dev/null; then
    .venv/bin/python -m ensurepip -q && .venv/bin/python -m pip install -qq -c constraints.txt uv
  fi
  .venv/bin/uv pip install -q --system-certs --python .venv/bin/python -c constraints.txt pip torch==2.14.1 torchvision==0.29.1 -e ".$extras"
  # Byte-compiled once here, on every core: with PYTHONDONTWRITEBYTECODE set, as on these machines,
  # nothing compiled later is kept, and every process of a profile (export workers, the host
  # sessions' fork server) would compile torch again on import. Not for the tests (39 s of a 52 s set-up):
  # only the third of the venv the suite imports is compiled for them, below. compileall's exit status is not the set-up's: torch
  # ships a file written for Python 3.12 (torch/testing/_internal/py312_intrinsics.py) that 3.11
  # cannot compile and never imports, so compileall always ends in 1 after compiling the rest. It
  # takes 105 s on 2 cores, so the line before it says how long, or the set-up looks hung.
  if [ "$mode" != --tests ]; then
    say "byte-compiling torch, executorch and coremltools in .venv once, so every command starts fast (about 1-2 minutes the first time)"
    .venv/bin/python -m compileall -q -j 0 "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null || true
  fi
  # The modules the suite imports are byte-compiled in the background, by importing them with
  # bytecode writing on as the suite does (tests/conftest.py), beside apt-get and the Swift build:
  # otherwise the suite's first processes compile them (~30 s before the first test, on 2 cores).
  if [ "$mode" = --tests ]; then
    say "byte-compiling the modules the suite imports, in the background (about half a minute on 2 cores)"
    env -u PYTHONDONTWRITEBYTECODE .venv/bin/python -c "$SUITE_IMPORTS" >/dev/null 2>&1 &
    compile_pid=$!
    env -u PYTHONDONTWRITEBYTECODE .venv/bin/python -c "$SUITE_IMPORTS_APART" >/dev/null 2>&1 &
    compile_apart_pid=$!
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi
compile_failed=""
for pid in $compile_pid $compile_apart_pid; do
  wait "$pid" || compile_failed=1
done
[ -z "$compile_failed" ] || say "note: byte-compiling ahead failed; the suite compiles what it imports as it goes"
if [ -n "$apt_pid" ]; then
  if ! wait "$apt_pid"; then
    cat "$apt_log" >&2
    echo "setup: apt-get could not install kotlin, junit4, libusb, adb and chromium (its output is above); fix what it says and run this again" >&2
    rm -f "$apt_log"
    exit 1
  fi
  rm -f "$apt_log"
  build_kotlin
fi
# A build started in the background above, waited for: its log is kept only when it failed, which
# the suite's own test of that build then shows. Arguments: pid, log, what did not work, the test.
await_build() {
  [ -n "$1" ] || return 0
  if wait "$1"; then
    rm -f "$2"
  else
    say "note: $3 ahead ($2 says why); the suite's $4 test will show it"
  fi
}
await_build "$kotlin_pid" "$kotlin_log" "the Android core did not compile" Kotlin
await_build "$swift_pid" "$swift_log" "the Swift package did not build" Swift
say "done: run the toolkit as .venv/bin/bench (or 'source .venv/bin/activate', then bench)"
