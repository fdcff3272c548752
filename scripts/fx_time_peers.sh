#!/usr/bin/env bash
# Peer timings for benches/benches/fx_time.rs: rubberband (R2, R3) and soundstretch on 30 s of a 48 kHz
# mono harmonic tone, reported as µs of CPU per 10 ms block (compare with `cargo bench -p tutti-benches
# --bench fx_time`, whose figures are per 480-frame block). Needs rubberband-cli, soundstretch, sox.
set -euo pipefail
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
sox -n -r 48000 -c 1 -b 16 "$dir/in.wav" synth 30 sine 220 sine 440 sine 660 remix - gain -6
blocks=3000
run() { # label, command...
  local label=$1; shift
  /usr/bin/time -o "$dir/t" -f "%U %S" "$@" >/dev/null 2>&1
  local t; t=$(tail -1 "$dir/t")
  awk -v l="$label" -v t="$t" -v b=$blocks 'BEGIN { split(t, a, " "); printf "%-28s %8.1f µs per 10 ms block\n", l, (a[1]+a[2])*1e6/b }'
}
run "rubberband R2 pitch +3"  rubberband -q -2 -p 3 "$dir/in.wav" "$dir/o1.wav"
run "rubberband R3 pitch +3"  rubberband -q -3 -p 3 "$dir/in.wav" "$dir/o2.wav"
run "rubberband R3 stretch 1.1" rubberband -q -3 -t 1.1 "$dir/in.wav" "$dir/o3.wav"
run "soundstretch pitch +3"   soundstretch "$dir/in.wav" "$dir/o4.wav" -pitch=3
run "soundstretch tempo 1/1.1" soundstretch "$dir/in.wav" "$dir/o5.wav" -tempo=-9.0909
run "sox rate -h 48k->44.1k"  sox "$dir/in.wav" "$dir/o6.wav" rate -h 44100
