#!/usr/bin/env bash
# THE main command of AI Mass Lab.
#
#   scripts/run.sh                 JupyterLab with the AI Mass Lab workbench on 127.0.0.1
#   scripts/run.sh --port 8899     extra arguments go to `jupyter lab`
#   scripts/run.sh quickstart      the whole pipeline headless (data -> train -> registry -> serve),
#                                  no browser needed; extra arguments go to `aimass quickstart`
#
# It creates .venv and installs the project (with constraints.txt) when needed. The workspace
# is $AIMASS_HOME, by default ./aimass-workspace in the repository.
set -euo pipefail

# shellcheck source=scripts/_setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"
cd "$REPO_ROOT"

aimass_setup_venv
export PATH="$VENV/bin:$PATH"
export VIRTUAL_ENV="$VENV"
export AIMASS_HOME="${AIMASS_HOME:-$REPO_ROOT/aimass-workspace}"
mkdir -p "$AIMASS_HOME"

if [ "${1:-}" = quickstart ]; then
    shift
    exec aimass quickstart "$@"
fi

args=(--ip 127.0.0.1)
if [ "$(id -u)" = 0 ]; then
    args+=(--allow-root)
fi
if [ -n "${CI:-}" ] || [ -z "${DISPLAY:-}" ]; then
    args+=(--no-browser)
fi
echo "AI Mass Lab workspace: $AIMASS_HOME"
exec jupyter lab "${args[@]}" "$@"
