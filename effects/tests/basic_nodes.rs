//! Analytic checks of the basic nodes: delay, gain, hpf, remix; and zero allocation in `process`.

use std::f64::consts::PI;

use tutti_effects::node_types;
use tutti_engine::{
    count_allocations, counting_is_active, render_offline, CountingAllocator, Inputs, NodeType, Outputs,
    StreamConfig, SUPPORTED_RATES,
};

#[global_allocator]
static A: CountingAllocator = CountingAllocator;

fn ty(name: &str) -> NodeType {
    node_types()
        .into_iter()
        .find(|t| t.name == name)
        .expect("node type is registered")
}

fn build(name: &str, args: &[(&str, &str)]) -> Box<dyn tutti_engine::Processor> {
    let pairs: Vec<(String, String)> = args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    ty(name).build(&pairs).expect("valid arguments")
}

fn sine(f: f64, rate: u32, n: usize, delay_s: f64) -> Vec<f32> {
    (0..n)
        .map(|i| (2.0 * PI * f * (i as f64 / f64::from(rate) - delay_s)).sin() as f32)
        .collect()
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// `delay(ms=25)` is exactly 25 ms at every rate: an impulse moves by exactly 25 ms where that is a whole
/// number of samples; at 44.1 kHz (1102.5 samples) a band-limited signal matches the analytically delayed
/// signal to better than -60 dB.
#[test]
fn delay_is_exactly_25_ms_at_every_rate() {
    for rate in SUPPORTED_RATES {
        let cfg = StreamConfig::new(rate, 1, 10.0).unwrap();
        let d = f64::from(rate) * 0.025;
        let n = rate as usize / 2;
        if d.fract() == 0.0 {
            let mut x = vec![0.0f32; n];
            x[7] = 1.0;
            let y = render_offline(build("delay", &[("ms", "25")]).as_mut(), &cfg, &[vec![x]]).unwrap();
            let y = &y[0][0];
            let peak = y.iter().position(|v| *v != 0.0).unwrap();
            assert_eq!(peak, 7 + d as usize, "rate {rate}");
            assert_eq!(y[peak], 1.0);
            assert_eq!(
                y.iter().filter(|v| **v != 0.0).count(),
                1,
                "rate {rate}: impulse smeared"
            );
        }
        // Band-limited check at every rate, fractional or not.
        let f = 997.0;
        let x = sine(f, rate, n, 0.0);
        let y = render_offline(build("delay", &[("ms", "25")]).as_mut(), &cfg, &[vec![x]]).unwrap();
        let want = sine(f, rate, n, 0.025);
        let start = (d as usize) + 64;
        let err: Vec<f32> = y[0][0][start..]
            .iter()
            .zip(&want[start..])
            .map(|(a, b)| a - b)
            .collect();
        let resid = db(rms(&err) / rms(&want[start..]));
        assert!(resid < -60.0, "rate {rate}: residual {resid:.1} dB");
    }
}

#[test]
fn gain_minus_6_db_is_minus_6_db() {
    let cfg = StreamConfig::new(16000, 2, 10.0).unwrap();
    let x = sine(440.0, 16000, 16000, 0.0);
    let y = render_offline(
        build("gain", &[("db", "-6")]).as_mut(),
        &cfg,
        &[vec![x.clone(), x.clone()]],
    )
    .unwrap();
    let g = 10f64.powf(-6.0 / 20.0);
    for ch in &y[0] {
        for (a, b) in ch.iter().zip(&x) {
            assert!((f64::from(*a) - f64::from(*b) * g).abs() < 1e-6);
        }
    }
    assert!((db(rms(&y[0][0]) / rms(&x)) + 6.0).abs() < 1e-4);
}

/// `hpf(hz=100)` is within 0.1 dB of the analog 2nd-order Butterworth |H| = 1/sqrt(1+(fc/f)^4) at 50 Hz,
/// 100 Hz and 1 kHz, measured with sines at every rate.
#[test]
fn hpf_matches_butterworth() {
    for rate in SUPPORTED_RATES {
        let cfg = StreamConfig::new(rate, 1, 10.0).unwrap();
        for f in [50.0, 100.0, 1000.0] {
            let n = rate as usize * 2;
            let x = sine(f, rate, n, 0.0);
            let y =
                render_offline(build("hpf", &[("hz", "100")]).as_mut(), &cfg, &[vec![x.clone()]]).unwrap();
            let measured = db(rms(&y[0][0][n / 2..]) / rms(&x[n / 2..]));
            let analytic = -10.0 * (1.0 + (100.0f64 / f).powi(4)).log10();
            assert!(
                (measured - analytic).abs() < 0.1,
                "rate {rate} f {f}: {measured:.3} vs {analytic:.3} dB"
            );
        }
    }
}

#[test]
fn remix_up_and_down() {
    let cfg = StreamConfig::new(8000, 2, 10.0).unwrap();
    let l = sine(300.0, 8000, 800, 0.0);
    let r: Vec<f32> = l.iter().map(|v| -0.5 * v).collect();
    let y = render_offline(
        build("remix", &[("channels", "1")]).as_mut(),
        &cfg,
        &[vec![l.clone(), r.clone()]],
    )
    .unwrap();
    assert_eq!(y[0].len(), 1);
    for i in 0..800 {
        assert!((y[0][0][i] - 0.5 * (l[i] + r[i])).abs() < 1e-7);
    }
    let cfg = StreamConfig::new(8000, 1, 10.0).unwrap();
    let y = render_offline(
        build("remix", &[("channels", "2")]).as_mut(),
        &cfg,
        &[vec![l.clone()]],
    )
    .unwrap();
    assert_eq!(y[0], vec![l.clone(), l]);
    assert!(ty("remix").build(&[("channels".into(), "1.5".into())]).is_err());
}

#[test]
fn bad_arguments_are_named() {
    let e = ty("hpf")
        .build(&[("hz".into(), "5".into())])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("hpf") && e.contains("hz") && e.contains('5'), "{e}");
    let e = ty("gain")
        .build(&[("gian".into(), "1".into())])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("gian") && e.contains("db"), "{e}");
}

/// Parameter changes ramp: the gain trajectory has no step bigger than a 20 ms linear ramp allows.
#[test]
fn gain_change_is_smoothed() {
    let cfg = StreamConfig::new(48000, 1, 10.0).unwrap();
    let mut g = build("gain", &[("db", "0")]);
    g.prepare(&cfg).unwrap();
    let ones = vec![vec![1.0f32; 480]];
    let idx = [0usize];
    let mut out = vec![vec![0.0f32; 480]];
    let mut seen = Vec::new();
    for b in 0..6 {
        if b == 1 {
            g.set_param(0, -40.0);
        }
        g.process(&Inputs::new(&ones, &idx, 480), &mut Outputs::new(&mut out, 480));
        seen.extend_from_slice(&out[0]);
    }
    let max_step = seen.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max);
    assert!(max_step < 1.0 / 900.0, "step {max_step}");
    assert!((seen.last().unwrap() - 0.01).abs() < 1e-6);
}

/// `process` of every basic node, including parameter changes, allocates nothing.
#[test]
fn basic_nodes_do_not_allocate_in_process() {
    assert!(counting_is_active());
    for (name, ch) in [("gain", 2), ("hpf", 2), ("delay", 2), ("remix", 2)] {
        let cfg = StreamConfig::new(48000, ch, 10.0).unwrap();
        let mut p = build(name, &[]);
        p.prepare(&cfg).unwrap();
        let pool = vec![vec![0.1f32; 480 * ch]];
        let idx = [0usize];
        let mut out: Vec<Vec<f32>> = (0..p.num_outputs())
            .map(|o| vec![0.0; 480 * p.output_channels(o, &cfg)])
            .collect();
        let nparams = p.params().len();
        let (_, c) = count_allocations(|| {
            for b in 0..50 {
                if b % 10 == 3 && nparams > 0 {
                    let info = p.params()[0];
                    p.set_param(0, info.min + (info.max - info.min) * 0.3);
                }
                p.process(&Inputs::new(&pool, &idx, 480), &mut Outputs::new(&mut out, 480));
            }
            p.reset();
        });
        assert!(c.is_zero(), "{name}: {c:?}");
    }
}
