#!/usr/bin/env bash
# Makes sure a virtualenv with a pinned requirements file exists and prints its
# bin directory: hack/python-venv.sh NAME REQUIREMENTS.
#
# The venv lives outside the clone, under ${ADE_CACHE_DIR:-$HOME/.cache/ade}, and is
# named NAME-venv-<sha256 of the file>, so changing a pin makes a new one. pip runs
# only when the venv is missing or incomplete; all pip output goes to stderr, so
# `bin=$(hack/python-venv.sh NAME FILE)` captures just the path.
set -euo pipefail

name="$1"
req="$2"
sha="$(sha256sum "$req" | cut -c1-16)"
cache="${ADE_CACHE_DIR:-$HOME/.cache/ade}"
venv="$cache/$name-venv-$sha"
python="${PYTHON:-python3}"

if [[ ! -f "$venv/.complete" ]]; then
    mkdir -p "$cache"
    # Another process may be installing the same venv: take a lock.
    exec 9>"$venv.lock"
    flock 9
    if [[ ! -f "$venv/.complete" ]]; then
        rm -rf "$venv"
        echo "python-venv.sh: creating $venv (first use; about a minute)" >&2
        "$python" -m venv "$venv" >&2
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
        touch "$venv/.complete"
    fi
    flock -u 9
fi
echo "$venv/bin"
