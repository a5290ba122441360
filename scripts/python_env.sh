#!/usr/bin/env bash
# Prints the path of the Python test environment's interpreter, creating the virtual environment
# first when it is missing or was built from another python/requirements.txt. Cached under
# ${HYB_VENV:-~/.cache/hybridize-venv}: a later run with the same requirements reuses it; changed
# requirements are installed into the existing environment (pip keeps what already matches: torch is
# not fetched again), and only a failed install starts it over.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${HYB_VENV:-$HOME/.cache/hybridize-venv}"
req=python/requirements.txt
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/requirements.sha256" 2>/dev/null)" != "$want" ]; then
  echo "python_env: installing $req into $venv" >&2
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  if ! "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2; then
    echo "python_env: install failed; building $venv afresh" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  fi
  echo "$want" > "$venv/requirements.sha256"
fi
echo "$venv/bin/python"
