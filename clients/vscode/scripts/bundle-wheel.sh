#!/usr/bin/env bash
# Builds the server's wheel from this repository into bundled/ (gitignored), where `vsce package`
# picks it up: the .vsix carries the wheel only; its dependencies come from PyPI when the
# extension installs the server (src/common/privateServer.ts).
#
# Python: $GROUNDHOG_BUILD_PYTHON, else <repo>/.venv/bin/python (`make install` gives it the
# `build` package), else python3.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${GROUNDHOG_BUILD_PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x "$repo/.venv/bin/python" ]; then python="$repo/.venv/bin/python"; else python=python3; fi
fi
"$python" -c 'import build' 2>/dev/null ||
    { echo "bundle-wheel: $python lacks the 'build' package: run 'make install' in $repo (or pip install build)" >&2; exit 1; }

out="$here/bundled"
rm -rf "$out"
mkdir -p "$out"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
"$python" -m build --wheel --outdir "$out" "$repo" >"$log" 2>&1 || { tail -30 "$log" >&2; echo "bundle-wheel: building the wheel failed" >&2; exit 1; }
shopt -s nullglob
wheels=("$out"/groundhog-*.whl)
[ ${#wheels[@]} -eq 1 ] || { echo "bundle-wheel: expected one wheel in $out, found ${#wheels[@]}" >&2; exit 1; }
echo "bundle-wheel: $(basename "${wheels[0]}") ($(du -k "${wheels[0]}" | cut -f1) KB)"
