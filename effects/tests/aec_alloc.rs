//! The `aec` node's `process` allocates nothing (counting allocator) and stays free of denormals and
//! non-finite values on silence, tiny (subnormal) input and garbage (NaN/∞) input.

use tutti_engine::{count_allocations, counting_is_active, CountingAllocator, Inputs, Outputs, StreamConfig};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

fn build(block: usize, rate: u32) -> (Box<dyn tutti_engine::Processor>, StreamConfig) {
    let ty = tutti_effects::node_types()
        .into_iter()
        .find(|t| t.name == "aec")
        .expect("aec is registered");
    let mut p = ty
        .build(&[("cng".into(), "on".into())])
        .expect("defaults are valid");
    let cfg = StreamConfig::with_frames(rate, 1, block).expect("valid config");
    p.prepare(&cfg).expect("prepare");
    (p, cfg)
}

fn run_blocks(
    p: &mut dyn tutti_engine::Processor,
    block: usize,
    blocks: usize,
    sig: impl Fn(usize) -> (f32, f32),
) -> Vec<f32> {
    let mut pool = vec![vec![0.0f32; block], vec![0.0f32; block]];
    let index = [0usize, 1];
    let mut outs = vec![vec![0.0f32; block]];
    let mut all = Vec::with_capacity(block * blocks);
    for b in 0..blocks {
        for i in 0..block {
            let (m, f) = sig(b * block + i);
            pool[0][i] = m;
            pool[1][i] = f;
        }
        let ((), counts) = count_allocations(|| {
            let ins = Inputs::new(&pool, &index, block);
            let mut o = Outputs::new(&mut outs, block);
            p.process(&ins, &mut o);
        });
        assert!(counts.is_zero(), "process allocated at block {b}: {counts:?}");
        all.extend_from_slice(&outs[0]);
    }
    all
}

fn noise(i: usize) -> f32 {
    let x = (i as u32).wrapping_mul(2_654_435_761) ^ 0x5bd1_e995;
    (x as f32 / u32::MAX as f32 - 0.5) * 0.2
}

#[test]
fn process_does_not_allocate_at_any_rate_or_block() {
    assert!(counting_is_active(), "the counting allocator must be installed");
    for (rate, block) in [
        (16000u32, 160usize),
        (48000, 480),
        (8000, 80),
        (16000, 64),
        (32000, 1000),
    ] {
        let (mut p, _) = build(block, rate);
        // Far-end speech-like noise with a delayed echo, then double talk.
        let d = rate as usize / 20;
        run_blocks(p.as_mut(), block, 300, |i| {
            let far = noise(i);
            let echo = if i >= d { 0.5 * noise(i - d) } else { 0.0 };
            let near = if i > rate as usize {
                0.3 * noise(i * 7 + 3)
            } else {
                0.0
            };
            (echo + near, far)
        });
        let counts = count_allocations(|| p.reset()).1;
        assert!(counts.is_zero(), "reset allocated: {counts:?}");
        let counts = count_allocations(|| p.set_param(1, 3.0)).1;
        assert!(counts.is_zero(), "set_param allocated: {counts:?}");
    }
}

#[test]
fn silence_and_tiny_input_produce_no_denormals() {
    let block = 160;
    let (mut p, _) = build(block, 16000);
    // Converge on noise first, so filters and smoothers hold state that then decays in silence.
    let d = 800;
    run_blocks(p.as_mut(), block, 300, |i| {
        (if i >= d { 0.5 * noise(i - d) } else { 0.0 }, noise(i))
    });
    // Subnormal inputs, then exact silence for 20 s.
    let out = run_blocks(p.as_mut(), block, 2000, |i| {
        if i < 16000 {
            (1e-39, -1e-39)
        } else {
            (0.0, 0.0)
        }
    });
    let bad = out
        .iter()
        .filter(|v| !(v.is_finite() && (**v == 0.0 || v.is_normal())))
        .count();
    assert_eq!(bad, 0, "{bad} subnormal or non-finite output samples");
    let tail_energy: f32 = out[out.len() - 16000..].iter().map(|v| v * v).sum();
    assert!(
        tail_energy < 1e-20,
        "silence in, silence out (energy {tail_energy})"
    );
}

#[test]
fn garbage_input_is_contained() {
    let block = 160;
    let (mut p, _) = build(block, 16000);
    let out = run_blocks(p.as_mut(), block, 200, |i| match i % 97 {
        0 => (f32::NAN, f32::INFINITY),
        1 => (f32::NEG_INFINITY, f32::NAN),
        _ => (noise(i), noise(i + 5)),
    });
    assert!(out.iter().all(|v| v.is_finite()), "non-finite output");
}
