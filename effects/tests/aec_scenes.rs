//! Behaviour of the `aec` node on seeded echo scenes built from real speech (Debian's Asterisk prompts),
//! compared with SpeexDSP's echo canceller (libspeexdsp, through FFI) on the same scenes.
//!
//! Every test prints its figures (`cargo test --release -p tutti-effects --test aec_scenes -- --nocapture`).
//! ERLE here is the echo energy over the output energy in far-end single talk (output latency removed),
//! measured on the whole processing chain unless a test says "linear" (suppression off, no comfort noise).

mod aec_support;

use aec_support::*;
use tutti_effects::voice::scene::{
    generate, NoiseConfig, NoiseKind, Nonlinearity, PathChange, Room, SceneConfig,
};

const RATE: u32 = 16000;
/// Speex gets a filter long enough for the bulk delay plus the room tail (it has no delay estimator).
fn speex_tail(delay_ms: f64) -> usize {
    ((delay_ms + 250.0) * f64::from(RATE) / 1000.0) as usize
}

fn linear() -> AecOpts {
    AecOpts {
        suppression: "off",
        cng: false,
        ..AecOpts::default()
    }
}

#[test]
fn far_end_single_talk_converges_fast_and_deep() {
    let far = speech(RATE, 0, 20.0);
    let cfg = SceneConfig::linear(RATE, 11, 0.3, 60.0);
    let s = generate(&cfg, &far, &[]);
    let lin = run_aec(&s, RATE, &linear());
    let full = run_aec(&s, RATE, &AecOpts::default());
    let sp = Speex::run(RATE, speex_tail(60.0), false, &s.mic, &s.far);
    let spp = Speex::run(RATE, speex_tail(60.0), true, &s.mic, &s.far);
    let e_lin = erle_db(&s.echo, &lin.out, RATE, 10.0, 20.0);
    let e_full = erle_db(&s.echo, &full.out, RATE, 10.0, 20.0);
    let e_sp = erle_db(&s.echo, &sp, RATE, 10.0, 20.0);
    let e_spp = erle_db(&s.echo, &spp, RATE, 10.0, 20.0);
    let t_lin = time_to_erle(&erle_track(&s.echo, &lin.out, RATE, 0.1), 0.0, 20.0, 5);
    let t_full = time_to_erle(&erle_track(&s.echo, &full.out, RATE, 0.1), 0.0, 20.0, 5);
    let t_sp = time_to_erle(&erle_track(&s.echo, &spp, RATE, 0.1), 0.0, 20.0, 5);
    // The first 3 s: the linear filter is still converging (the canceller's initial state).
    let e_start = erle_db(&s.echo, &full.out, RATE, 0.0, 3.0);
    let e_start_lin = erle_db(&s.echo, &lin.out, RATE, 0.0, 3.0);
    println!("far single talk, RT60 0.3 s, delay 60 ms, ERL 6 dB (ERLE over 10-20 s):");
    println!("  first 3 s: tutti full {e_start:.1} dB, linear {e_start_lin:.1} dB");
    println!("  tutti linear {e_lin:.1} dB (20 dB after {t_lin:?} s), full {e_full:.1} dB (20 dB after {t_full:?} s)");
    println!("  speex linear {e_sp:.1} dB, speex+preprocess {e_spp:.1} dB (20 dB after {t_sp:?} s)");
    println!(
        "  difference tutti − speex: linear {:+.1} dB, full {:+.1} dB",
        e_lin - e_sp,
        e_full - e_spp
    );
    println!("  meters {:?}", full.meters);
    assert!(e_lin >= 25.0, "linear ERLE {e_lin:.1} dB < 25");
    // Measured: full 53.2 dB over 10–20 s; over the first 3 s full 49.0 dB while the linear filter has
    // only 9.0 dB (the initial state).
    assert!(e_full >= 48.0, "full-chain ERLE {e_full:.1} dB < 48");
    assert!(
        e_start >= e_start_lin + 20.0,
        "ERLE over the first 3 s {e_start:.1} dB, only {:.1} dB above the linear filter's",
        e_start - e_start_lin
    );
    assert!(
        t_full.is_some_and(|t| t <= 0.5),
        "time to 20 dB {t_full:?} > 0.5 s"
    );
    let m_delay = full.meter("delay_ms");
    assert!((m_delay - 61.5).abs() <= 2.0, "delay meter {m_delay}");
    assert!(
        full.meter("erle_db") > 20.0,
        "erle meter {}",
        full.meter("erle_db")
    );
    assert!(
        (full.meter("erl_db") - 6.0).abs() < 3.0,
        "erl meter {}",
        full.meter("erl_db")
    );
}

#[test]
fn delay_of_300_ms_is_estimated_and_cancelled() {
    let far = speech(RATE, 4, 15.0);
    for delay in [300.0, 450.0] {
        let cfg = SceneConfig::linear(RATE, 12, 0.3, delay);
        let s = generate(&cfg, &far, &[]);
        let run = run_aec(&s, RATE, &AecOpts::default());
        let lin = run_aec(&s, RATE, &linear());
        // Direct path 0.5025 m / 343 m/s = 1.47 ms after the bulk delay.
        let want = delay + 1.47;
        let got = run.meter("delay_ms");
        let e_full = erle_db(&s.echo, &run.out, RATE, 7.0, 15.0);
        let e_lin = erle_db(&s.echo, &lin.out, RATE, 7.0, 15.0);
        let sp = Speex::run(RATE, speex_tail(delay), true, &s.mic, &s.far);
        let e_sp = erle_db(&s.echo, &sp, RATE, 7.0, 15.0);
        println!("delay {delay} ms: estimated {got:.2} ms; ERLE linear {e_lin:.1} full {e_full:.1}, speex+pp {e_sp:.1}");
        assert!(
            (got - want).abs() <= 2.0,
            "delay estimate {got:.2} ms vs {want:.2}"
        );
        // Measured (shadow NLMS step 0.3, prior decay 100 dB/s): 25.6 dB at 300 ms, 30.3 at 450 ms (a
        // larger shadow step converges faster but costs double-talk quality on the eval scenes).
        assert!(e_lin >= 25.0, "linear ERLE {e_lin:.1} at {delay} ms");
    }
}

#[test]
fn double_talk_keeps_the_near_end_and_suppresses_echo() {
    let far = speech(RATE, 0, 20.0);
    let near_talk = speech(RATE, 1, 7.0);
    let mut near = vec![0.0; (8.0 * RATE as f64) as usize];
    near.extend_from_slice(&near_talk);
    let mut cfg = SceneConfig::linear(RATE, 13, 0.3, 60.0);
    cfg.ser_db = Some(-2.0);
    let s = generate(&cfg, &far, &near);
    let run = run_aec(&s, RATE, &AecOpts::default());
    let sp = Speex::run(RATE, speex_tail(60.0), true, &s.mic, &s.far);
    let lin = run_aec(&s, RATE, &linear());
    // Speex's preprocessor adds one frame of delay: align by the best lag in 0..=2 frames.
    let align = |x: &[f32]| -> Vec<f32> {
        let n = RATE as usize / 100;
        let best = (0..=2 * n)
            .max_by(|&a, &b| {
                let c = |l: usize| correlation(&s.near[..s.near.len() - l], &x[l..], RATE, 8.0, 15.0);
                c(a).partial_cmp(&c(b)).expect("finite")
            })
            .expect("non-empty");
        let mut v = x[best..].to_vec();
        v.resize(x.len(), 0.0);
        v
    };
    let sp = align(&sp);
    let (dt0, dt1) = (8.0, 15.0);
    let snr_in = seg_snr(&s.near, &s.mic, RATE, dt0, dt1);
    // The canceller high-passes its inputs at 40 Hz by design: the near-end it can deliver is the high-passed
    // one, so its output is scored against that (the microphone against the raw near-end).
    let near_hp = highpass_40(&s.near);
    let snr_t = seg_snr(&near_hp, &run.out, RATE, dt0, dt1);
    println!(
        "  segSNR of tutti against the raw near-end: {:.1} dB",
        seg_snr(&s.near, &run.out, RATE, dt0, dt1)
    );
    let snr_l = seg_snr(&s.near, &lin.out, RATE, dt0, dt1);
    let snr_s = seg_snr(&s.near, &sp, RATE, dt0, dt1);
    let c_t = correlation(&s.near, &run.out, RATE, dt0, dt1);
    let c_s = correlation(&s.near, &sp, RATE, dt0, dt1);
    let c_in = correlation(&s.near, &s.mic, RATE, dt0, dt1);
    let erle_after = erle_db(&s.echo, &run.out, RATE, 15.5, 20.0);
    let erle_before = erle_db(&s.echo, &run.out, RATE, 4.0, 8.0);
    let sp_after = erle_db(&s.echo, &sp, RATE, 15.5, 20.0);
    // Echo left in the output during double talk: output minus near-end, over the echo.
    let resid: Vec<f32> = run.out.iter().zip(&s.near).map(|(o, n)| o - n).collect();
    let erle_dt = erle_db(&s.echo, &resid, RATE, dt0, dt1);
    println!("double talk at SER −2 dB (8–15 s):");
    println!("  segSNR of near-end: mic {snr_in:.1} dB, tutti {snr_t:.1} dB (linear only {snr_l:.1}), speex+pp {snr_s:.1} dB");
    println!("  correlation with clean near-end: mic {c_in:.3}, tutti {c_t:.3}, speex+pp {c_s:.3}");
    println!("  ERLE before DT {erle_before:.1} dB, after DT tutti {erle_after:.1} dB / speex {sp_after:.1} dB; (out−near) vs echo during DT {erle_dt:.1} dB");
    println!("  meters {:?}", run.meters);
    // Measured: correlation 0.963 (speex+pp 0.936; 0.932 before the near-end dominance detector),
    // segSNR +15.2 dB over the microphone against the high-passed near-end (+4.4 against the raw one: the
    // high-pass's phase shift; speex +1.0), ERLE after double talk 48.7 dB.
    assert!(c_t >= 0.95, "near-end correlation {c_t:.3} < 0.95");
    assert!(
        c_t > c_s,
        "near-end correlation {c_t:.3} not above speex+pp's {c_s:.3}"
    );
    assert!(
        snr_t >= snr_in + 12.0,
        "segSNR {snr_t:.1} not 12 dB above the microphone's {snr_in:.1}"
    );
    assert!(
        erle_after >= 40.0,
        "ERLE after double talk {erle_after:.1} dB: the filter was disturbed"
    );
    assert_eq!(
        run.meter("divergence_resets"),
        0.0,
        "no divergence on a linear path"
    );
}

#[test]
fn echo_path_change_reconverges() {
    let far = speech(RATE, 6, 20.0);
    let mut cfg = SceneConfig::linear(RATE, 14, 0.3, 60.0);
    cfg.path_change = Some(PathChange {
        at_s: 10.0,
        room: Room::office_moved(0.4),
        delay_ms: 80.0,
    });
    let s = generate(&cfg, &far, &[]);
    let run = run_aec(&s, RATE, &AecOpts::default());
    let lin = run_aec(&s, RATE, &linear());
    let sp = Speex::run(RATE, speex_tail(80.0), true, &s.mic, &s.far);
    let t_full = time_to_erle(&erle_track(&s.echo, &run.out, RATE, 0.1), 10.0, 20.0, 5);
    let t_lin = time_to_erle(&erle_track(&s.echo, &lin.out, RATE, 0.1), 10.0, 15.0, 5);
    let t_sp = time_to_erle(&erle_track(&s.echo, &sp, RATE, 0.1), 10.0, 20.0, 5);
    let e_end = erle_db(&s.echo, &run.out, RATE, 15.0, 20.0);
    let sp_lin = Speex::run(RATE, speex_tail(80.0), false, &s.mic, &s.far);
    let per_s: Vec<String> = (0..20)
        .map(|t| {
            format!(
                "{:.0}/{:.0}",
                erle_db(&s.echo, &lin.out, RATE, t as f64, t as f64 + 1.0),
                erle_db(&s.echo, &sp_lin, RATE, t as f64, t as f64 + 1.0)
            )
        })
        .collect();
    println!("  linear ERLE per second tutti/speex: {}", per_s.join(" "));
    let e_lin_end = erle_db(&s.echo, &lin.out, RATE, 15.0, 20.0);
    let worst = erle_track(&s.echo, &run.out, RATE, 0.1)
        .into_iter()
        .filter(|(t, _)| *t >= 10.0)
        .map(|(_, e)| e)
        .fold(f64::INFINITY, f64::min);
    println!("echo-path change at 10 s (room moved, delay 60 → 80 ms):");
    println!("  tutti: back to 20 dB after {t_full:?} s (linear to 15 dB after {t_lin:?} s), worst 100 ms window {worst:.1} dB");
    println!("  ERLE 15–20 s: tutti full {e_end:.1} dB, linear {e_lin_end:.1} dB; speex+pp to 20 dB after {t_sp:?} s");
    println!("  meters {:?}", run.meters);
    // Measured: 20 dB again after 0.1 s (speex+pp 9.9 s), worst 100 ms window 11.0 dB; 42.4 dB over
    // 15–20 s. This path change (a
    // longer, moved room) is slow for both linear filters (linear 15 dB only after 6 s, see the
    // per-second track): the suppressor's 2 s leak regressions and 500 ms residual hold carry it.
    assert!(
        t_full.is_some_and(|t| t <= 0.5),
        "re-convergence to 20 dB took {t_full:?} s (> 0.5 s)"
    );
    assert!(
        e_end >= 38.0,
        "full-chain ERLE after the change {e_end:.1} dB < 38"
    );
    assert!(
        worst >= 8.0,
        "worst 100 ms window after the change {worst:.1} dB < 8"
    );
    assert!(
        e_lin_end >= 10.0,
        "linear ERLE after the change {e_lin_end:.1} dB < 10"
    );
}

/// A 500 ms filter, whose shadow covers only its first 250 ms (copies between the two lengths cut or
/// zero-extend), converges and re-converges after an echo-path change like the default 250 ms filter.
#[test]
fn long_tail_with_a_shorter_shadow_reconverges() {
    let far = speech(RATE, 6, 20.0);
    let mut cfg = SceneConfig::linear(RATE, 14, 0.6, 60.0);
    cfg.path_change = Some(PathChange {
        at_s: 10.0,
        room: Room::office_moved(0.6),
        delay_ms: 80.0,
    });
    let s = generate(&cfg, &far, &[]);
    let opts = |lin: bool| AecOpts {
        tail_ms: 500.0,
        ..if lin { linear() } else { AecOpts::default() }
    };
    let run = run_aec(&s, RATE, &opts(false));
    let lin = run_aec(&s, RATE, &opts(true));
    let t_first = time_to_erle(&erle_track(&s.echo, &run.out, RATE, 0.1), 0.0, 20.0, 5);
    let t_full = time_to_erle(&erle_track(&s.echo, &run.out, RATE, 0.1), 10.0, 20.0, 5);
    let e_before = erle_db(&s.echo, &run.out, RATE, 5.0, 10.0);
    let e_end = erle_db(&s.echo, &run.out, RATE, 15.0, 20.0);
    let (l_before, l_end) = (
        erle_db(&s.echo, &lin.out, RATE, 5.0, 10.0),
        erle_db(&s.echo, &lin.out, RATE, 15.0, 20.0),
    );
    let copies = run.meter("shadow_copies");
    println!(
        "tail 500 ms, RT60 0.6 s, path change at 10 s: 20 dB after {t_first:?} s and again after {t_full:?} s; \
         ERLE full {e_before:.1} / {e_end:.1} dB, linear {l_before:.1} / {l_end:.1} dB (5–10 s / 15–20 s); \
         shadow copies {copies}"
    );
    // Measured: 20 dB after 0.1 s both times; full 36.8 / 35.7 dB, linear 21.5 / 18.4 dB, 5 copies. With a
    // shadow as long as the main filter (the code before the cut): 34.8 / 37.9 dB, linear 19.0 / 18.5 dB,
    // 5 copies (on `tutti eval` seeds 1–8 with `aec(tail_ms=500)` the cut raised mean ERLE and PESQ-WB).
    assert!(
        t_first.is_some_and(|t| t <= 0.5),
        "first convergence to 20 dB took {t_first:?} s"
    );
    assert!(
        t_full.is_some_and(|t| t <= 0.5),
        "re-convergence to 20 dB took {t_full:?} s"
    );
    assert!(
        e_before >= 33.0 && e_end >= 33.0,
        "full ERLE {e_before:.1} / {e_end:.1} dB < 33"
    );
    assert!(
        l_before >= 15.0 && l_end >= 15.0,
        "linear ERLE {l_before:.1} / {l_end:.1} dB < 15"
    );
    assert!(
        copies >= 1.0,
        "the path change is taken over through the shadow ({copies} copies)"
    );
}

#[test]
fn clock_drift_of_200_ppm_still_converges() {
    let far = speech(RATE, 8, 20.0);
    for ppm in [200.0, -200.0] {
        let mut cfg = SceneConfig::linear(RATE, 15, 0.3, 100.0);
        cfg.drift_ppm = ppm;
        let s = generate(&cfg, &far, &[]);
        let run = run_aec(&s, RATE, &AecOpts::default());
        let lin = run_aec(&s, RATE, &linear());
        let sp = Speex::run(RATE, speex_tail(100.0), true, &s.mic, &s.far);
        let e_full = erle_db(&s.echo, &run.out, RATE, 10.0, 20.0);
        let e_lin = erle_db(&s.echo, &lin.out, RATE, 10.0, 20.0);
        let e_sp = erle_db(&s.echo, &sp, RATE, 10.0, 20.0);
        println!(
            "drift {ppm:+} ppm: ERLE 10–20 s tutti linear {e_lin:.1} full {e_full:.1}, speex+pp {e_sp:.1}"
        );
        // Measured: +200 ppm linear 4.7 dB, full 40.3 dB; −200 ppm linear 3.6, full 43.5; speex+pp 4.1–4.3.
        assert!(e_lin >= 3.0, "linear ERLE with {ppm} ppm drift {e_lin:.1} dB < 3");
        assert!(
            e_full >= 35.0,
            "full ERLE with {ppm} ppm drift {e_full:.1} dB < 35"
        );
        assert!(
            e_full >= e_sp + 25.0,
            "full ERLE with drift only {:.1} dB above speex",
            e_full - e_sp
        );
    }
}

#[test]
fn loudspeaker_nonlinearity_is_suppressed() {
    let far = speech(RATE, 10, 20.0);
    let mut cfg = SceneConfig::linear(RATE, 16, 0.3, 60.0);
    cfg.nonlinearity = Some(Nonlinearity::SoftClip { threshold: 0.25 });
    let s = generate(&cfg, &far, &[]);
    let run = run_aec(&s, RATE, &AecOpts::default());
    let lin = run_aec(&s, RATE, &linear());
    let sp = Speex::run(RATE, speex_tail(60.0), true, &s.mic, &s.far);
    let e_full = erle_db(&s.echo, &run.out, RATE, 10.0, 20.0);
    let e_lin = erle_db(&s.echo, &lin.out, RATE, 10.0, 20.0);
    let e_sp = erle_db(&s.echo, &sp, RATE, 10.0, 20.0);
    println!("soft-clipped loudspeaker (tanh at 0.25 FS): ERLE tutti linear {e_lin:.1} full {e_full:.1}, speex+pp {e_sp:.1}");
    // Measured: linear 20.4 dB, full 34.5 dB; speex+pp 19.9 dB.
    assert!(
        e_full >= 30.0,
        "full ERLE with a non-linear loudspeaker {e_full:.1} dB < 30"
    );
    assert!(
        e_full >= e_lin + 8.0,
        "suppression adds only {:.1} dB",
        e_full - e_lin
    );
}

#[test]
fn comfort_noise_fills_suppressed_segments_at_the_background_level() {
    let far = speech(RATE, 12, 16.0);
    let mut cfg = SceneConfig::linear(RATE, 17, 0.3, 60.0);
    cfg.noise = Some(NoiseConfig {
        kind: NoiseKind::Pink,
        snr_db: 25.0,
    });
    let s = generate(&cfg, &far, &[]);
    let with = run_aec(
        &s,
        RATE,
        &AecOpts {
            cng: true,
            ..AecOpts::default()
        },
    );
    let without = run_aec(
        &s,
        RATE,
        &AecOpts {
            cng: false,
            ..AecOpts::default()
        },
    );
    // 100 ms windows over 6–16 s where the echo is at least 15 dB above the background: there the
    // suppressor's gain is low, so without comfort noise the output falls below the background.
    let w = RATE as usize / 10;
    let e = |x: &[f32]| x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
    // The canceller high-passes its inputs at 40 Hz (a DC notch, as SpeexDSP's), so the background it
    // can restore is the high-passed one: the same 2nd-order Butterworth high-pass on the noise.
    let noise_hp = highpass_40(&s.noise);
    let (mut pn, mut pw, mut pwo, mut count) = (0.0, 0.0, 0.0, 0);
    for i in (6 * RATE as usize / w)..(s.mic.len() / w) {
        let r = i * w..(i + 1) * w;
        if e(&s.echo[r.clone()]) > 31.6 * e(&s.noise[r.clone()]) {
            pn += e(&noise_hp[r.clone()]);
            pw += e(&with.out[r.clone()]);
            pwo += e(&without.out[r]);
            count += 1;
        }
    }
    let db = |a: f64| 10.0 * (a / pn).log10();
    println!(
        "comfort noise over {count} echo-dominated windows: output with CNG {:+.1} dB, without {:+.1} dB re background",
        db(pw),
        db(pwo)
    );
    // Measured: −4.4 dB with comfort noise (minimum-follower bias compensated by +3 dB), −9.8 dB without
    // (before the near-end dominance gate on the microphone level: −3.7 and −7.5 dB; the suppressor now
    // removes more of the residual echo in these windows, the comfort noise itself adds the same).
    assert!(count >= 20, "too few echo-dominated windows ({count})");
    assert!(
        db(pw).abs() <= 5.0,
        "output with CNG {:+.1} dB re background",
        db(pw)
    );
    assert!(
        pw > pwo,
        "comfort noise must add energy where the suppressor removed it"
    );
}

#[test]
fn other_rates_converge() {
    for (rate, first) in [(8000u32, 0usize), (32000, 3), (48000, 5)] {
        let far = speech(rate, first, 12.0);
        let mut cfg = SceneConfig::linear(rate, 18, 0.25, 120.0);
        cfg.room = Room::DecayingNoise {
            rt60_s: 0.25,
            direct_to_reverb_db: 3.0,
        };
        let s = generate(&cfg, &far, &[]);
        let lin = run_aec(&s, rate, &linear());
        let full = run_aec(&s, rate, &AecOpts::default());
        let e_lin = erle_db(&s.echo, &lin.out, rate, 6.0, 12.0);
        let e_full = erle_db(&s.echo, &full.out, rate, 6.0, 12.0);
        let d = full.meter("delay_ms");
        println!("{rate} Hz (decaying-noise room): delay {d:.2} ms, ERLE linear {e_lin:.1} full {e_full:.1}");
        assert!((d - 120.0).abs() <= 2.0, "delay at {rate} Hz: {d}");
        assert!(e_lin >= 20.0, "linear ERLE at {rate} Hz {e_lin:.1}");
        assert!(e_full >= 35.0, "full ERLE at {rate} Hz {e_full:.1}");
    }
}

/// The canceller's input high-pass (2nd-order Butterworth at 40 Hz), in f64, for references.
fn highpass_40(x: &[f32]) -> Vec<f32> {
    let c = tutti_effects::BiquadCoeffs::highpass(40.0, std::f64::consts::FRAC_1_SQRT_2, f64::from(RATE));
    let (mut x1, mut x2, mut y1, mut y2) = (0f64, 0f64, 0f64, 0f64);
    x.iter()
        .map(|&x0| {
            let x0 = f64::from(x0);
            let y0 = c.b0 * x0 + c.b1 * x1 + c.b2 * x2 - c.a1 * y1 - c.a2 * y2;
            (x2, x1, y2, y1) = (x1, x0, y1, y0);
            y0 as f32
        })
        .collect()
}
