#!/usr/bin/env bash
# aider-chat pins ~100 exact versions, so it lives in its own uv-managed environment;
# the scientist runs it as a subprocess (found on PATH, in ~/.local/bin, or via $AIDER_BIN).
set -euo pipefail
command -v uv >/dev/null 2>&1 || python -m pip install --quiet uv
# Trust the system's certificate store as pip does (a machine behind a TLS-inspecting proxy has
# its CA there; uv's own bundle lacks it). UV_NATIVE_TLS is the older uv's name for the same.
export UV_SYSTEM_CERTS="${UV_SYSTEM_CERTS:-1}" UV_NATIVE_TLS="${UV_NATIVE_TLS:-1}"
uv tool install --quiet --compile-bytecode aider-chat==0.86.2
