#!/usr/bin/env bash
# Installs the real components the interop tests and benchmarks talk to, from Debian packages.
# Idempotent: packages already present are not fetched again. Needs root (CI and dev machines run as root).
set -euo pipefail

packages=(
  python3-libtorrent # BitTorrent client (leecher/seeder in interop tests)
  aria2              # second BitTorrent client, also an HTTP client with ranges
  opentracker        # plain BitTorrent tracker
  kamailio           # SIP registrar for IMS registration tests
  kamailio-tls-modules # its TLS listener: registration over sips:
  curl               # HTTP range checks
  mktorrent          # reference metainfo builder (info hash compatibility) and hashing yardstick
  nginx-light        # HTTP range yardstick
  wrk                # HTTP load generator for benchmarks
  openssl            # SHA-1 speed limit yardstick
  time               # /usr/bin/time for peak RSS in benchmarks
  iproute2           # ss: a test reads a socket's receive queue; benchmarks find free ports; ip netns
  transmission-daemon # Transmission 3.00, a mainstream client, run in a network namespace a test creates
  qbittorrent-nox    # qBittorrent 4.5 without its GUI, a mainstream client, run in a network namespace a test creates
  rtorrent           # rtorrent 0.9.8, a mainstream client (XML-RPC on a local socket), in a network namespace a test creates
  redis-server       # shared state of several controllers and trackers; tests start their own on loopback
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-system: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Services from these packages must not start on install: tests start their own instances on loopback.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-system: done"
