#!/bin/sh
# System tools the test suite needs that npm cannot provide: haproxy (config check and the
# native compose topology). Installed from Debian's packages when missing and we are root.
set -e
if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-tools: installing haproxy" >&2
    (apt-get install -y -q haproxy >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q haproxy >/dev/null))
  else
    echo "ensure-tools: haproxy is missing and cannot be installed (need root + apt-get)" >&2
    exit 1
  fi
fi
