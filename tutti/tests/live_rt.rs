//! Real-time safety of the live path: the input-callback half (`InputSink::push`) and the
//! output-callback half (`OutputEngine::render`: ring pull, re-chunking, graph runner, far-end copy)
//! allocate nothing, for arbitrary device buffer sizes, once built. Proven with the counting allocator.

use tutti::chain;
use tutti::live::build_path;
use tutti_engine::{count_allocations, counting_is_active, CountingAllocator};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// Seeded xorshift callback sizes in 1..=max.
fn sizes(seed: u64, n: usize, max: usize) -> Vec<usize> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % max as u64) as usize + 1
        })
        .collect()
}

fn run(spec: &str, dev_in: usize, dev_out: usize) {
    assert!(counting_is_active(), "the counting allocator must be installed");
    let types = tutti::registry::node_types();
    let nodes = chain::parse(spec).expect("valid chain spec");
    let mut p = build_path(&nodes, &types, 48_000, dev_in, dev_out, 10.0).expect("chain builds");
    let max = 1500;
    // Buffers and the tone are allocated up front, outside the counted region.
    let mut inbuf = vec![0.0f32; max * dev_in];
    let mut outbuf = vec![0.0f32; max * dev_out];
    let mut phase = 0.0f32;
    let mut step = |n: usize, p: &mut tutti::live::Path| {
        for fr in inbuf[..n * dev_in].chunks_mut(dev_in) {
            phase += 2.0 * std::f32::consts::PI * 440.0 / 48_000.0;
            fr.fill(0.25 * phase.sin());
        }
        p.input.push(&inbuf[..n * dev_in]);
        p.output.render(&mut outbuf[..n * dev_out]);
    };
    // Warm-up: priming and the first 100 engine blocks (past the graph's first profiled blocks, which
    // are measured every 32nd block).
    for n in [256, 256, 480, 1024, 64] {
        step(n, &mut p);
    }
    for _ in 0..100 {
        step(480, &mut p);
    }
    // The callback sizes are drawn before counting: only the callback path is measured.
    let plan = sizes(7, 2000, max);
    let ((), counts) = count_allocations(|| {
        for &n in &plan {
            step(n, &mut p);
        }
    });
    assert_eq!(counts.allocs, 0, "{spec}: the live callback path allocated");
    assert_eq!(counts.frees, 0, "{spec}: the live callback path freed memory");
    let s = p.stats.snapshot();
    assert_eq!(
        s.output_underruns, 0,
        "{spec}: equal input and output sizes never underrun"
    );
    assert_eq!(s.input_overruns, 0);
    assert!(
        outbuf.iter().any(|&x| x != 0.0),
        "{spec}: the output carries the processed tone"
    );
}

#[test]
fn gain_chain_callback_path_does_not_allocate() {
    run("gain(db=-6),hpf", 2, 2);
}

#[test]
fn voice_chain_with_far_end_does_not_allocate() {
    run("hpf,aec,ns,agc", 1, 2);
}
