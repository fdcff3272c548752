#!/usr/bin/env bash
# The demo command of README.md: generates a noisy call with loudspeaker echo (espeak-ng speech + sox),
# then cleans it with Tutti's voice chain: hpf -> aec -> ns -> agc. Output: out/demo-clean.wav.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release -q -p tutti
TUTTI="${CARGO_TARGET_DIR:-target}/release/tutti"
mkdir -p out testdata/demo
D=testdata/demo
if [ ! -f "$D/mic.wav" ]; then
  # Near-end talker and far-end talker (different voices), 16 kHz mono.
  espeak-ng -v en-us -s 150 -w "$D/near22.wav" \
    "Hello, this is the near end talking. Tutti removes the echo of the far end and the background noise."
  espeak-ng -v en-gb+f3 -s 140 -w "$D/far22.wav" \
    "And this is the far end. You should not hear me in the cleaned recording, only the near end talker."
  sox "$D/near22.wav" -r 16000 -b 16 "$D/near.wav" pad 3.0 0 gain -n -20
  sox "$D/far22.wav" -r 16000 -b 16 "$D/far.wav" pad 0 3.0 gain -n -12
  # Loudspeaker-to-microphone echo: 30 ms delay, a small room's reverberation, 6 dB of coupling loss.
  sox "$D/far.wav" "$D/echo.wav" pad 0.03 0 reverb 40 50 30 gain -6 trim 0 "$(soxi -D "$D/far.wav")"
  # Microphone = near-end speech + echo + hum at 50 Hz + broadband noise.
  len=$(soxi -D "$D/near.wav")
  sox -n -r 16000 -b 16 "$D/noise.wav" synth "$len" pinknoise vol 0.01 synth "$len" sine mix 50 vol 0.05
  sox -m -v 1 "$D/near.wav" -v 1 "$D/echo.wav" -v 1 "$D/noise.wav" "$D/mic.wav" trim 0 "$len"
  sox "$D/far.wav" "$D/far-trim.wav" trim 0 "$len" && mv "$D/far-trim.wav" "$D/far.wav"
  rm -f "$D/near22.wav" "$D/far22.wav"
fi
$TUTTI process --chain "hpf(hz=100),aec(tail_ms=250),ns(level=high),agc(target_dbfs=-18)" \
  --in "$D/mic.wav" --far "$D/far.wav" --out out/demo-clean.wav --json
echo "demo: wrote out/demo-clean.wav (input: $D/mic.wav, far end: $D/far.wav)" >&2
