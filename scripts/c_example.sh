#!/usr/bin/env bash
# Embedding from C, end to end: builds libtutti (release), compiles examples/c/media_server.c with `cc`
# against tutti/include/tutti.h and libtutti.so (and once more against libtutti.a), generates a far-end signal and a microphone signal that
# holds its echo (sox: 45 ms delay, band-limiting and a reflection) plus a near-end talker, runs the
# example under valgrind (any memory error or leak fails), and checks the result with sox: the output has
# the input's length, the echo is reduced by at least 20 dB, and the near-end talker is kept.
# Needs cc, sox and valgrind (scripts/setup.sh installs them). Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in cc sox soxi valgrind cargo; do
  command -v "$tool" >/dev/null || { echo "c_example: '$tool' not found (run scripts/setup.sh)" >&2; exit 1; }
done
target="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -p tutti --lib
lib="$target/release"
[ -f "$lib/libtutti.so" ] || { echo "c_example: $lib/libtutti.so was not built" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cc -std=c11 -Wall -Wextra -Werror -O2 -g -Itutti/include -Iexamples/c examples/c/media_server.c \
  -L"$lib" -ltutti -Wl,-rpath,"$lib" -o "$work/media_server"
# The same program linked statically with libtutti.a (plus the system libraries Tutti uses).
cc -std=c11 -Wall -Wextra -Werror -O2 -Itutti/include -Iexamples/c examples/c/media_server.c \
  "$lib/libtutti.a" -lmysofa -lopus -lasound -lm -lpthread -ldl -lgcc_s -o "$work/media_server_static"

# 8 s at 16 kHz: far-end = amplitude-modulated pink noise; echo = far-end through a loudspeaker-room
# path; near-end talker = a gliding, modulated tone from 5 s to 7 s; microphone = echo + near-end.
rate=16000
sox -R -n -r $rate -c 1 -b 16 "$work/far.wav" synth 8 pinknoise tremolo 3 70 gain -12
sox -R "$work/far.wav" "$work/echo.wav" highpass 150 lowpass 3400 echo 0.8 0.7 12 0.4 delay 0.045 gain -4 trim 0 8
sox -R -n -r $rate -c 1 -b 16 "$work/talk.wav" synth 2 sine 250-1800 tremolo 4 60 gain -14 pad 5 1
sox -R -m -v 1 "$work/echo.wav" -v 1 "$work/talk.wav" -b 16 "$work/near.wav"

valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
  --quiet "$work/media_server" echo "$work/near.wav" "$work/far.wav" "$work/out.wav" "hpf,aec,ns,agc"

"$work/media_server_static" echo "$work/near.wav" "$work/far.wav" "$work/out_static.wav" >/dev/null
cmp "$work/out.wav" "$work/out_static.wav" || { echo "c_example: static and shared builds differ" >&2; exit 1; }

rms_db() { # FILE START DURATION -> RMS level in dBFS
  sox "$1" -n trim "$2" "$3" stats 2>&1 | awk '/^RMS lev dB/ {print $4}'
}
[ -f "$work/out.wav" ] || { echo "c_example: no output WAV" >&2; exit 1; }
n_in=$(soxi -s "$work/near.wav"); n_out=$(soxi -s "$work/out.wav")
[ "$n_in" = "$n_out" ] || { echo "c_example: output has $n_out samples, input $n_in" >&2; exit 1; }
mic_echo=$(rms_db "$work/near.wav" 2 3); out_echo=$(rms_db "$work/out.wav" 2 3)
mic_talk=$(rms_db "$work/near.wav" 5.5 1.5); out_talk=$(rms_db "$work/out.wav" 5.5 1.5)
echo "c_example: echo only (2-5 s): mic $mic_echo dBFS -> out $out_echo dBFS;" \
     "near-end talk (5.5-7 s): mic $mic_talk dBFS -> out $out_talk dBFS"
awk -v me="$mic_echo" -v oe="$out_echo" -v mt="$mic_talk" -v ot="$out_talk" 'BEGIN {
  if (oe == "-inf") oe = -200
  if (me - oe < 20) { print "c_example: echo reduced by only " me - oe " dB (need 20)" > "/dev/stderr"; exit 1 }
  if (ot < mt - 10) { print "c_example: near-end talker lost (" mt " -> " ot " dBFS)" > "/dev/stderr"; exit 1 }
  if (ot - oe < 20) { print "c_example: talker only " ot - oe " dB above the residual echo" > "/dev/stderr"; exit 1 }
}'

# Three-leg conference.
sox -R -n -r 8000 -c 1 -b 16 "$work/a.wav" synth 3 sine 440 tremolo 2 40 gain -10 pad 0 3
sox -R -n -r 8000 -c 1 -b 16 "$work/b.wav" synth 3 sine 1000 tremolo 2.5 40 gain -10 pad 3 0
sox -R -n -r 8000 -c 1 -b 16 "$work/c.wav" synth 6 sine 1700 tremolo 3 40 gain -12
valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
  --quiet "$work/media_server" conference "$work" "$work/a.wav" "$work/b.wav" "$work/c.wav"
band_db() { # FILE START DURATION LOW HIGH -> RMS level in dBFS of the band LOW-HIGH Hz
  sox "$1" -n trim "$2" "$3" sinc "$4-$5" stats 2>&1 | awk '/^RMS lev dB/ {print $4}'
}
check_band() { # WHO START FREQ-BAND-LOW HIGH hears|not
  local lvl
  lvl=$(band_db "$work/heard_$1.wav" "$2" 2 "$3" "$4")
  echo "c_example: leg $1, $2-$(($2 + 2)) s, $3-$4 Hz: $lvl dBFS (expect $5)"
  awk -v l="$lvl" -v want="$5" 'BEGIN { if (l == "-inf") l = -200
    if (want == "hears" && l < -25) exit 1
    if (want == "not" && l > -45) exit 1 }' || { echo "c_example: conference check failed" >&2; exit 1; }
}
for who in a b c; do
  n=$(soxi -s "$work/heard_$who.wav")
  [ "$n" -ge 40000 ] || { echo "c_example: leg $who heard only $n samples" >&2; exit 1; }
done
check_band a 1 400 480 not;     check_band a 1 1600 1800 hears; check_band a 4 950 1050 hears
check_band b 1 400 480 hears;   check_band b 1 1600 1800 hears; check_band b 4 950 1050 not
check_band c 1 400 480 hears;   check_band c 4 950 1050 hears;  check_band c 1 1600 1800 not
echo "c_example: OK"
