#!/usr/bin/env bash
# Sets up .venv with everything the toolkit and its tests need. Idempotent: a second run is quick.
# torch is installed first and pinned: pip takes 2.14.1 + torchvision 0.29.1 from this machine's
# local wheels; uv and poetry would download ~3 GB instead, so this uses pip on purpose.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# The Android app's pure-Kotlin core is compiled and tested with Debian's kotlinc and JUnit 4;
# libusb lets the Android runner find phones on USB. Installed when missing and we may (root + apt).
if ! command -v kotlinc >/dev/null || [ ! -f /usr/share/java/junit4.jar ] || ! ldconfig -p 2>/dev/null | grep -q libusb-1.0; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kotlin junit4 libusb-1.0-0 >/dev/null
  else
    echo "note: install kotlin, junit4 and libusb-1.0-0 (Debian/Ubuntu: sudo apt-get install kotlin junit4 libusb-1.0-0) to run the Android core tests" >&2
  fi
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -qq --upgrade pip
  .venv/bin/python -m pip install -qq torch==2.14.1 torchvision==0.29.1
  .venv/bin/python -m pip install -qq -e '.[dev,ios]'
  rm -f .venv/.installed-* && touch "$stamp"
fi
