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
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -qq --upgrade pip
  .venv/bin/python -m pip install -qq torch==2.14.1 torchvision==0.29.1
  .venv/bin/python -m pip install -qq -e '.[dev]'
  rm -f .venv/.installed-* && touch "$stamp"
fi
