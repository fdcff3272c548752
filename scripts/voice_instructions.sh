#!/usr/bin/env bash
# Instructions per 10 ms block of the voice chain (hpf -> aec 500 ms -> ns -> agc, 16 kHz) and of
# SpeexDSP's echo canceller (500 ms tail) on the same signals, counted by callgrind: a measure that, unlike
# wall-clock or CPU time, does not move with the machine's load. Usage: scripts/voice_instructions.sh
# [BLOCKS] (default 1000). Needs valgrind (Debian `valgrind`) and libspeexdsp-dev.
set -euo pipefail
cd "$(dirname "$0")/.."
blocks="${1:-1000}"
command -v valgrind >/dev/null || { echo "voice_instructions: valgrind is not installed (apt-get install -y valgrind)" >&2; exit 1; }
cargo build --release -q -p tutti-benches --example voice_chain
bin="${CARGO_TARGET_DIR:-target}/release/examples/voice_chain"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
count() { # workload blocks -> total instructions
    valgrind --tool=callgrind --callgrind-out-file="$tmp/$1-$2.out" "$bin" "$2" "$1" >/dev/null 2>"$tmp/log"
    grep -o 'refs: *[0-9,]*' "$tmp/log" | tr -dc '0-9'
}
declare -A per
for w in chain speex500; do
    # Two lengths: the difference removes the set-up and the 200 warm-up blocks.
    a=$(count "$w" 0)
    b=$(count "$w" "$blocks")
    per[$w]=$(( (b - a) / blocks ))
    echo "$w: ${per[$w]} instructions per 10 ms block"
done
awk -v s="${per[speex500]}" -v c="${per[chain]}" 'BEGIN { printf "ratio speex500 / chain = %.2f\n", s / c }'
