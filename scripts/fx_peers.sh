#!/usr/bin/env bash
# Peer comparison for pitch_shift (issue 6): a +3/−3 semitone round trip on recorded speech (Asterisk
# prompts, Debian asterisk-core-sounds-en-wav, at 48 kHz through sox) by Tutti, Rubber Band (R2, R3),
# SoundTouch (soundstretch) and sox `pitch`. Prints, per engine: PESQ-WB of the round trip (ITU-T P.862.2,
# Python `pesq`), CPU per mono channel (user+sys time of both passes, as µs per 10 ms block and % of one
# core) and latency (ours: the node's reported latency; the peers run offline and compensate theirs).
# Goal from the issue: PESQ-WB ≥ 3.1 at ≤ 1 % of a core and ≤ 25 ms latency.
# sox runs with -D (no dither), so the inputs and PESQ figures repeat exactly from run to run.
# Usage: scripts/fx_peers.sh [path/to/tutti]   (default: $CARGO_TARGET_DIR or target, release build)
# Needs rubberband-cli, soundstretch, sox, python3 with pesq and numpy (scripts/setup.sh installs them).
set -euo pipefail
tutti=${1:-${CARGO_TARGET_DIR:-target}/release/tutti}
[ -x "$tutti" ] || { echo "fx_peers: no tutti binary at $tutti (cargo build --release -p tutti)" >&2; exit 1; }
for t in rubberband soundstretch sox python3; do
  command -v "$t" >/dev/null || { echo "fx_peers: '$t' missing: run scripts/setup.sh" >&2; exit 1; }
done
python3 -c 'import pesq, numpy' 2>/dev/null || { echo "fx_peers: Python package pesq missing: pip install pesq" >&2; exit 1; }
snd=/usr/share/asterisk/sounds/en
files=()
for p in agent-loggedoff agent-incorrect conf-onlyperson vm-intro auth-thankyou queue-thankyou privacy-incorrect; do
  [ -f "$snd/$p.wav" ] || { echo "fx_peers: $snd/$p.wav missing: install asterisk-core-sounds-en-wav" >&2; exit 1; }
  files+=("$snd/$p.wav")
done
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
sox -D "${files[@]}" -b 16 "$dir/in.wav" rate -v 48000
frames=$(soxi -s "$dir/in.wav")
blocks=$(( frames / 480 ))

cpu() { # output file for the seconds, command...
  local out=$1; shift
  /usr/bin/time -o "$dir/t" -f "%U %S" "$@" >"$dir/stdout" 2>/dev/null
  tail -1 "$dir/t" | awk '{ print $1 + $2 }' >"$out"
}
pesq_wb() { # reference, degraded (both 48 kHz) -> PESQ-WB at 16 kHz
  sox -D "$1" -b 16 "$dir/r16.wav" rate -v 16000
  sox -D "$2" -b 16 "$dir/d16.wav" rate -v 16000
  python3 - "$dir/r16.wav" "$dir/d16.wav" <<'PY'
import sys, wave, numpy as np
from pesq import pesq
def rd(p):
    w = wave.open(p)
    return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
r, d = rd(sys.argv[1]), rd(sys.argv[2]); n = min(len(r), len(d))
print(f"{pesq(16000, r[:n], d[:n], 'wb'):.2f}")
PY
}
report() { # label, seconds up, seconds down, latency text
  local q; q=$(pesq_wb "$dir/in.wav" "$dir/rt.wav")
  awk -v l="$1" -v a="$2" -v b="$3" -v n="$blocks" -v q="$q" -v lat="$4" 'BEGIN {
    us = (a + b) / 2 * 1e6 / n;
    printf "%-22s PESQ-WB %5s   CPU %7.1f µs/10 ms block = %5.2f %% of a core   latency %s\n", l, q, us, us / 100, lat }'
}

# Ours: tutti process, the node's latency removed from the output (trimmed at the start), in both modes
# (music: phase vocoder; speech: time-domain WSOLA grains). The CPU figure includes tutti's start-up and
# WAV I/O; the `gain` row measures that overhead alone.
ours() { # semitones, mode, in, out -> prints latency in frames
  "$tutti" process --chain "pitch_shift(semitones=$1;mode=$2)" --in "$3" --out "$dir/raw.wav" --json >"$dir/j"
  local lat; lat=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["latency_samples"])' "$dir/j")
  sox "$dir/raw.wav" "$4" trim "${lat}s"
  echo "$lat"
}
for mode in music speech; do
  cpu "$dir/a" "$tutti" process --chain "pitch_shift(semitones=3;mode=$mode)" --in "$dir/in.wav" --out "$dir/x.wav"
  lat=$(ours 3 $mode "$dir/in.wav" "$dir/up.wav")
  cpu "$dir/b" "$tutti" process --chain "pitch_shift(semitones=-3;mode=$mode)" --in "$dir/up.wav" --out "$dir/x.wav"
  ours -3 $mode "$dir/up.wav" "$dir/rt.wav" >/dev/null
  report "tutti pitch_shift $mode" "$(cat "$dir/a")" "$(cat "$dir/b")" "$(awk -v l="$lat" 'BEGIN { printf "%.1f ms", l / 48 }')"
done
cpu "$dir/a" "$tutti" process --chain "gain(db=0)" --in "$dir/in.wav" --out "$dir/x.wav"
awk -v a="$(cat "$dir/a")" -v n="$blocks" 'BEGIN { us = a * 1e6 / n;
  printf "%-22s CPU %7.1f µs/10 ms block = %5.2f %% of a core (start-up and WAV I/O)\n", "tutti gain (overhead)", us, us / 100 }'

for eng in 2 3; do
  cpu "$dir/a" rubberband -q -$eng -p 3 "$dir/in.wav" "$dir/up.wav"
  cpu "$dir/b" rubberband -q -$eng -p -3 "$dir/up.wav" "$dir/rt.wav"
  report "rubberband R$eng" "$(cat "$dir/a")" "$(cat "$dir/b")" "offline"
done
cpu "$dir/a" soundstretch "$dir/in.wav" "$dir/up.wav" -pitch=3
cpu "$dir/b" soundstretch "$dir/up.wav" "$dir/rt.wav" -pitch=-3
report "soundstretch" "$(cat "$dir/a")" "$(cat "$dir/b")" "offline"
cpu "$dir/a" sox "$dir/in.wav" "$dir/up.wav" pitch 300
cpu "$dir/b" sox "$dir/up.wav" "$dir/rt.wav" pitch -300
report "sox pitch" "$(cat "$dir/a")" "$(cat "$dir/b")" "offline"
