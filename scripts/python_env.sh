#!/usr/bin/env bash
# Prints the path of the Python test environment's interpreter, creating the virtual environment
# first when it is missing or was built from another python/requirements.txt. Cached under
# ${HYB_VENV:-~/.cache/hybridize-venv}: a later run with the same requirements reuses it.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${HYB_VENV:-$HOME/.cache/hybridize-venv}"
req=python/requirements.txt
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/requirements.sha256" 2>/dev/null)" != "$want" ]; then
  echo "python_env: building $venv from $req" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  echo "$want" > "$venv/requirements.sha256"
fi
echo "$venv/bin/python"
