#!/bin/sh
# System tools the test suite needs that npm cannot provide, from Debian's packages when missing
# and we are root: haproxy (config check, native compose topology) and PostgreSQL 15 (the
# Postgres restart test and the native topology; npm start uses the embedded one); Docker with
# compose v2 and mmdebstrap for the Docker deployment test (native-bench/docker/ensure-docker.sh,
# which starts no daemon here). A Docker that cannot be had does not stop the rest of the suite:
# test/deploy.docker.test.ts then fails and says why.
set -e
sh "$(dirname "$0")/../native-bench/docker/ensure-docker.sh" install || echo "ensure-tools: Docker is not available; test/deploy.docker.test.ts will fail" >&2
missing=""
if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then missing="$missing haproxy"; fi
if [ ! -x /usr/lib/postgresql/15/bin/pg_ctl ]; then missing="$missing postgresql-15"; fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-tools: installing$missing" >&2
  # shellcheck disable=SC2086
  apt-get install -y -q $missing >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q $missing >/dev/null)
else
  echo "ensure-tools: missing$missing and cannot install it (needs root and apt-get)" >&2
  exit 1
fi
