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
#                        quickly when the stamp says nothing changed since the last install;
#                        then aimass_build_labextension
#   aimass_build_labextension
#                        rebuild the JupyterLab extension (labextension/ -> aimass_lab/labextension,
#                        with the venv's jlpm and Node) when its sources changed since the last
#                        build, and link it into the venv (jupyter labextension develop)

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
        aimass_build_labextension
        return 0
    fi
    if [ ! -f "$REPO_ROOT/aimass_lab/labextension/package.json" ] && ! command -v node >/dev/null; then
        aimass_die "installing from source builds the JupyterLab extension (labextension/), which needs Node.js 20 or newer and none was found on PATH; install Node.js (https://nodejs.org, or your system's nodejs package if it is 20+), or install a built wheel of aimass-lab instead"
    fi

    aimass_section "Installing aimass-lab[dev,serve] into $VENV (pip install -c constraints.txt -e \".[dev,serve]\")"
    local started=$SECONDS
    # The constraints file pins every dependency, torch included: an unpinned torch would pull
    # a multi-gigabyte CUDA build. Never install into this venv without it.
    # Playwright drives Debian's /usr/bin/chromium (scripts/test.sh installs it): never let
    # pip fetch a browser build of its own.
    (cd "$REPO_ROOT" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$VENV/bin/python" -m pip install \
        --quiet -c constraints.txt -e ".[dev,serve]") \
        || aimass_die "pip install failed (see above)"
    printf '%s\n' "$want" >"$AIMASS_STAMP"
    printf 'installed in %ss\n' "$((SECONDS - started))"
    # pip's build hook has just built the extension when it was missing or older than its
    # sources; record that, so aimass_build_labextension does not build it again.
    local built="$REPO_ROOT/aimass_lab/labextension/package.json"
    if [ -f "$built" ] && [ -z "$(cd "$REPO_ROOT/labextension" && find src style package.json \
        yarn.lock tsconfig.json -newer "$built" -print -quit)" ]; then
        _aimass_labextension_hash >"$AIMASS_LABEXT_STAMP"
    fi
    aimass_build_labextension
}

AIMASS_LABEXT_STAMP="$VENV/.aimass-labextension-stamp"

# The files whose content decides the built JupyterLab extension; any change rebuilds it.
_aimass_labextension_hash() {
    (
        cd "$REPO_ROOT/labextension"
        find src style -type f -print0 | sort -z | xargs -0 sha256sum
        sha256sum package.json yarn.lock tsconfig.json .yarnrc.yml
    ) | sha256sum | cut -d' ' -f1
}

aimass_build_labextension() {
    [ -f "$REPO_ROOT/labextension/package.json" ] || return 0
    local want
    want="$(_aimass_labextension_hash)"
    if [ ! -f "$REPO_ROOT/aimass_lab/labextension/package.json" ] \
        || [ "$(cat "$AIMASS_LABEXT_STAMP" 2>/dev/null)" != "$want" ]; then
        command -v node >/dev/null \
            || aimass_die "the JupyterLab extension (labextension/) needs building and Node.js 20+ was not found on PATH"
        aimass_section "Building the JupyterLab extension (labextension/: jlpm install, jlpm build)"
        local started=$SECONDS
        (
            cd "$REPO_ROOT/labextension"
            export PATH="$VENV/bin:$PATH"
            log="$(mktemp)"
            jlpm install >"$log" 2>&1 || { cat "$log"; rm -f "$log"; exit 1; }
            rm -f "$log"
            jlpm build
        ) || aimass_die "building the JupyterLab extension failed (see above)"
        printf '%s\n' "$want" >"$AIMASS_LABEXT_STAMP"
        printf 'built in %ss\n' "$((SECONDS - started))"
    fi
    # An editable install copies the built files into the venv once; a link follows rebuilds.
    if [ ! -L "$VENV/share/jupyter/labextensions/aimass-lab" ]; then
        (cd "$REPO_ROOT" && PATH="$VENV/bin:$PATH" jupyter labextension develop --overwrite . >/dev/null) \
            || aimass_die "jupyter labextension develop failed"
    fi
}
