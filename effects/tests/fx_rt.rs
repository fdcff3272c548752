//! Real-time properties of fx-a's nodes: no allocation in `process`, mono and stereo; tails that decay to
//! (near) zero without NaN or subnormal output after the input stops; click-free parameter changes.

mod fxa_util;

use tutti_engine::{
    count_allocations, counting_is_active, CountingAllocator, Inputs, Outputs, Processor, StreamConfig,
};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

const FS: u32 = 48_000;
const BLOCK: usize = 480;

const NODES: &[(&str, &[(&str, &str)])] = &[
    (
        "echo",
        &[
            ("feedback", "60"),
            ("damping", "4000"),
            ("tap2", "90"),
            ("tap3", "310"),
        ],
    ),
    ("reverse_echo", &[]),
    ("flanger", &[("regen", "70")]),
    ("chorus", &[]),
    ("phaser", &[("feedback", "80")]),
    ("tremolo", &[]),
    ("ringmod", &[]),
    ("overdrive", &[]),
    ("resonator", &[]),
    ("resonator", &[("mode", "bandpass")]),
    ("compressor", &[]),
    ("limiter", &[]),
];

/// Runs a processor block by block, counting allocations in `process`; `change` is called before each
/// block with the block index.
struct Runner {
    p: Box<dyn Processor>,
    pool: Vec<Vec<f32>>,
    index: Vec<usize>,
    outs: Vec<Vec<f32>>,
    allocs: u64,
}

impl Runner {
    fn new(name: &str, args: &[(&str, &str)], channels: usize) -> Self {
        let mut p = fxa_util::build(name, args);
        let cfg = StreamConfig::with_frames(FS, channels, BLOCK).expect("config");
        p.prepare(&cfg).expect("prepare");
        let n = p.num_inputs();
        let pool = (0..n)
            .map(|i| vec![0.0; p.input_channels(i, &cfg) * BLOCK])
            .collect();
        let outs = (0..p.num_outputs())
            .map(|i| vec![0.0; p.output_channels(i, &cfg) * BLOCK])
            .collect();
        Self {
            p,
            pool,
            index: (0..n).collect(),
            outs,
            allocs: 0,
        }
    }

    /// Processes one block of `x` (same signal on every channel and on the side chain) and returns
    /// output port 0.
    fn block(&mut self, x: &[f32]) -> &[f32] {
        for buf in &mut self.pool {
            for (c, chunk) in buf.chunks_mut(BLOCK).enumerate() {
                for (i, v) in chunk.iter_mut().enumerate() {
                    *v = x[i] * if c == 1 { 0.8 } else { 1.0 };
                }
            }
        }
        let (pool, index, outs) = (&self.pool, &self.index, &mut self.outs);
        let p = &mut self.p;
        let ((), counts) = count_allocations(|| {
            let ins = Inputs::new(pool, index, BLOCK);
            let mut o = Outputs::new(outs, BLOCK);
            p.process(&ins, &mut o);
        });
        self.allocs += counts.allocs + counts.frees;
        &self.outs[0]
    }
}

fn sig(start: usize, f: f64, amp: f32) -> Vec<f32> {
    (0..BLOCK)
        .map(|i| amp * (2.0 * std::f64::consts::PI * f * (start + i) as f64 / f64::from(FS)).sin() as f32)
        .collect()
}

#[test]
fn process_never_allocates_and_tails_decay() {
    assert!(counting_is_active(), "the counting allocator must be installed");
    for &(name, args) in NODES {
        for channels in [1, 2] {
            let mut r = Runner::new(name, args, channels);
            let noise = fxa_util::noise(3, 100 * BLOCK, 0.5);
            // 1 s of noise and tone, then 20 s of silence.
            for b in 0..100 {
                let mut x = sig(b * BLOCK, 330.0, 0.3);
                for (v, n) in x.iter_mut().zip(&noise[b * BLOCK..]) {
                    *v += n;
                }
                r.block(&x);
            }
            let silence = vec![0.0f32; BLOCK];
            let mut last_max = 0.0f32;
            for b in 0..2000 {
                let y = r.block(&silence);
                assert!(
                    y.iter().all(|v| v.is_finite()),
                    "{name}: non-finite output in the tail"
                );
                if b >= 1990 {
                    assert!(
                        !y.iter().any(|v| v.is_subnormal()),
                        "{name}: subnormal output in the tail"
                    );
                    last_max = y.iter().fold(last_max, |m, v| m.max(v.abs()));
                }
            }
            println!(
                "{name} ({channels} ch): tail after 20 s {last_max:.2e}, allocations {}",
                r.allocs
            );
            assert!(last_max < 1e-7, "{name}: tail {last_max} after 20 s of silence");
            assert_eq!(r.allocs, 0, "{name} ({channels} ch): process allocated");
            r.p.reset();
        }
    }
}

/// Largest sample-to-sample jump.
fn max_jump(y: &[f32]) -> f32 {
    y.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max)
}

/// Every continuous parameter is moved to the far end of its range mid-stream: the largest jump right
/// after the change stays within 1.5× the largest jump of the steady states before and after (an
/// unsmoothed gain step on this 0.5-amplitude 100 Hz tone would jump by up to 0.5).
#[test]
fn parameter_changes_are_click_free() {
    for &(name, args) in NODES {
        let ty = tutti_effects::node_types()
            .into_iter()
            .find(|t| t.name == name)
            .expect("registered");
        for (pi, info) in ty.params.iter().enumerate() {
            if !info.choices.is_empty() || (name == "phaser" && info.name == "stages") {
                continue; // discrete parameters switch at once (documented)
            }
            let cur = args
                .iter()
                .find(|(k, _)| *k == info.name)
                .map_or(info.default, |(_, v)| v.parse().expect("num"));
            let target = if (info.max - cur).abs() >= (cur - info.min).abs() {
                info.max
            } else {
                info.min
            };
            let mut r = Runner::new(name, args, 1);
            let mut before = Vec::new();
            let mut during = Vec::new();
            let mut after = Vec::new();
            for b in 0..200 {
                if b == 100 {
                    r.p.set_param(pi, target);
                }
                let y = r.block(&sig(b * BLOCK, 100.0, 0.5)).to_vec();
                match b {
                    90..=99 => before.extend(y),
                    100..=102 => during.extend(y),
                    170..=199 => after.extend(y),
                    _ => {}
                }
            }
            let (jb, jd, ja) = (max_jump(&before), max_jump(&during), max_jump(&after));
            let bound = 1.5 * jb.max(ja) + 1e-3;
            assert!(
                jd <= bound,
                "{name}: changing {} from {cur} to {target} jumps by {jd:.4} (steady {jb:.4} / {ja:.4})",
                info.name
            );
            assert_eq!(r.allocs, 0, "{name}: process allocated around a parameter change");
        }
    }
}
