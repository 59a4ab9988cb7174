#!/usr/bin/env bash
# Makes sure a virtualenv with the pinned moto exists and prints its bin directory.
#
# The venv lives outside the clone, under ${ADE_CACHE_DIR:-$HOME/.cache/ade}, and is
# named after the sha256 of requirements.txt, so changing the pin makes a new one.
# pip runs only when the venv is missing or incomplete; all pip output goes to stderr,
# so `bin=$(tools/moto/ensure.sh)` captures just the path.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
req="$here/requirements.txt"
sha="$(sha256sum "$req" | cut -c1-16)"
cache="${ADE_CACHE_DIR:-$HOME/.cache/ade}"
venv="$cache/moto-venv-$sha"
python="${PYTHON:-python3}"

if [[ ! -f "$venv/.complete" ]]; then
    mkdir -p "$cache"
    # Another process may be installing the same venv: take a lock.
    exec 9>"$venv.lock"
    flock 9
    if [[ ! -f "$venv/.complete" ]]; then
        rm -rf "$venv"
        echo "ensure.sh: creating $venv (first use; about a minute)" >&2
        "$python" -m venv "$venv" >&2
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
        touch "$venv/.complete"
    fi
    flock -u 9
fi
echo "$venv/bin"
