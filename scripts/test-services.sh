#!/usr/bin/env bash
# Make sure what the tests use is there: PostgreSQL with pgvector, Chromium, and the
# deployment tests' tools.
# (The MongoDB wire server, SecantusDB, is started by the test session itself.)
#
# Outside CI a service that cannot be started is reported and its tests skip; under
# CI=true this script fails, so nothing is ever skipped there.
set -uo pipefail
cd "$(dirname "$0")/.."

PG_URL="${SMALLTOWN_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
in_ci() { case "${CI:-}" in 1|true|TRUE|yes) return 0 ;; *) return 1 ;; esac; }
problem() {
  if in_ci; then echo "services: $*" >&2; exit 1; fi
  echo "services: $* (tests that need it will skip)" >&2
}

pg_ready() { pg_isready -q -d "$PG_URL" 2>/dev/null; }

if ! command -v pg_isready >/dev/null; then
  problem "PostgreSQL client tools are missing (install postgresql)"
elif ! pg_ready; then
  if [ "$(id -u)" = "0" ] && command -v pg_ctlcluster >/dev/null; then
    echo "services: starting PostgreSQL"
    version="$(ls /etc/postgresql | sort -n | tail -1)"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
  fi
  pg_ready || problem "PostgreSQL is not answering at $PG_URL"
fi

if pg_ready; then
  if [ -d /usr/lib/postgresql ]; then
    bash scripts/install-pgvector.sh || problem "pgvector could not be installed"
  fi
  if ! psql "$PG_URL" -qtAc "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'" \
      | grep -q 1; then
    problem "the pgvector extension is not available on $PG_URL"
  fi
fi
# Chromium, for the browser tests (Debian's package; Playwright drives it).
if ! command -v chromium >/dev/null; then
  bash scripts/install-chromium.sh || problem "Chromium could not be installed"
fi

# The deployment tests' tools: nginx, the Compose tool, envsubst, sqlite3 (Debian's).
bash scripts/install-deploy-tools.sh || problem "the deployment tools could not be installed"

echo "services: ready"
