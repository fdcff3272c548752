#!/usr/bin/env bash
# Installs the system packages Tutti's build, tests and demo need, when they are missing (Debian).
set -euo pipefail
need=()
for pkg in pkg-config libopus-dev libasound2-dev libsrtp2-dev ffmpeg sox libspandsp-dev libspeexdsp-dev \
           asterisk-core-sounds-en-g722 asterisk-core-sounds-en-wav hdf5-tools soundstretch rubberband-cli \
           libmysofa-dev espeak-ng tshark jackd2 libjack-jackd2-dev \
           libwebrtc-audio-processing-dev python3-pip python3-numpy python3-scipy python3-dev \
           valgrind g++; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# PESQ-WB and STOI for `tutti eval` (its test needs them; the command itself reports "n/a" without them).
if ! python3 -c 'import numpy, pesq, pystoi' 2>/dev/null; then
  echo "setup: installing the Python packages pesq and pystoi" >&2
  python3 -m pip install --quiet pesq pystoi 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages pesq pystoi \
    || echo "setup: warning: pip could not install pesq and pystoi; tutti eval reports PESQ/STOI as n/a" >&2
fi
# cbindgen generates the C header tutti/include/tutti.h; tutti/tests/capi_header.rs checks it is current.
if ! cbindgen --version 2>/dev/null | grep -q '^cbindgen 0\.29\.'; then
  echo "setup: installing cbindgen 0.29.4 (cargo install)" >&2
  cargo install cbindgen --version 0.29.4 --locked
fi
