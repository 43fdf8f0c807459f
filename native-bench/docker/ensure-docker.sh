#!/bin/sh
# A working `docker` with `docker compose` and a daemon that answers, installed when missing.
#   ensure-docker.sh install   install what is missing (root + apt-get); start nothing
#   ensure-docker.sh up        install, then start dockerd if none answers; prints
#                              "dockerd-started <pid>" when it started one, "dockerd-running" otherwise
#   ensure-docker.sh down PID  stop that dockerd (only if PID is a dockerd and no container runs on
#                              it any more), waiting for it to exit
#   ensure-docker.sh mirror    the Debian mirror the system's apt uses (for trixie and mmdebstrap)
# A machine where `docker info` and `docker compose version` already work is left as it is.
# What gets installed (Debian bookworm):
#   docker.io    Debian's engine (dockerd 20.10, containerd, runc, docker-init)
#   mmdebstrap   builds the local stand-ins for base images no registry serves here
#   compose v2   the docker-compose package of Debian 13 (trixie), fetched with a scratch apt
#                configuration (own sources list, state and cache) so the system's apt is untouched,
#                installed as the CLI plugin /usr/libexec/docker/cli-plugins/docker-compose;
#                bookworm's own docker-compose 1.29 rejects the compose file's top-level `name:`.
set -eu

STATE_DIR=/var/cache/rinha-node
LOG=/var/log/rinha-node-dockerd.log
PLUGIN_DIR=/usr/libexec/docker/cli-plugins

say() { echo "ensure-docker: $*" >&2; }
die() { say "$*"; exit 1; }

can_install() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; }

apt_install() {
  # shellcheck disable=SC2068
  apt-get install -y -q --no-install-recommends $@ >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends $@ >/dev/null; }
}

# The Debian mirror the system's apt already uses for its own release (one-line or deb822 sources).
debian_mirror() {
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    m=$(awk -v c="$codename" '$1 == "deb" { i = 2; if ($i ~ /^\[/) while ($i !~ /\]$/) i++; if ($i ~ /^\[/ || $i ~ /\]$/) i++; if ($(i+1) == c) { print $i; exit } }' "$f")
    [ -n "$m" ] && { echo "$m"; return; }
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    m=$(awk -v c="$codename" 'BEGIN { RS = ""; FS = "\n" } { uri = ""; ok = 0; for (i = 1; i <= NF; i++) { if ($i ~ /^URIs:/) { split($i, a, " "); uri = a[2] } if ($i ~ /^Suites:/) { n = split($i, s, " "); for (j = 2; j <= n; j++) if (s[j] == c) ok = 1 } } if (ok && uri != "") { print uri; exit } }' "$f")
    [ -n "$m" ] && { echo "$m"; return; }
  done
  echo http://deb.debian.org/debian
}

# Compose v2 from Debian 13 with apt state of its own: the system's sources, lists and status are not read or written.
install_compose_plugin() {
  mirror=$(debian_mirror)
  d="$STATE_DIR/apt-trixie"
  rm -rf "$d" && mkdir -p "$d/etc/sources.list.d" "$d/state/lists/partial" "$d/cache/archives/partial" "$d/deb"
  : >"$d/status"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$d/etc/sources.list"
  opts="-q -o Dir::Etc::SourceList=$d/etc/sources.list -o Dir::Etc::SourceParts=$d/etc/sources.list.d
    -o Dir::State=$d/state -o Dir::State::status=$d/status -o Dir::Cache=$d/cache
    -o APT::Architectures::=amd64 -o APT::Sandbox::User=root -o Debug::NoLocking=1"
  # shellcheck disable=SC2086
  apt-get $opts update >/dev/null || die "apt-get update of the trixie sources ($mirror) failed"
  # shellcheck disable=SC2086
  (cd "$d/deb" && apt-get $opts download docker-compose >/dev/null) || die "apt-get download docker-compose (trixie) failed"
  deb=$(ls "$d"/deb/docker-compose_*.deb)
  dpkg-deb -x "$deb" "$d/root"
  bin="$d/root/usr/libexec/docker/cli-plugins/docker-compose"
  [ -x "$bin" ] || die "no $bin in $deb"
  mkdir -p "$PLUGIN_DIR" && install -m 0755 "$bin" "$PLUGIN_DIR/docker-compose"
  rm -rf "$d"
  say "installed compose $("$PLUGIN_DIR/docker-compose" version --short) from $(basename "$deb")"
}

install_missing() {
  pkgs=""
  command -v docker >/dev/null 2>&1 || pkgs="$pkgs docker.io"
  command -v dockerd >/dev/null 2>&1 || { docker info >/dev/null 2>&1 || pkgs="$pkgs docker.io"; }
  command -v mmdebstrap >/dev/null 2>&1 || pkgs="$pkgs mmdebstrap"
  pkgs=$(echo "$pkgs" | tr ' ' '\n' | sort -u | tr '\n' ' ')
  if [ -n "${pkgs# }" ]; then
    can_install || die "missing:$pkgs and cannot install them (needs root and apt-get)"
    say "installing $pkgs"
    apt_install "$pkgs"
  fi
  if ! docker compose version >/dev/null 2>&1; then
    can_install || die "docker compose is missing and cannot be installed (needs root and apt-get)"
    install_compose_plugin
  fi
  docker compose version >/dev/null 2>&1 || die "docker compose does not run after installing it"
}

daemon_answers() { docker info >/dev/null 2>&1; }

start_daemon() {
  if daemon_answers; then echo dockerd-running; return; fi
  command -v dockerd >/dev/null 2>&1 || die "no docker daemon answers and dockerd is not installed"
  [ "$(id -u)" = "0" ] || die "no docker daemon answers and only root can start dockerd"
  mkdir -p "$STATE_DIR"
  # setsid: the daemon outlives this script and is not in the caller's process group (Ctrl-C
  # reaches the caller, which then stops the daemon itself after tearing its containers down).
  setsid dockerd >>"$LOG" 2>&1 </dev/null &
  pid=$!
  i=0
  while ! daemon_answers; do
    i=$((i + 1))
    kill -0 "$pid" 2>/dev/null || die "dockerd exited at start; see $LOG"
    [ "$i" -lt 120 ] || { kill "$pid" 2>/dev/null; die "dockerd did not answer within 60 s; see $LOG"; }
    sleep 0.5
  done
  echo "$pid" >"$STATE_DIR/dockerd.pid"
  echo "dockerd-started $pid"
}

stop_daemon() {
  pid=$1
  [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = dockerd ] || { say "pid $pid is not a dockerd; nothing stopped"; return 0; }
  # Someone else's containers (a test or bench that found this daemon answering) keep it running.
  if [ -n "$(docker ps -q 2>/dev/null)" ]; then say "dockerd $pid left running: containers are still running on it"; return 0; fi
  kill -TERM "$pid"
  i=0
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i + 1)); [ "$i" -lt 300 ] || { kill -KILL "$pid"; break; }
    sleep 0.1
  done
  [ "$(cat "$STATE_DIR/dockerd.pid" 2>/dev/null)" = "$pid" ] && rm -f "$STATE_DIR/dockerd.pid"
  return 0
}

case "${1:-up}" in
  install) install_missing ;;
  up) install_missing; start_daemon ;;
  mirror) debian_mirror ;;
  down) [ $# -eq 2 ] || die "usage: ensure-docker.sh down <dockerd pid>"; stop_daemon "$2" ;;
  *) die "usage: ensure-docker.sh install | up | down <pid> | mirror" ;;
esac
