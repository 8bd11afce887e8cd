#!/usr/bin/env bash
# aider-chat pins ~100 exact versions, so it lives in its own uv-managed environment;
# the scientist runs it as a subprocess (found on PATH, in ~/.local/bin, or via $AIDER_BIN).
set -euo pipefail
command -v uv >/dev/null 2>&1 || python -m pip install --quiet uv
uv tool install --compile-bytecode aider-chat==0.86.2
