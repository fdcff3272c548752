//! Pitch shift, time stretch and resampling against analytic expectations and Debian peers
//! (rubberband, soundstretch, sox). Figures are printed (`--nocapture`) for the report.

mod fxb_util;

use fxb_util::*;
use tutti_engine::{render_offline, NodeType, StreamConfig};

const RATE: u32 = 48_000;

fn node(name: &str) -> NodeType {
    tutti_effects::node_types()
        .into_iter()
        .find(|t| t.name == name)
        .expect("node registered")
}

fn pairs(kv: &[(&str, &str)]) -> Vec<(String, String)> {
    kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn our_pitch_shift(x: &[f32], semis: f32, formant: bool) -> (Vec<f32>, usize) {
    let ty = node("pitch_shift");
    let mut p = ty
        .build(&pairs(&[
            ("semitones", &semis.to_string()),
            ("formant", if formant { "on" } else { "off" }),
        ]))
        .expect("pitch_shift builds");
    let cfg = StreamConfig::new(RATE, 1, 10.0).unwrap();
    let out = render_offline(p.as_mut(), &cfg, &[vec![x.to_vec()]]).expect("render");
    (out[0][0].clone(), p.latency())
}

/// Pitch of a 220 Hz harmonic tone shifted by ±3 and ±12 semitones: ours within 1 cent, duration and
/// latency exact; rubberband R2/R3 measured on the same material.
#[test]
fn pitch_shift_hits_target_pitch_and_compares_with_rubberband() {
    let f0 = 220.0;
    let len = 3 * RATE as usize;
    let x = harmonic_tone(f0, 10, RATE, len);
    let dir = scratch("pitch");
    let inp = dir.join("in.wav");
    write_wav(&inp, RATE, &[x.clone()]);
    for semis in [3.0f32, -3.0, 12.0, -12.0] {
        let want = f0 * 2f64.powf(f64::from(semis) / 12.0);
        let (y, lat) = our_pitch_shift(&x, semis, false);
        assert_eq!(y.len(), x.len(), "duration unchanged");
        let seg = &y[lat + RATE as usize / 2..lat + RATE as usize];
        let got = peak_freq(seg, want, 0.03, RATE);
        let err = cents(got, want);
        let mut line = format!("pitch {semis:+} st: ours {err:+.3} cents (latency {lat} frames)");
        for (eng, flag) in [("R2", "-2"), ("R3", "-3")] {
            let out = dir.join(format!("rb{eng}{semis}.wav"));
            run_tool(
                "rubberband",
                &[
                    "-q",
                    flag,
                    "-p",
                    &semis.to_string(),
                    inp.to_str().unwrap(),
                    out.to_str().unwrap(),
                ],
            );
            let (_, rb) = read_wav(&out);
            let seg = &rb[0][RATE as usize / 2..RATE as usize];
            let e = cents(peak_freq(seg, want, 0.03, RATE), want);
            line += &format!(", rubberband {eng} {e:+.3} cents");
        }
        println!("{line}");
        assert!(err.abs() <= 1.0, "pitch error {err} cents at {semis} st");
    }
}

/// The shifted tone starts `latency` frames after the input tone (duration and alignment preserved).
#[test]
fn pitch_shift_latency_is_reported_exactly() {
    let len = 2 * RATE as usize;
    let mut x = vec![0.0f32; len];
    let onset = RATE as usize / 2;
    let tone = sine(500.0, 0.5, RATE, len - onset);
    x[onset..].copy_from_slice(&tone);
    for semis in [5.0f32, -7.0] {
        let (y, lat) = our_pitch_shift(&x, semis, false);
        // Energy onset: first 1 ms window whose RMS exceeds half the steady RMS.
        let steady = rms(&y[lat + onset + RATE as usize / 4..lat + onset + RATE as usize / 2]);
        let w = 48;
        let first = (0..y.len() / w)
            .find(|&b| rms(&y[b * w..(b + 1) * w]) > 0.5 * steady)
            .unwrap()
            * w;
        let expect = onset + lat;
        let diff = first as i64 - expect as i64;
        println!("pitch {semis:+} st: onset at {first}, expected {expect} (Δ {diff} frames)");
        // A Hann window of N = 1024 spreads an onset by at most ±N/2.
        assert!(diff.abs() <= 512, "onset off by {diff} frames");
    }
}

/// Formant preservation keeps the spectral envelope: a formant-filtered pulse train shifted up keeps
/// its envelope peak near the original formant (without preservation the peak moves by the ratio).
#[test]
fn formant_preservation_keeps_envelope() {
    // Pulse train at 150 Hz filtered by a resonance at 1000 Hz.
    let len = 2 * RATE as usize;
    let mut x = vec![0.0f32; len];
    let period = RATE as usize / 150;
    for i in (0..len).step_by(period) {
        x[i] = 1.0;
    }
    let c = tutti_effects::BiquadCoeffs::bandpass(1000.0, 4.0, f64::from(RATE));
    let mut bq = tutti_effects::Biquad::new(c);
    let mut filtered = x.clone();
    bq.process_in_place(&mut filtered);
    // Spectral centroid (300–4000 Hz) of the Welch power spectrum (4096-point Hann frames).
    let env_peak = |y: &[f32]| -> f64 {
        let n = 4096;
        let fft = realfft::RealFftPlanner::<f64>::new().plan_fft_forward(n);
        let mut psd = vec![0.0f64; n / 2 + 1];
        let mut spec = fft.make_output_vec();
        let mut i = 0;
        while i + n <= y.len() {
            let mut fr: Vec<f64> = (0..n)
                .map(|k| {
                    f64::from(y[i + k])
                        * (0.5 - 0.5 * (2.0 * std::f64::consts::PI * k as f64 / n as f64).cos())
                })
                .collect();
            fft.process(&mut fr, &mut spec).unwrap();
            for (p, c) in psd.iter_mut().zip(&spec) {
                *p += c.norm_sqr();
            }
            i += n / 2;
        }
        let bin = f64::from(RATE) / n as f64;
        let (mut num, mut den) = (0.0, 0.0);
        for (k, p) in psd.iter().enumerate() {
            let f = k as f64 * bin;
            if (300.0..4000.0).contains(&f) {
                num += f * p;
                den += p;
            }
        }
        num / den
    };
    let seg = |y: &[f32], lat: usize| y[lat + RATE as usize / 4..lat + RATE as usize].to_vec();
    let orig = env_peak(&filtered[RATE as usize / 4..RATE as usize]);
    let (plain, lat) = our_pitch_shift(&filtered, 5.0, false);
    let (kept, _) = our_pitch_shift(&filtered, 5.0, true);
    let (p_plain, p_kept) = (env_peak(&seg(&plain, lat)), env_peak(&seg(&kept, lat)));
    println!(
        "formant peak: input {orig:.0} Hz, shifted +5 st {p_plain:.0} Hz, with preservation {p_kept:.0} Hz"
    );
    assert!(
        cents(p_kept, orig).abs() < 250.0,
        "preserved formant moved to {p_kept}"
    );
    assert!(
        cents(p_plain, orig) > 300.0,
        "plain shift should move the formant up"
    );
}

fn stretch_stage(x: &[f32], factor: f64, mode: &str) -> Vec<f32> {
    let ty = node("time_stretch");
    let mut st = ty
        .build_stage(
            &pairs(&[("factor", &factor.to_string()), ("mode", mode)]),
            RATE,
            1,
        )
        .expect("time_stretch has a stage")
        .expect("stage builds");
    assert_eq!(st.output_rate(), RATE);
    let mut out = vec![Vec::new()];
    for c in x.chunks(4800) {
        st.push(&[c], &mut out);
    }
    st.finish(&mut out);
    out.pop().unwrap()
}

/// Output length is exactly round(factor·n) and the pitch of a tone is unchanged (music: ≤ 1 cent,
/// speech/WSOLA: ≤ 3 cents); soundstretch and rubberband measured on the same input.
#[test]
fn time_stretch_length_and_pitch_vs_peers() {
    let f0 = 220.0;
    let len = 3 * RATE as usize + 123;
    let x = harmonic_tone(f0, 10, RATE, len);
    let dir = scratch("stretch");
    let inp = dir.join("in.wav");
    let inp16 = dir.join("in16.wav");
    write_wav(&inp, RATE, &[x.clone()]);
    write_wav_fmt(&inp16, RATE, &[x.clone()], false);
    for factor in [0.5, 0.8, 1.5, 2.0] {
        let mut line = format!("stretch ×{factor}:");
        for (mode, tol) in [("music", 1.0), ("speech", 3.0)] {
            let y = stretch_stage(&x, factor, mode);
            let want_len = (len as f64 * factor).round() as usize;
            assert_eq!(y.len(), want_len, "{mode} ×{factor}: length");
            let mid = y.len() / 2;
            let seg = &y[mid - RATE as usize / 2..mid + RATE as usize / 2];
            let e = cents(peak_freq(seg, f0, 0.03, RATE), f0);
            line += &format!(" ours-{mode} {e:+.3} cents len Δ0;");
            assert!(e.abs() <= tol, "{mode} ×{factor}: pitch error {e} cents");
        }
        // Peers.
        let rb = dir.join(format!("rb{factor}.wav"));
        run_tool(
            "rubberband",
            &[
                "-q",
                "-3",
                "-t",
                &factor.to_string(),
                inp.to_str().unwrap(),
                rb.to_str().unwrap(),
            ],
        );
        let (_, y) = read_wav(&rb);
        let mid = y[0].len() / 2;
        let e = cents(
            peak_freq(
                &y[0][mid - RATE as usize / 2..mid + RATE as usize / 2],
                f0,
                0.03,
                RATE,
            ),
            f0,
        );
        line += &format!(
            " rubberband-R3 {e:+.3} cents len Δ{};",
            y[0].len() as i64 - (len as f64 * factor).round() as i64
        );
        let ss = dir.join(format!("ss{factor}.wav"));
        let tempo = (1.0 / factor - 1.0) * 100.0;
        run_tool(
            "soundstretch",
            &[
                inp16.to_str().unwrap(),
                ss.to_str().unwrap(),
                &format!("-tempo={tempo:.4}"),
            ],
        );
        let (_, y) = read_wav(&ss);
        let mid = y[0].len() / 2;
        let e = cents(
            peak_freq(
                &y[0][mid - RATE as usize / 2..mid + RATE as usize / 2],
                f0,
                0.03,
                RATE,
            ),
            f0,
        );
        line += &format!(
            " soundstretch {e:+.3} cents len Δ{}",
            y[0].len() as i64 - (len as f64 * factor).round() as i64
        );
        println!("{line}");
    }
}

/// The live time_stretch processor: at factor 1 it is a delay by its reported latency; faster and
/// slower settings produce the documented overflow/underrun behaviour instead of garbage.
#[test]
fn time_stretch_live_fifo_behaviour() {
    let ty = node("time_stretch");
    let cfg = StreamConfig::new(RATE, 1, 10.0).unwrap();
    let x = sine(300.0, 0.5, RATE, RATE as usize * 2);
    let mut p = ty.build(&pairs(&[("factor", "1")])).unwrap();
    let y = render_offline(p.as_mut(), &cfg, &[vec![x.clone()]])
        .unwrap()
        .remove(0)
        .remove(0);
    let lat = p.latency();
    let err = x[..x.len() - lat - 4096]
        .iter()
        .zip(&y[lat..])
        .skip(4096)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!("time_stretch live ×1: latency {lat} frames, max error {err:.2e}");
    assert!(
        err < 2e-3,
        "factor 1 must be a pure delay of the reported latency (err {err})"
    );
    let m = p.meters().unwrap();
    assert_eq!(m.get(1), 0.0, "no underruns at factor 1");

    // Slower than real time (factor 2): the FIFO fills, then input is dropped (overflows counted).
    let mut p = ty.build(&pairs(&[("factor", "2")])).unwrap();
    let long = sine(300.0, 0.5, RATE, RATE as usize * 8);
    let _ = render_offline(p.as_mut(), &cfg, &[vec![long.clone()]]).unwrap();
    let m = p.meters().unwrap();
    println!("×2 for 8 s: overflows {} fifo {}", m.get(2), m.get(0));
    assert!(m.get(2) > 0.0, "a full FIFO must drop input");
    assert_eq!(m.get(1), 0.0);

    // Faster (0.5): the FIFO runs dry periodically; silence fills the gaps (underruns counted).
    let mut p = ty.build(&pairs(&[("factor", "0.5")])).unwrap();
    let _ = render_offline(p.as_mut(), &cfg, &[vec![long]]).unwrap();
    let m = p.meters().unwrap();
    println!("×0.5 for 8 s: underruns {}", m.get(1));
    assert!(m.get(1) > 0.0, "a dry FIFO must output silence and count it");
}

/// resample vs sox's high-quality resampler on a sweep: SNR of the difference, passband flatness,
/// exact length.
#[test]
fn resample_matches_sox_on_sweep() {
    let n = 2 * RATE as usize + 77;
    // Exponential sweep 20 Hz → 18 kHz, amplitude 0.5.
    let (f1, f2) = (20.0f64, 18_000.0f64);
    let t_total = n as f64 / f64::from(RATE);
    let k = (f2 / f1).ln() / t_total;
    let x: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            (0.5 * (2.0 * std::f64::consts::PI * f1 * ((k * t).exp() - 1.0) / k).sin()) as f32
        })
        .collect();
    let dir = scratch("resample");
    let inp = dir.join("sweep.wav");
    write_wav(&inp, RATE, &[x.clone()]);
    for out_rate in [44_100u32, 16_000, 96_000] {
        if f64::from(out_rate) / 2.0 < f2 * 1.1 {
            continue;
        }
        let ours = tutti_effects::resample_signal(&x, RATE, out_rate).unwrap();
        let sx = dir.join(format!("sox{out_rate}.wav"));
        run_tool(
            "sox",
            &[
                inp.to_str().unwrap(),
                "-b",
                "32",
                "-e",
                "floating-point",
                sx.to_str().unwrap(),
                "rate",
                "-h",
                &out_rate.to_string(),
            ],
        );
        let (r, s) = read_wav(&sx);
        assert_eq!(r, out_rate);
        let s = &s[0];
        println!(
            "resample 48000→{out_rate}: ours {} frames, sox {} frames",
            ours.len(),
            s.len()
        );
        assert_eq!(ours.len(), s.len(), "length must match sox");
        let skip = out_rate as usize / 20;
        let (a, b) = (&ours[skip..ours.len() - skip], &s[skip..s.len() - skip]);
        let diff: Vec<f32> = a.iter().zip(b).map(|(p, q)| p - q).collect();
        let snr = 20.0 * (rms(b) / rms(&diff)).log10();
        println!("resample 48000→{out_rate}: SNR of difference to sox {snr:.1} dB");
        assert!(snr >= 60.0, "difference to sox too large: {snr} dB");
    }
    // Passband flatness at 44.1 kHz on sines.
    let mut worst: f64 = 0.0;
    for f in [100.0, 1000.0, 5000.0, 10_000.0, 15_000.0, 18_000.0, 19_500.0] {
        let s = sine(f, 0.5, RATE, RATE as usize);
        let y = tutti_effects::resample_signal(&s, RATE, 44_100).unwrap();
        let g = rms(&y[4410..y.len() - 4410]) / rms(&s[4800..s.len() - 4800]);
        let db = 20.0 * g.log10();
        worst = worst.max(db.abs());
        println!("resample 48000→44100 gain at {f} Hz: {db:+.4} dB");
    }
    assert!(worst < 0.05, "passband ripple {worst} dB");
}
