#!/usr/bin/env bash
# Install Fixative with its test dependencies, then run ruff and pytest.
#
#   bash scripts/run-tests.sh [PYTEST ARGS...]
#
# Uses the active virtual environment if there is one, else installs into the current
# python3 (set PYTHON to choose another interpreter). torch is pinned *before* the editable
# install: an unpinned `torch` from PyPI would pull several GB of CUDA packages, while a
# CPU build of exactly this version (as on the project machines) already satisfies the pin.
# Exit status: pytest's (ruff failing stops first with its own).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY=${PYTHON:-python3}
if [[ -n ${VIRTUAL_ENV:-} ]]; then
    PY="$VIRTUAL_ENV/bin/python"
fi
# Debian marks its system Python "externally managed"; this script is allowed to install there.
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1

echo "== installing (python: $("$PY" -c 'import sys; print(sys.executable)'))"
"$PY" -m pip install --quiet "torch==2.13.0"
"$PY" -m pip install --quiet -e '.[test,train,c2pa,eval,ray]'
# exiftool: the independent XMP reader of tests/declarations (installed only when root).
if [[ $(id -u) -eq 0 ]] && ! command -v exiftool >/dev/null; then
    apt-get install -y -qq libimage-exiftool-perl >/dev/null || { apt-get update -qq && apt-get install -y -qq libimage-exiftool-perl >/dev/null; }
fi

echo "== ruff check"
"$PY" -m ruff check .

echo "== pytest"
exec "$PY" -m pytest "$@"
