#!/usr/bin/env bash
# install-deps.sh - install the Debian packages needed to build kta and to run
# a local Kafka broker (scripts/kafka-local.sh). Idempotent: it asks apt-get
# only for packages that are missing, runs `apt-get update` once first in that
# case, uses sudo only when not root, and prints a one-line summary.
set -euo pipefail

# Always wanted (checked with dpkg).
pkgs=(build-essential pkg-config librdkafka-dev libjansson-dev libpcre2-dev
      libyaml-dev libhyperscan-dev libmicrohttpd-dev libsqlite3-dev sqlite3 kcat curl clang libclang-rt-dev
      python3)
# libclang-rt-dev holds the fuzzer and TSan runtimes; clang only recommends it.
# dpkg-dev: dpkg-shlibdeps for `make deb` (its Depends line).
# libssl-dev: libcrypto's SHA-256 (the ruleset version); librdkafka-dev
# does not pull it in.  systemd: systemd-analyze, to verify kta.service.
pkgs+=(dpkg-dev libssl-dev systemd)
# Prometheus' Python client: tests parse /metrics with its parser.
pkgs+=(python3-prometheus-client)

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
# Wanted only when the command is absent (any JRE / Maven install will do).
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)   # test CA of kafka-local.sh

if ((${#missing[@]} == 0)); then
    echo "install-deps: nothing to do, all dependencies present"
    exit 0
fi

sudo=()
if ((EUID != 0)); then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
        exit 1
    fi
    sudo=(sudo)
fi

log=$(mktemp "${TMPDIR:-/tmp}/kta-install-deps.XXXXXX")
trap 'rm -f "$log"' EXIT

run() {
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "$@" >>"$log" 2>&1; then
        echo "install-deps: failed: $*" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
}

run apt-get update -q
run apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
