#!/usr/bin/env bash
# Installs the system packages Tutti's build, tests and demo need, when they are missing (Debian).
set -euo pipefail
need=()
for pkg in pkg-config libopus-dev libasound2-dev libsrtp2-dev ffmpeg sox libspandsp-dev libspeexdsp-dev \
           asterisk-core-sounds-en-g722 asterisk-core-sounds-en-wav hdf5-tools soundstretch rubberband-cli \
           libmysofa-dev espeak-ng tshark jackd2 libjack-jackd2-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
