#!/usr/bin/env bash
# Sets up .venv. Idempotent: a second run is quick.
#   ./scripts/setup.sh           the toolkit itself (what `bench profile` needs); no GPL package
#   ./scripts/setup.sh --tests   also the test tools, the iOS extra (pymobiledevice3, GPL-3.0, only
#                                for the iOS runner's tests) and, as root with apt, Debian's kotlin,
#                                junit4 and libusb for the Android core's tests, adb (the platform
#                                adb server the Android runner's adb-server route is tested through)
#                                and chromium for the report's browser tests
# torch is pinned (2.14.1 + torchvision 0.29.1, with their ~3 GB of CUDA libraries, which its
# import needs even on a CPU): pip takes them from its cache once warm, where uv and poetry would
# download them again, so this uses pip on purpose. Every install is held to constraints.txt, the
# versions last verified.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in
  "") extras="" ;;
  --tests) extras="[dev,ios]" ;;
  *) echo "usage: $0 [--tests]" >&2; exit 2 ;;
esac
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ "$mode" = --tests ]; then
  if ! command -v kotlinc >/dev/null || [ ! -f /usr/share/java/junit4.jar ] || ! ldconfig -p 2>/dev/null | grep -q libusb-1.0 \
    || ! command -v adb >/dev/null || ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kotlin junit4 libusb-1.0-0 adb chromium >/dev/null
    else
      echo "note: install kotlin, junit4, libusb-1.0-0, adb and chromium (Debian: sudo apt-get install kotlin junit4 libusb-1.0-0 adb chromium) to run the Android core and adb-server tests and the report's browser tests" >&2
    fi
  fi
fi
stamp=.venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)${mode:+-tests}
if [ ! -f "$stamp" ]; then
  # One resolution for everything. Byte-compiling stays on: with PYTHONDONTWRITEBYTECODE set, as on
  # these machines, nothing compiled later is kept, and every process (export workers, timing
  # children, torchrun ranks) would compile torch again on import.
  .venv/bin/python -m pip install -qq -c constraints.txt torch==2.14.1 torchvision==0.29.1 -e ".$extras"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
