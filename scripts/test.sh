#!/usr/bin/env bash
# THE test command of AI Mass Lab.
#
#   scripts/test.sh                      lint, format check, types, docs, the whole test suite
#   scripts/test.sh tests/data -k foo    the same checks, then pytest with these arguments
#   AIMASS_TEST_SEED=N scripts/test.sh   replay the random order of an earlier run (its seed)
#
# It creates .venv and installs the project (with constraints.txt) when needed, starts a
# throwaway PostgreSQL server for the tests and removes it on exit. Set AIMASS_TEST_PG_URL
# beforehand to use a server of your own instead (an admin URL to its "postgres" database).
set -euo pipefail

# shellcheck source=scripts/_setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"
cd "$REPO_ROOT"

aimass_setup_venv
export PATH="$VENV/bin:$PATH"
export VIRTUAL_ENV="$VENV"

# ------------------------------------------------------------------------------- PostgreSQL
PG_DIR=""
PG_BIN=""
IS_ROOT=0
if [ "$(id -u)" = 0 ]; then
    IS_ROOT=1
fi

as_pg_owner() {
    # Run a command as the owner of the server's data folder (postgres when we are root).
    if [ "$IS_ROOT" = 1 ]; then
        local cmd
        printf -v cmd '%q ' "$@"
        su postgres -s /bin/sh -c "cd / && $cmd"
    else
        "$@"
    fi
}

find_pg_bin() {
    local dir
    for dir in "${AIMASS_PG_BIN:-}" /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            PG_BIN="$dir"
            return 0
        fi
    done
    if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        PG_BIN="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
        return 0
    fi
    return 1
}

stop_pg() {
    if [ -n "$PG_DIR" ] && [ -d "$PG_DIR" ]; then
        if [ -f "$PG_DIR/data/postmaster.pid" ]; then
            as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
                || as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 \
                || true
        fi
        rm -rf "$PG_DIR"
        echo "PostgreSQL test server stopped and removed"
    fi
}

free_port() {
    python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_pg() {
    if ! find_pg_bin; then
        if [ "$IS_ROOT" = 1 ] && command -v apt-get >/dev/null; then
            aimass_section "Installing PostgreSQL server binaries (apt-get install postgresql)"
            DEBIAN_FRONTEND=noninteractive apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
            find_pg_bin || aimass_die "apt-get installed postgresql but no initdb/pg_ctl was found"
        else
            aimass_die "the tests need PostgreSQL server binaries (initdb, pg_ctl) and none were found.
Install them (Debian/Ubuntu: sudo apt-get install postgresql), or set AIMASS_PG_BIN to their folder,
or set AIMASS_TEST_PG_URL to an admin URL of a server of your own (postgresql://user@host:port/postgres)."
        fi
    fi
    if [ "$IS_ROOT" = 1 ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin postgres \
            || aimass_die "running as root, PostgreSQL needs a 'postgres' user and useradd failed"
    fi

    PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/aimass-pg.XXXXXX")"
    trap stop_pg EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if [ "$IS_ROOT" = 1 ]; then
        chown postgres: "$PG_DIR"
    fi

    as_pg_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 --no-sync \
        >"$PG_DIR/initdb.log" 2>&1 || {
        cat "$PG_DIR/initdb.log" >&2
        aimass_die "initdb failed"
    }
    local attempt port
    for attempt in 1 2 3; do
        port="$(free_port)"
        if as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 \
            -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
            start >/dev/null; then
            export AIMASS_TEST_PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
            echo "PostgreSQL $("$PG_BIN/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port (data in $PG_DIR)"
            return 0
        fi
        echo "PostgreSQL did not start on port $port (attempt $attempt):" >&2
        tail -n 5 "$PG_DIR/log" >&2 || true
    done
    aimass_die "could not start a PostgreSQL test server; its log is above"
}

aimass_section "PostgreSQL test server"
if [ -n "${AIMASS_TEST_PG_URL:-}" ]; then
    echo "using AIMASS_TEST_PG_URL from the environment"
else
    start_pg
fi
export AIMASS_REQUIRE_PG=1

# ------------------------------------------------------------------------------- Chromium
# The browser tests (tests/browser) drive Debian's Chromium through Playwright.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export AIMASS_CHROMIUM="${AIMASS_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$AIMASS_CHROMIUM" ]; then
    if [ "$IS_ROOT" = 1 ] && command -v apt-get >/dev/null; then
        aimass_section "Installing Chromium for the browser tests (apt-get install chromium)"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
        [ -x "$AIMASS_CHROMIUM" ] || aimass_die "apt-get installed chromium but $AIMASS_CHROMIUM is missing"
    else
        aimass_die "the browser tests need Chromium at $AIMASS_CHROMIUM and none was found.
Install it (Debian/Ubuntu: sudo apt-get install chromium), or set AIMASS_CHROMIUM to a Chromium binary."
    fi
fi

# ------------------------------------------------------------------------------- the checks
aimass_section "ruff check"
ruff check .

aimass_section "ruff format --check"
ruff format --check .

aimass_section "mypy"
mypy

# The packages that others build on are typed strictly (issue 15): the vocabulary, the
# workspace, the registry and the inference server. Imports are followed silently, so an
# error is reported only inside these paths.
aimass_section "mypy --strict (vocabulary, workspace, specs, registry, serve/server)"
mypy --strict --follow-imports=silent $(python scripts/strict_paths.py)

# The layers of the house (docs/architecture.md), its circles and its seams: contracts in
# pyproject.toml [tool.importlinter], none with an exception.
aimass_section "import-linter (layers point down, no import circles)"
lint-imports

if [ -f labextension/package.json ]; then
    aimass_section "prettier --check, eslint (labextension/)"
    [ -d labextension/node_modules ] || (cd labextension && jlpm install >/dev/null)
    (cd labextension && jlpm prettier:check && jlpm eslint:check)
fi

if [ -f mkdocs.yml ]; then
    aimass_section "mkdocs build --strict"
    SITE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/aimass-site.XXXXXX")"
    mkdocs build --strict --site-dir "$SITE_DIR" || { rm -rf "$SITE_DIR"; exit 1; }
    rm -rf "$SITE_DIR"
    echo "docs build cleanly"
fi

# The tests run in a random order (pytest-randomly), a new one each run unless
# AIMASS_TEST_SEED replays one: the seed is printed here and again when a run fails.
SEED="${AIMASS_TEST_SEED:-$(python -c 'import random; print(random.randrange(10**8))')}"
aimass_section "pytest${*:+ $*} (random order, seed $SEED)"
status=0
python -m pytest -p randomly "--randomly-seed=$SEED" --durations=30 "$@" || status=$?
if [ "$status" = 5 ] && [ "$#" -gt 0 ]; then
    echo "pytest collected no tests for these arguments (not a failure when arguments are given)"
    status=0
fi
if [ "$status" = 0 ]; then
    aimass_section "all checks passed"
else
    echo "pytest failed; replay this order of the tests with: AIMASS_TEST_SEED=$SEED bash scripts/test.sh${*:+ $*}"
fi
exit "$status"
