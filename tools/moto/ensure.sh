#!/usr/bin/env bash
# Makes sure a virtualenv with the pinned moto exists and prints its bin directory
# (hack/python-venv.sh: keyed on requirements.txt's hash, under ~/.cache/ade), so
# `bin=$(tools/moto/ensure.sh)` captures just the path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../../hack/python-venv.sh" moto "$here/requirements.txt"
