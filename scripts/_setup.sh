# shellcheck shell=bash
# Shared set-up for scripts/run.sh and scripts/test.sh. Source it; do not run it.
#
# Defines:
#   REPO_ROOT            the repository root (absolute)
#   VENV                 the project's virtual environment ($REPO_ROOT/.venv, or $AIMASS_VENV)
#   aimass_section TEXT  print a section header
#   aimass_die TEXT      print an error and exit 1
#   aimass_setup_venv    create the venv when missing and install the project into it,
#                        always with constraints.txt (which pins a CPU-friendly torch); skipped
#                        quickly when the stamp says nothing changed since the last install

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${AIMASS_VENV:-$REPO_ROOT/.venv}"
AIMASS_PYTHON="${AIMASS_PYTHON:-python3}"
AIMASS_STAMP="$VENV/.aimass-install-stamp"

aimass_section() {
    printf '\n==> %s\n' "$*"
}

aimass_die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# The files whose content decides what gets installed; any change re-runs pip.
_aimass_install_hash() {
    (
        cd "$REPO_ROOT"
        cat pyproject.toml constraints.txt aimass_lab/_version.py
        "$VENV/bin/python" -c 'import sys; print(sys.version)'
    ) | sha256sum | cut -d' ' -f1
}

aimass_setup_venv() {
    [ -f "$REPO_ROOT/constraints.txt" ] || aimass_die "constraints.txt is missing from $REPO_ROOT"

    if [ ! -e "$VENV" ]; then
        aimass_section "Creating the virtual environment in $VENV"
        command -v "$AIMASS_PYTHON" >/dev/null \
            || aimass_die "$AIMASS_PYTHON not found; install Python 3.10 or newer (or set AIMASS_PYTHON)"
        if ! "$AIMASS_PYTHON" -m venv "$VENV"; then
            rm -rf "$VENV" # only ever a folder this function just created
            aimass_die "could not create $VENV with $AIMASS_PYTHON -m venv (on Debian/Ubuntu: apt-get install python3-venv)"
        fi
    fi
    "$VENV/bin/python" -c '' 2>/dev/null \
        || aimass_die "$VENV exists but $VENV/bin/python does not run (a broken or foreign virtual environment); remove the folder and run again to recreate it"

    local want
    want="$(_aimass_install_hash)"
    if [ -f "$AIMASS_STAMP" ] && [ "$(cat "$AIMASS_STAMP")" = "$want" ]; then
        return 0
    fi

    aimass_section "Installing aimass-lab[dev] into $VENV (pip install -c constraints.txt -e \".[dev]\")"
    local started=$SECONDS
    # The constraints file pins every dependency, torch included: an unpinned torch would pull
    # a multi-gigabyte CUDA build. Never install into this venv without it.
    (cd "$REPO_ROOT" && "$VENV/bin/python" -m pip install --quiet -c constraints.txt -e ".[dev]") \
        || aimass_die "pip install failed (see above)"
    printf '%s\n' "$want" >"$AIMASS_STAMP"
    printf 'installed in %ss\n' "$((SECONDS - started))"
}
