//! Live graphs: parameter changes, hot edits without clicks, state kept across edits, zero allocation on the
//! real-time side, retired nodes dropped on the control side.
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tutti_engine::{
    count_allocations, AllocCounts, CountingAllocator, EngineError, GraphBuilder, GraphController,
    GraphRunner, LiveOptions, NodeId, Processor, StreamConfig,
};

#[global_allocator]
static A: CountingAllocator = CountingAllocator;

const RATE: u32 = 48_000;
const SINE_HZ: f64 = 1000.0;

fn cfg() -> StreamConfig {
    StreamConfig::new(RATE, 1, 10.0).expect("48 kHz mono 10 ms is supported")
}

#[derive(Clone, Copy, PartialEq)]
enum K {
    Pass,
    Gain,
    Delay,
}

/// A random pass-through, gain (0.5..1.5) or delay (1..=`max_delay` samples).
fn random_node(rng: &mut ChaCha8Rng, max_delay: usize) -> (K, Box<dyn Processor>) {
    match rng.gen_range(0..3) {
        0 => (K::Pass, Box::new(Pass)),
        1 => (K::Gain, Box::new(Gain::new(rng.gen_range(0.5..1.5)))),
        _ => (K::Delay, Box::new(Delay::new(rng.gen_range(1..=max_delay)))),
    }
}

/// Longest delay inserted by the click test. A fresh delay line is silent for its length and then starts
/// the sine abruptly; at ≤ 8 samples that onset falls where the fade-in is still below 0.3 %, so it is the
/// engine's swap that the click test judges, not the node's own start-up. Removing such a delay without a
/// fade still shifts the phase by ≥ 0.13 rad at 1 kHz, which the detector catches.
const SHORT_DELAY: usize = 8;

/// A sine source feeding a chain of nodes into external output 0; the chain is edited at random.
struct Rig {
    ctl: GraphController,
    run: GraphRunner,
    /// src, chain nodes..., out
    chain: Vec<(NodeId, K)>,
    out: Vec<f32>,
    counts: AllocCounts,
    edits: usize,
    params: usize,
    frames: usize,
}

impl Rig {
    fn new(fade_ms: f32) -> Self {
        Self::with_frames(fade_ms, 480)
    }

    fn with_frames(fade_ms: f32, frames: usize) -> Self {
        let c = StreamConfig::with_frames(RATE, 1, frames).expect("valid block length");
        let mut b = GraphBuilder::new(c);
        let src = b.add_node("sine", Box::new(Sine::new(SINE_HZ)));
        let o = b.add_output("out", 1);
        b.connect(src, 0, o, 0).unwrap();
        let g = b.build().unwrap();
        let (ctl, run) = g.into_realtime_with(LiveOptions {
            queue_capacity: 64,
            fade_ms,
        });
        Self {
            ctl,
            run,
            chain: vec![(src, K::Pass), (o, K::Pass)],
            out: Vec::new(),
            counts: AllocCounts::default(),
            edits: 0,
            params: 0,
            frames,
        }
    }

    fn block(&mut self) {
        let mut y = vec![0.0f32; self.frames];
        let run = &mut self.run;
        let ((), c) = count_allocations(|| run.process(&[], &mut [&mut y]));
        self.counts.allocs += c.allocs;
        self.counts.frees += c.frees;
        self.out.extend_from_slice(&y);
    }

    fn settle(&mut self, rng: &mut ChaCha8Rng) {
        while self.ctl.pending() > 0 {
            self.block();
        }
        for _ in 0..rng.gen_range(1..=2) {
            self.block();
        }
    }

    fn random_edit(&mut self, rng: &mut ChaCha8Rng) {
        let inner = self.chain.len() - 2;
        let op = rng.gen_range(0..5);
        match op {
            // Insert a node.
            0 | 1 if inner < 10 => {
                let p = rng.gen_range(0..=inner);
                let (a, b) = (self.chain[p].0, self.chain[p + 1].0);
                let (k, node) = random_node(rng, SHORT_DELAY);
                let mut e = self.ctl.edit();
                e.disconnect(b, 0).unwrap();
                let n = e.add_node("n", node);
                e.connect(a, 0, n, 0).unwrap();
                e.connect(n, 0, b, 0).unwrap();
                e.commit().unwrap();
                self.chain.insert(p + 1, (n, k));
            }
            // Remove a node.
            0..=2 if inner > 0 => {
                let p = rng.gen_range(1..=inner);
                let (a, n, b) = (self.chain[p - 1].0, self.chain[p].0, self.chain[p + 1].0);
                let mut e = self.ctl.edit();
                e.remove_node(n).unwrap();
                e.connect(a, 0, b, 0).unwrap();
                e.commit().unwrap();
                self.chain.remove(p);
            }
            // Replace a node.
            3 if inner > 0 => {
                let p = rng.gen_range(1..=inner);
                let (k, node) = random_node(rng, SHORT_DELAY);
                let mut e = self.ctl.edit();
                e.replace_node(self.chain[p].0, node).unwrap();
                e.commit().unwrap();
                self.chain[p].1 = k;
            }
            // Swap two neighbours (rewire).
            _ if inner > 1 => {
                let p = rng.gen_range(1..inner);
                let (a, n1, n2, b) = (
                    self.chain[p - 1].0,
                    self.chain[p].0,
                    self.chain[p + 1].0,
                    self.chain[p + 2].0,
                );
                let mut e = self.ctl.edit();
                e.disconnect(n1, 0).unwrap();
                e.disconnect(n2, 0).unwrap();
                e.disconnect(b, 0).unwrap();
                e.connect(a, 0, n2, 0).unwrap();
                e.connect(n2, 0, n1, 0).unwrap();
                e.connect(n1, 0, b, 0).unwrap();
                e.commit().unwrap();
                self.chain.swap(p, p + 1);
            }
            _ => {
                // Nothing structural possible: insert a pass-through.
                let (a, b) = (self.chain[0].0, self.chain[1].0);
                let mut e = self.ctl.edit();
                e.disconnect(b, 0).unwrap();
                let n = e.add_node("p", Box::new(Pass));
                e.connect(a, 0, n, 0).unwrap();
                e.connect(n, 0, b, 0).unwrap();
                e.commit().unwrap();
                self.chain.insert(1, (n, K::Pass));
            }
        }
        self.edits += 1;
        // Sometimes a parameter change rides along.
        let gains: Vec<NodeId> = self
            .chain
            .iter()
            .filter(|(_, k)| *k == K::Gain)
            .map(|(n, _)| *n)
            .collect();
        if !gains.is_empty() && rng.gen_bool(0.5) {
            let g = gains[rng.gen_range(0..gains.len())];
            self.ctl.set_param(g, "gain", rng.gen_range(0.5..1.5)).unwrap();
            self.params += 1;
        }
    }
}

/// For each sample, |second difference| minus a rounding allowance of 1e-5, divided by the largest second
/// difference a sine at the local programme level can have (`w² · level`). The level is the peak over the
/// surrounding 10 ms chunks (at least ±10 ms), so a fade is not judged against its own tiny signal.
fn click_ratios(y: &[f32]) -> Vec<f64> {
    let w = std::f64::consts::TAU * SINE_HZ / f64::from(RATE);
    let chunk = RATE as usize / 100;
    let peaks: Vec<f64> = y
        .chunks(chunk)
        .map(|c| c.iter().fold(0.0f64, |m, &v| m.max(f64::from(v).abs())))
        .collect();
    let mut r = vec![0.0; y.len()];
    for n in 1..y.len() - 1 {
        let d2 = (f64::from(y[n + 1]) - 2.0 * f64::from(y[n]) + f64::from(y[n - 1])).abs();
        let c = n / chunk;
        let level = peaks[c.saturating_sub(1)..(c + 2).min(peaks.len())]
            .iter()
            .fold(0.0f64, |m, &p| m.max(p));
        r[n] = (d2 - 1e-5).max(0.0) / (w * w * level).max(1e-12);
    }
    r
}

/// Samples whose ratio (see [`click_ratios`]) exceeds `factor`.
fn clicks(y: &[f32], factor: f64) -> Vec<usize> {
    click_ratios(y)
        .iter()
        .enumerate()
        .filter(|(_, &r)| r > factor)
        .map(|(n, _)| n)
        .collect()
}

/// The largest ratio in `y` (for the report).
fn worst_ratio(y: &[f32]) -> f64 {
    click_ratios(y).into_iter().fold(0.0, f64::max)
}

/// The click threshold: 2 × the largest second difference of a clean sine at the programme level.
/// A 5 ms raised-cosine fade g·sin adds at most 2·|g'|·w + |g''| ≈ 11 % at 1 kHz / 48 kHz, and the test's 5 ms
/// linear gain ramps add slope kinks of ≤ 40 %; a clean run measures ≈ 1.3. A hard swap that shifts the
/// phase by one delay sample (0.13 rad) jumps by ≈ 0.13 × level, ≈ 7 × w² × level, and measured hard-swap
/// runs reach ≈ 100.
const CLICK_FACTOR: f64 = 2.0;

#[test]
fn thousand_random_edits_are_click_free_and_allocation_free() {
    assert!(tutti_engine::counting_is_active());
    let mut rng = ChaCha8Rng::seed_from_u64(0x70771);
    let mut rig = Rig::new(5.0);
    for _ in 0..5 {
        rig.block();
    }
    for _ in 0..1000 {
        rig.random_edit(&mut rng);
        rig.settle(&mut rng);
    }
    assert_eq!(rig.edits, 1000);
    assert!(
        rig.params > 100,
        "parameter changes were exercised ({})",
        rig.params
    );
    assert_eq!(rig.run.swaps(), 1000, "every edit was swapped in");
    assert!(
        rig.counts.is_zero(),
        "the real-time side allocated or freed: {:?}",
        rig.counts
    );
    let c = clicks(&rig.out, CLICK_FACTOR);
    eprintln!(
        "faded swaps: worst ratio {:.2} (threshold {CLICK_FACTOR})",
        worst_ratio(&rig.out)
    );
    assert!(
        c.is_empty(),
        "{} clicks, first at samples {:?}",
        c.len(),
        &c[..c.len().min(10)]
    );
    // The output is not silence: it still carries the sine at a sensible level.
    let peak = rig.out[rig.out.len() - 480..]
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(peak > 0.05, "output peak {peak}");
}

#[test]
fn fades_longer_than_a_block_are_click_free() {
    // 1 ms blocks (48 frames) with 5 ms fades: each fade spans five blocks.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut rig = Rig::with_frames(5.0, 48);
    for _ in 0..20 {
        rig.block();
    }
    for _ in 0..200 {
        rig.random_edit(&mut rng);
        rig.settle(&mut rng);
    }
    assert_eq!(rig.run.swaps(), 200);
    assert!(
        rig.counts.is_zero(),
        "the real-time side allocated or freed: {:?}",
        rig.counts
    );
    let c = clicks(&rig.out, CLICK_FACTOR);
    assert!(
        c.is_empty(),
        "{} clicks, first at samples {:?}",
        c.len(),
        &c[..c.len().min(10)]
    );
}

#[test]
fn the_click_detector_catches_hard_swaps() {
    // Same edits with the fade switched off: the detector must fire.
    let mut rng = ChaCha8Rng::seed_from_u64(0x70771);
    let mut rig = Rig::new(0.0);
    for _ in 0..5 {
        rig.block();
    }
    for _ in 0..200 {
        rig.random_edit(&mut rng);
        rig.settle(&mut rng);
    }
    let c = clicks(&rig.out, CLICK_FACTOR);
    eprintln!(
        "hard swaps: {} clicks; worst ratio {:.2}",
        c.len(),
        worst_ratio(&rig.out)
    );
    assert!(c.len() >= 20, "only {} clicks found in 200 hard swaps", c.len());
}

#[test]
fn allocating_node_swapped_in_is_caught() {
    let mut rig = Rig::new(5.0);
    rig.block();
    let (a, b) = (rig.chain[0].0, rig.chain[1].0);
    let mut e = rig.ctl.edit();
    e.disconnect(b, 0).unwrap();
    let n = e.add_node("bad", Box::new(Allocating));
    e.connect(a, 0, n, 0).unwrap();
    e.connect(n, 0, b, 0).unwrap();
    e.commit().unwrap();
    for _ in 0..4 {
        rig.block();
    }
    assert!(
        rig.counts.allocs > 0 && rig.counts.frees > 0,
        "not caught: {:?}",
        rig.counts
    );
}

#[test]
fn untouched_node_state_survives_edits() {
    // in -> delay(1000) -> out0 is never touched; a branch in -> ... -> out1 is edited 300 times.
    // With hard swaps (fade 0) out0 must be exactly the input delayed by 1000 samples throughout.
    const D: usize = 1000;
    let mut b = GraphBuilder::new(cfg());
    let i = b.add_input("in", 1);
    let d = b.add_node("keep", Box::new(Delay::new(D)));
    let o0 = b.add_output("out0", 1);
    let o1 = b.add_output("out1", 1);
    b.connect(i, 0, d, 0).unwrap();
    b.connect(d, 0, o0, 0).unwrap();
    b.connect(i, 0, o1, 0).unwrap();
    let (mut ctl, mut run) = b.build().unwrap().into_realtime_with(LiveOptions {
        queue_capacity: 16,
        fade_ms: 0.0,
    });
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let x: Vec<f32> = (0..480 * 700).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let mut y = Vec::new();
    let mut branch: Vec<NodeId> = Vec::new();
    for (blk, chunk) in x.chunks(480).enumerate() {
        if blk % 2 == 1 {
            let mut e = ctl.edit();
            if branch.is_empty() || (branch.len() < 6 && rng.gen_bool(0.6)) {
                let last = branch.last().copied().unwrap_or(i);
                e.disconnect(o1, 0).unwrap();
                let (_, node) = random_node(&mut rng, 64);
                let n = e.add_node("b", node);
                e.connect(last, 0, n, 0).unwrap();
                e.connect(n, 0, o1, 0).unwrap();
                branch.push(n);
            } else if rng.gen_bool(0.5) {
                let n = branch.pop().unwrap();
                e.remove_node(n).unwrap();
                e.connect(branch.last().copied().unwrap_or(i), 0, o1, 0).unwrap();
            } else {
                let k = rng.gen_range(0..branch.len());
                e.replace_node(branch[k], random_node(&mut rng, 64).1).unwrap();
            }
            e.commit().unwrap();
        }
        let mut y0 = vec![0.0f32; 480];
        let mut y1 = vec![0.0f32; 480];
        run.process(&[chunk], &mut [&mut y0, &mut y1]);
        y.extend_from_slice(&y0);
    }
    assert_eq!(run.swaps(), 350);
    assert!(y[..D].iter().all(|&v| v == 0.0));
    for n in D..y.len() {
        assert_eq!(y[n], x[n - D], "sample {n}: the untouched delay lost its state");
    }
    assert_eq!(ctl.find("keep"), Some(d));
}

#[test]
fn parameter_change_applies_at_the_next_block() {
    let mut b = GraphBuilder::new(cfg());
    let i = b.add_input("in", 1);
    let g = b.add_node("g", Box::new(Gain::new(1.0)));
    let o = b.add_output("out", 1);
    b.connect(i, 0, g, 0).unwrap();
    b.connect(g, 0, o, 0).unwrap();
    let (mut ctl, mut run) = b.build().unwrap().into_realtime();
    let x = vec![1.0f32; 480];
    let mut y = vec![0.0f32; 480];
    run.process(&[&x], &mut [&mut y]);
    assert!(y.iter().all(|&v| v == 1.0));
    ctl.set_param(g, "gain", 0.0).unwrap();
    assert_eq!(ctl.pending(), 1);
    run.process(&[&x], &mut [&mut y]);
    assert_eq!(ctl.pending(), 0);
    // Smoothed over 5 ms (240 samples): falling from the first sample, zero from sample 239 on.
    assert!(y[0] < 1.0 && y[0] > 0.99);
    assert!(y[1..240].windows(2).all(|w| w[1] < w[0]));
    assert!(y[239..].iter().all(|&v| v == 0.0));
    // Range and name checks happen on the control side.
    assert!(matches!(
        ctl.set_param(g, "gain", 5.0),
        Err(EngineError::BadParam { .. })
    ));
    assert!(matches!(
        ctl.set_param(g, "nope", 1.0),
        Err(EngineError::BadParam { .. })
    ));
    assert!(matches!(
        ctl.set_param(g, "gain", f32::NAN),
        Err(EngineError::BadParam { .. })
    ));
}

#[test]
fn bad_edits_change_nothing() {
    let mut b = GraphBuilder::new(cfg());
    let i = b.add_input("in", 1);
    let p = b.add_node("p", Box::new(Pass));
    let q = b.add_node("q", Box::new(Pass));
    let o = b.add_output("out", 1);
    b.connect(i, 0, p, 0).unwrap();
    b.connect(p, 0, q, 0).unwrap();
    b.connect(q, 0, o, 0).unwrap();
    let (mut ctl, mut run) = b.build().unwrap().into_realtime_with(LiveOptions {
        queue_capacity: 2,
        fade_ms: 5.0,
    });
    // A cycle.
    let mut e = ctl.edit();
    e.disconnect(p, 0).unwrap();
    e.connect(q, 0, p, 0).unwrap();
    assert!(matches!(e.commit(), Err(EngineError::Cycle { .. })));
    // Removing an external port.
    let mut e = ctl.edit();
    assert!(matches!(e.remove_node(i), Err(EngineError::BadEdit { .. })));
    // Replacing with a node that lacks a connected port.
    let mut e = ctl.edit();
    assert!(matches!(
        e.replace_node(p, Box::new(Sine::new(1.0))),
        Err(EngineError::UnknownPort { .. })
    ));
    drop(e);
    assert_eq!(ctl.pending(), 0);
    assert_eq!(ctl.nodes(), vec![p, q]);
    // The ring holds 2 commands; a third is refused with a capacity error.
    ctl.set_param(p, "x", 1.0).unwrap_err();
    let mut e = ctl.edit();
    let n = e.add_node("n", Box::new(Pass));
    e.disconnect(o, 0).unwrap();
    e.connect(q, 0, n, 0).unwrap();
    e.connect(n, 0, o, 0).unwrap();
    e.commit().unwrap();
    ctl.edit().commit().unwrap();
    assert!(matches!(ctl.edit().commit(), Err(EngineError::Capacity { .. })));
    let x = vec![0.25f32; 480];
    let mut y = vec![0.0f32; 480];
    for _ in 0..6 {
        run.process(&[&x], &mut [&mut y]);
    }
    assert_eq!(run.swaps(), 2);
    assert_eq!(ctl.nodes(), vec![p, q, n]);
    assert!(y.iter().all(|&v| v == 0.25));
}

static PROBE_DROPPED_ON: Mutex<Option<std::thread::ThreadId>> = Mutex::new(None);

struct DropProbe;

impl Drop for DropProbe {
    fn drop(&mut self) {
        *PROBE_DROPPED_ON.lock().unwrap() = Some(std::thread::current().id());
    }
}

impl Processor for DropProbe {
    fn name(&self) -> &'static str {
        "probe"
    }
    fn prepare(&mut self, _cfg: &StreamConfig) -> Result<(), tutti_engine::EngineError> {
        Ok(())
    }
    fn process(&mut self, i: &tutti_engine::Inputs<'_>, o: &mut tutti_engine::Outputs<'_>) {
        o.port(0).copy_from(&i.port(0));
    }
    fn reset(&mut self) {}
}

#[test]
fn removed_nodes_are_dropped_on_the_control_thread() {
    let mut b = GraphBuilder::new(cfg());
    let i = b.add_input("in", 1);
    let p = b.add_node("probe", Box::new(DropProbe));
    let o = b.add_output("out", 1);
    b.connect(i, 0, p, 0).unwrap();
    b.connect(p, 0, o, 0).unwrap();
    let (mut ctl, mut run) = b.build().unwrap().into_realtime();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let rt = std::thread::spawn(move || {
        let x = vec![0.5f32; 480];
        let mut y = vec![0.0f32; 480];
        let mut counts = AllocCounts::default();
        while !stop2.load(Ordering::Relaxed) {
            let ((), c) = count_allocations(|| run.process(&[&x], &mut [&mut y]));
            counts.allocs += c.allocs;
            counts.frees += c.frees;
            std::thread::yield_now();
        }
        (run, counts)
    });
    let mut e = ctl.edit();
    e.remove_node(p).unwrap();
    e.connect(i, 0, o, 0).unwrap();
    e.commit().unwrap();
    // Wait until the runner has sent the retired schedule back, then drop it here.
    let mut dropped = 0;
    while dropped == 0 {
        std::thread::yield_now();
        dropped = ctl.collect_garbage();
    }
    stop.store(true, Ordering::Relaxed);
    let (run, counts) = rt.join().unwrap();
    assert_eq!(
        *PROBE_DROPPED_ON.lock().unwrap(),
        Some(std::thread::current().id())
    );
    assert!(
        counts.is_zero(),
        "the real-time thread allocated or freed: {counts:?}"
    );
    assert_eq!(run.swaps(), 1);
}
