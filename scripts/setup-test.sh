#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real, when missing:
# dnsmasq (DNS discovery), nats-server (NATS discovery), chromium (the
# dashboard's browser test), openssl (test certificates), iproute2 (network
# namespaces for the partition tests) and passwd (embedded-postgres creates a
# 'postgres' user). Uses sudo only when not root, so it works in a root shell
# without sudo (containers, CI) and for a user with sudo alike.
set -euo pipefail

need=()
{ command -v useradd && command -v groupadd; } >/dev/null 2>&1 || need+=(passwd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v dnsmasq >/dev/null 2>&1 || need+=(dnsmasq-base)
command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v ip >/dev/null 2>&1 || need+=(iproute2)

if [ ${#need[@]} -eq 0 ]; then
  echo "setup:test: every package the tests need is installed"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "setup:test: need root or sudo to install: ${need[*]}" >&2
  exit 1
fi

echo "setup:test: installing ${need[*]}"
"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
