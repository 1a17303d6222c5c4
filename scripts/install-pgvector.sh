#!/usr/bin/env bash
# Build and install the pgvector extension into the local PostgreSQL when it is missing.
#
# Debian bookworm ships no pgvector binary package, so we build the source package of the
# next Debian release against the installed server. The mirror is read from the machine's
# own apt configuration; nothing here names a host.
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-$(ls /usr/lib/postgresql | sort -n | tail -1)}"
PG_CONFIG="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config"
EXT_DIR="$("$PG_CONFIG" --sharedir)/extension"

if [ -f "$EXT_DIR/vector.control" ]; then
  echo "pgvector: already installed for PostgreSQL ${PG_MAJOR}"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "pgvector: missing, and installing it needs root (apt-get, make install)." >&2
  exit 1
fi

echo "pgvector: building from Debian source for PostgreSQL ${PG_MAJOR} (about a minute)"
SRC_LIST=/etc/apt/sources.list.d/smalltown-pgvector-src.sources
MIRROR="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
if [ -z "$MIRROR" ]; then
  echo "pgvector: could not read a Debian mirror from /etc/apt/sources.list.d/debian.sources" >&2
  exit 1
fi
cleanup() { rm -f "$SRC_LIST"; rm -rf "${WORK:-}"; }
trap cleanup EXIT
cat >"$SRC_LIST" <<SRC
Types: deb-src
URIs: ${MIRROR}
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "postgresql-server-dev-${PG_MAJOR}" dpkg-dev make gcc >/dev/null
WORK="$(mktemp -d)"
cd "$WORK"
apt-get source -qq pgvector >/dev/null
cd pgvector-*/
make -s PG_CONFIG="$PG_CONFIG" >/dev/null
make -s PG_CONFIG="$PG_CONFIG" install >/dev/null
rm -f "$SRC_LIST"
apt-get update -qq || true
echo "pgvector: installed into $EXT_DIR"
