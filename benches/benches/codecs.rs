//! Codec cost: ns per sample of each encoder/decoder/concealment, with spandsp's G.711/G.722 and
//! direct libopus calls measured in the same run (`--features codec-peers`).
//!
//! Run: `cargo bench -p tutti-benches --bench codecs --features codec-peers -- --quick`
//! Each benchmark processes one 20 ms frame; criterion's throughput is in samples. With the peers, lines
//! `A/B …` also give interleaved minimum-time comparisons (robust to load from other processes) and the
//! speed ratio, the figures the README quotes.
#![allow(unsafe_code)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tutti_codecs::{
    Decoder, Encoder, G711Decoder, G711Encoder, G711Law, G722Decoder, G722Encoder, G722Mode, OpusDecoder,
    OpusEncoder, OpusEncoderConfig,
};

/// Speech-like test signal: a few harmonics with vibrato plus seeded noise.
fn signal(n: usize, rate: f32) -> Vec<i16> {
    let mut seed = 0x1234_5678u32;
    (0..n)
        .map(|i| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let t = i as f32 / rate;
            let f0 = 140.0 + 20.0 * (t * 3.0).sin();
            let v: f32 = (1..6)
                .map(|h| (std::f32::consts::TAU * f0 * h as f32 * t).sin() / h as f32)
                .sum();
            (v * 6000.0 + ((seed >> 16) as f32 - 32768.0) * 0.02) as i16
        })
        .collect()
}

/// Interleaved A/B timing for the peer comparisons: `rounds` times, `calls` calls of `a` then `calls` of `b`;
/// returns the smallest per-call time of each in ns. Alternating in short slices gives both sides the same
/// machine load, and the minimum discards slices hit by preemption (other builds on a shared VM), so the
/// ratio stays meaningful where criterion's sequential means drift with the load.
#[cfg(feature = "codec-peers")]
fn ab_min(mut a: impl FnMut(), mut b: impl FnMut(), calls: usize, rounds: usize) -> (f64, f64) {
    use std::time::Instant;
    let mut best = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..calls {
            a();
        }
        best.0 = best.0.min(t.elapsed().as_nanos() as f64 / calls as f64);
        let t = Instant::now();
        for _ in 0..calls {
            b();
        }
        best.1 = best.1.min(t.elapsed().as_nanos() as f64 / calls as f64);
    }
    best
}

/// Prints one interleaved comparison line (per-sample times and the speed ratio).
#[cfg(feature = "codec-peers")]
fn report_ab(what: &str, peer: &str, samples: usize, (ours, theirs): (f64, f64)) {
    println!(
        "A/B {what}: tutti {:.3} ns/sample, {peer} {:.3} ns/sample, tutti is {:.2}x faster ({:+.1} % time)",
        ours / samples as f64,
        theirs / samples as f64,
        theirs / ours,
        (ours / theirs - 1.0) * 100.0
    );
}

#[cfg(feature = "codec-peers")]
mod peers {
    //! Minimal FFI to spandsp 0.0.6 and libopus for the comparison.
    use std::ffi::{c_int, c_void};

    #[link(name = "spandsp")]
    extern "C" {
        pub fn g711_init(s: *mut c_void, mode: c_int) -> *mut c_void;
        pub fn g711_encode(s: *mut c_void, out: *mut u8, amp: *const i16, len: c_int) -> c_int;
        pub fn g711_decode(s: *mut c_void, amp: *mut i16, data: *const u8, len: c_int) -> c_int;
        pub fn g711_free(s: *mut c_void) -> c_int;
        pub fn g722_encode_init(s: *mut c_void, rate: c_int, options: c_int) -> *mut c_void;
        pub fn g722_encode(s: *mut c_void, out: *mut u8, amp: *const i16, len: c_int) -> c_int;
        pub fn g722_encode_free(s: *mut c_void) -> c_int;
        pub fn g722_decode_init(s: *mut c_void, rate: c_int, options: c_int) -> *mut c_void;
        pub fn g722_decode(s: *mut c_void, amp: *mut i16, data: *const u8, len: c_int) -> c_int;
        pub fn g722_decode_free(s: *mut c_void) -> c_int;
    }

    #[link(name = "opus")]
    extern "C" {
        pub fn opus_encoder_create(fs: i32, ch: c_int, app: c_int, err: *mut c_int) -> *mut c_void;
        pub fn opus_encoder_ctl(st: *mut c_void, req: c_int, ...) -> c_int;
        pub fn opus_encode(st: *mut c_void, pcm: *const i16, frame: c_int, out: *mut u8, max: i32) -> i32;
        pub fn opus_encoder_destroy(st: *mut c_void);
        pub fn opus_decoder_create(fs: i32, ch: c_int, err: *mut c_int) -> *mut c_void;
        pub fn opus_decode(
            st: *mut c_void,
            d: *const u8,
            len: i32,
            pcm: *mut i16,
            frame: c_int,
            fec: c_int,
        ) -> c_int;
        pub fn opus_decoder_destroy(st: *mut c_void);
    }
}

fn g711(c: &mut Criterion) {
    let pcm = signal(160, 8000.0);
    let mut g = c.benchmark_group("g711");
    g.throughput(Throughput::Elements(160));
    for (law, name) in [(G711Law::MuLaw, "ulaw"), (G711Law::ALaw, "alaw")] {
        let mut enc = G711Encoder::new(law);
        let mut codes = [0u8; 160];
        g.bench_function(BenchmarkId::new("tutti_encode", name), |b| {
            b.iter(|| {
                enc.encode(black_box(&pcm), black_box(&mut codes))
                    .expect("160 fits")
            })
        });
        let mut dec = G711Decoder::without_plc(law);
        let mut out = [0i16; 160];
        g.bench_function(BenchmarkId::new("tutti_decode", name), |b| {
            b.iter(|| {
                dec.decode(black_box(&codes), black_box(&mut out))
                    .expect("160 fits")
            })
        });
        let mut dec_plc = G711Decoder::new(law);
        g.bench_function(BenchmarkId::new("tutti_decode_with_plc_history", name), |b| {
            b.iter(|| {
                dec_plc
                    .decode(black_box(&codes), black_box(&mut out))
                    .expect("160 fits")
            })
        });
        g.bench_function(BenchmarkId::new("tutti_conceal_appendix_i", name), |b| {
            b.iter(|| {
                // One loss of 20 ms after 20 ms of speech (pitch search included).
                dec_plc.decode(black_box(&codes), &mut out).expect("160 fits");
                dec_plc.conceal(black_box(&mut out)).expect("conceal")
            })
        });
        #[cfg(feature = "codec-peers")]
        {
            let mode = if law == G711Law::ALaw { 0 } else { 1 };
            // SAFETY: spandsp allocates its own state (NULL argument); buffers hold 160 elements.
            let s = unsafe { peers::g711_init(std::ptr::null_mut(), mode) };
            assert!(!s.is_null());
            g.bench_function(BenchmarkId::new("spandsp_encode", name), |b| {
                // SAFETY: `s` is live; `codes` and `pcm` hold 160 elements.
                b.iter(|| unsafe { peers::g711_encode(s, codes.as_mut_ptr(), black_box(pcm.as_ptr()), 160) })
            });
            g.bench_function(BenchmarkId::new("spandsp_decode", name), |b| {
                // SAFETY: as above.
                b.iter(|| unsafe { peers::g711_decode(s, out.as_mut_ptr(), black_box(codes.as_ptr()), 160) })
            });
            let (mut codes_p, mut out_p) = (codes, out);
            let ab = ab_min(
                || {
                    enc.encode(black_box(&pcm), black_box(&mut codes))
                        .expect("160 fits");
                },
                // SAFETY: as above.
                || unsafe {
                    peers::g711_encode(s, codes_p.as_mut_ptr(), black_box(pcm.as_ptr()), 160);
                },
                200,
                300,
            );
            report_ab(&format!("g711 {name} encode"), "spandsp", 160, ab);
            let ab = ab_min(
                || {
                    dec.decode(black_box(&codes), black_box(&mut out))
                        .expect("160 fits");
                },
                // SAFETY: as above.
                || unsafe {
                    peers::g711_decode(s, out_p.as_mut_ptr(), black_box(codes.as_ptr()), 160);
                },
                200,
                300,
            );
            report_ab(&format!("g711 {name} decode"), "spandsp", 160, ab);
            // SAFETY: allocated by g711_init above, freed once.
            unsafe { peers::g711_free(s) };
        }
    }
    g.finish();
}

/// G.722 A/B slices: short (10 frames, ≈ 0.1–0.5 ms) and many, so that under heavy machine load some
/// slices of each side still run unpreempted and the minimum is the undisturbed time.
#[cfg(feature = "codec-peers")]
const G722_AB_CALLS: usize = 10;
#[cfg(feature = "codec-peers")]
const G722_AB_ROUNDS: usize = 1500;

fn g722(c: &mut Criterion) {
    let pcm = signal(320, 16000.0);
    let mut g = c.benchmark_group("g722");
    g.throughput(Throughput::Elements(320));
    let mut enc = G722Encoder::new(G722Mode::Kbps64);
    let mut codes = [0u8; 160];
    g.bench_function("tutti_encode", |b| {
        b.iter(|| enc.encode(black_box(&pcm), black_box(&mut codes)).expect("fits"))
    });
    let mut dec = G722Decoder::new(G722Mode::Kbps64);
    let mut out = [0i16; 320];
    g.bench_function("tutti_decode", |b| {
        b.iter(|| dec.decode(black_box(&codes), black_box(&mut out)).expect("fits"))
    });
    g.bench_function("tutti_conceal", |b| {
        b.iter(|| dec.conceal(black_box(&mut out)).expect("conceal"))
    });
    #[cfg(feature = "codec-peers")]
    {
        // SAFETY: spandsp allocates its own states; rate 64000, no options (unpacked octets).
        let (e, d) = unsafe {
            (
                peers::g722_encode_init(std::ptr::null_mut(), 64000, 0),
                peers::g722_decode_init(std::ptr::null_mut(), 64000, 0),
            )
        };
        assert!(!e.is_null() && !d.is_null());
        let mut theirs = [0u8; 160];
        // SAFETY: `e` live; 320 samples in, 160 octets out.
        unsafe { peers::g722_encode(e, theirs.as_mut_ptr(), pcm.as_ptr(), 320) };
        let mut ours_fresh = G722Encoder::new(G722Mode::Kbps64);
        let mut ours = [0u8; 160];
        ours_fresh.encode(&pcm, &mut ours).expect("fits");
        assert_eq!(ours, theirs, "bit-exact with spandsp on the bench signal");
        // And over 200 frames with the state carried across calls, encode and decode (the variant this
        // CPU dispatches to, e.g. the AVX2 kernels).
        {
            let long = signal(320 * 200, 16000.0);
            // SAFETY: spandsp allocates its own states; freed below.
            let (e2, d2) = unsafe {
                (
                    peers::g722_encode_init(std::ptr::null_mut(), 64000, 0),
                    peers::g722_decode_init(std::ptr::null_mut(), 64000, 0),
                )
            };
            assert!(!e2.is_null() && !d2.is_null());
            let mut oe = G722Encoder::new(G722Mode::Kbps64);
            let mut od = G722Decoder::new(G722Mode::Kbps64);
            for (k, f) in long.chunks(320).enumerate() {
                let (mut a, mut b) = ([0u8; 160], [0u8; 160]);
                oe.encode(f, &mut a).expect("fits");
                // SAFETY: `e2` live; 320 samples in, 160 octets out.
                unsafe { peers::g722_encode(e2, b.as_mut_ptr(), f.as_ptr(), 320) };
                assert_eq!(a, b, "encode differs from spandsp in frame {k}");
                let (mut x, mut y) = ([0i16; 320], [0i16; 320]);
                od.decode(&a, &mut x).expect("fits");
                // SAFETY: `d2` live; 160 octets in, 320 samples out.
                unsafe { peers::g722_decode(d2, y.as_mut_ptr(), a.as_ptr(), 160) };
                assert_eq!(x, y, "decode differs from spandsp in frame {k}");
            }
            // SAFETY: allocated above, freed once.
            unsafe {
                peers::g722_encode_free(e2);
                peers::g722_decode_free(d2);
            }
        }
        g.bench_function("spandsp_encode", |b| {
            // SAFETY: as above.
            b.iter(|| unsafe { peers::g722_encode(e, codes.as_mut_ptr(), black_box(pcm.as_ptr()), 320) })
        });
        g.bench_function("spandsp_decode", |b| {
            // SAFETY: `d` live; 160 octets in, 320 samples out.
            b.iter(|| unsafe { peers::g722_decode(d, out.as_mut_ptr(), black_box(codes.as_ptr()), 160) })
        });
        let (mut codes_p, mut out_p) = (codes, out);
        let ab = ab_min(
            || {
                enc.encode(black_box(&pcm), black_box(&mut codes)).expect("fits");
            },
            // SAFETY: as above.
            || unsafe {
                peers::g722_encode(e, codes_p.as_mut_ptr(), black_box(pcm.as_ptr()), 320);
            },
            G722_AB_CALLS,
            G722_AB_ROUNDS,
        );
        report_ab("g722 encode (64 kbit/s)", "spandsp", 320, ab);
        let ab = ab_min(
            || {
                dec.decode(black_box(&codes), black_box(&mut out)).expect("fits");
            },
            // SAFETY: as above.
            || unsafe {
                peers::g722_decode(d, out_p.as_mut_ptr(), black_box(codes.as_ptr()), 160);
            },
            G722_AB_CALLS,
            G722_AB_ROUNDS,
        );
        report_ab("g722 decode (64 kbit/s)", "spandsp", 320, ab);
        // SAFETY: allocated above, freed once.
        unsafe {
            peers::g722_encode_free(e);
            peers::g722_decode_free(d);
        }
    }
    g.finish();
}

fn opus(c: &mut Criterion) {
    let pcm = signal(320, 16000.0);
    let mut g = c.benchmark_group("opus_16k_mono_32kbps");
    g.throughput(Throughput::Elements(320));
    let cfg = OpusEncoderConfig::voip(16000, 1).with_bitrate(32000);
    let mut enc = OpusEncoder::new(cfg).expect("valid config");
    let mut pkt = [0u8; 1500];
    g.bench_function("tutti_encode", |b| {
        b.iter(|| enc.encode(black_box(&pcm), black_box(&mut pkt)).expect("encode"))
    });
    let n = enc.encode(&pcm, &mut pkt).expect("encode");
    let mut dec = OpusDecoder::new(16000, 1).expect("valid config");
    let mut out = [0i16; 320];
    g.bench_function("tutti_decode", |b| {
        b.iter(|| {
            dec.decode(black_box(&pkt[..n]), black_box(&mut out))
                .expect("decode")
        })
    });
    g.bench_function("tutti_conceal", |b| {
        b.iter(|| dec.conceal(black_box(&mut out)).expect("conceal"))
    });
    #[cfg(feature = "codec-peers")]
    {
        let mut err = 0;
        // SAFETY: valid arguments; libopus allocates the states.
        let (e, d) = unsafe {
            (
                peers::opus_encoder_create(16000, 1, 2048, &mut err),
                peers::opus_decoder_create(16000, 1, &mut err),
            )
        };
        assert!(!e.is_null() && !d.is_null() && err == 0);
        // SAFETY: the same settings the wrapper applies (bitrate, complexity, VBR, FEC/DTX off,
        // signal auto), each ctl taking one opus_int32.
        unsafe {
            for (req, v) in [
                (4002, 32000),
                (4010, 10),
                (4012, 0),
                (4014, 0),
                (4016, 0),
                (4006, 1),
                (4024, -1000),
            ] {
                peers::opus_encoder_ctl(e, req, v);
            }
        }
        g.bench_function("libopus_encode", |b| {
            // SAFETY: `e` live; 320 samples in, up to 1500 bytes out.
            b.iter(|| unsafe { peers::opus_encode(e, black_box(pcm.as_ptr()), 320, pkt.as_mut_ptr(), 1500) })
        });
        g.bench_function("libopus_decode", |b| {
            // SAFETY: `d` live; `n` bytes in, 320 samples out.
            b.iter(|| unsafe {
                peers::opus_decode(d, black_box(pkt.as_ptr()), n as i32, out.as_mut_ptr(), 320, 0)
            })
        });
        let (mut pkt_p, mut out_p) = (pkt, out);
        let ab = ab_min(
            || {
                enc.encode(black_box(&pcm), black_box(&mut pkt)).expect("encode");
            },
            // SAFETY: as above.
            || unsafe {
                peers::opus_encode(e, black_box(pcm.as_ptr()), 320, pkt_p.as_mut_ptr(), 1500);
            },
            2,
            600,
        );
        report_ab("opus encode (16 kHz mono, 32 kbit/s)", "libopus", 320, ab);
        // Re-create the packet (the A/B loop overwrote `pkt`) for the decode comparison.
        let n = enc.encode(&pcm, &mut pkt).expect("encode");
        let ab = ab_min(
            || {
                dec.decode(black_box(&pkt[..n]), black_box(&mut out))
                    .expect("decode");
            },
            // SAFETY: as above.
            || unsafe {
                peers::opus_decode(d, black_box(pkt.as_ptr()), n as i32, out_p.as_mut_ptr(), 320, 0);
            },
            20,
            300,
        );
        report_ab("opus decode (16 kHz mono, 32 kbit/s)", "libopus", 320, ab);
        g.bench_function("libopus_conceal", |b| {
            // SAFETY: NULL data = PLC for 320 samples.
            b.iter(|| unsafe {
                peers::opus_decode(d, std::ptr::null(), 0, black_box(out.as_mut_ptr()), 320, 0)
            })
        });
        // SAFETY: created above, destroyed once.
        unsafe {
            peers::opus_encoder_destroy(e);
            peers::opus_decoder_destroy(d);
        }
    }
    g.finish();
}

criterion_group!(benches, g711, g722, opus);
criterion_main!(benches);
