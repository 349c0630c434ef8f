#!/bin/sh
# Installs every build and test dependency of lore from Debian 12's packages.
# Idempotent and non-interactive: safe to run again; it installs only what is missing.
set -eu

PKGS="build-essential cmake ninja-build pkg-config git ca-certificates
libsqlite3-dev sqlite3 libjansson-dev libcmocka-dev jq util-linux
libpcre2-dev clang libclang-rt-14-dev
libxml2-dev libpoppler-glib-dev libcairo2-dev poppler-utils qpdf fonts-dejavu-core fonts-noto-cjk
libfaiss-dev libopenblas-dev
libcivetweb-dev libcurl4-openssl-dev libsodium-dev"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    echo "install-deps: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing
else
    echo "install-deps: all dependencies present"
fi
