//! Graph building, validation errors, processing, latency, buffer reuse and statistics.
mod common;

use common::*;
use tutti_engine::{CountingAllocator, EngineError, GraphBuilder, StreamConfig};

#[global_allocator]
static A: CountingAllocator = CountingAllocator;

fn cfg() -> StreamConfig {
    StreamConfig::new(48_000, 1, 10.0).expect("48 kHz mono 10 ms is supported")
}

fn ramp(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32 / n as f32).collect()
}

#[test]
fn chain_processes_and_reports_latency() {
    let mut b = GraphBuilder::new(cfg());
    let i = b.add_input("in", 1);
    let g = b.add_node("g", Box::new(Gain::new(2.0)));
    let d = b.add_node("d", Box::new(Delay::new(7)));
    let o = b.add_output("out", 1);
    b.connect(i, 0, g, 0).unwrap();
    b.connect(g, 0, d, 0).unwrap();
    b.connect(d, 0, o, 0).unwrap();
    let mut graph = b.build().unwrap();
    assert_eq!(graph.latency(), 7);
    assert_eq!(graph.config(), cfg());
    let x = ramp(480);
    let mut y = vec![9.0f32; 480];
    graph.process(&[&x], &mut [&mut y]);
    assert!(y[..7].iter().all(|&v| v == 0.0));
    for k in 7..480 {
        assert_eq!(y[k], 2.0 * x[k - 7]);
    }
    let stats = graph.node_stats();
    assert_eq!(stats.len(), 2);
    assert_eq!((stats[0].label.as_str(), stats[0].name), ("g", "gain"));
    assert_eq!((stats[1].label.as_str(), stats[1].name), ("d", "delay"));
    assert!(stats
        .iter()
        .all(|s| s.blocks_measured == 1 && s.ns_per_block > 0.0));
}

#[test]
fn latency_is_the_longest_path() {
    let mut b = GraphBuilder::new(cfg());
    let i = b.add_input("in", 1);
    let short = b.add_node("short", Box::new(Delay::new(3)));
    let long1 = b.add_node("long1", Box::new(Delay::new(10)));
    let long2 = b.add_node("long2", Box::new(Delay::new(5)));
    let sum = b.add_node("sum", Box::new(Sum));
    let o = b.add_output("out", 1);
    b.connect(i, 0, short, 0).unwrap();
    b.connect(i, 0, long1, 0).unwrap();
    b.connect(long1, 0, long2, 0).unwrap();
    b.connect(short, 0, sum, 0).unwrap();
    b.connect(long2, 0, sum, 1).unwrap();
    b.connect(sum, 0, o, 0).unwrap();
    let mut g = b.build().unwrap();
    assert_eq!(g.latency(), 15);
    // An impulse comes out at 3 and at 15.
    let mut x = vec![0.0f32; 480];
    x[0] = 1.0;
    let mut y = vec![0.0f32; 480];
    g.process(&[&x], &mut [&mut y]);
    let hits: Vec<usize> = (0..480).filter(|&k| y[k] != 0.0).collect();
    assert_eq!(hits, vec![3, 15]);
}

#[test]
fn long_chain_reuses_two_buffers() {
    let mut b = GraphBuilder::new(cfg());
    let i = b.add_input("in", 1);
    let mut prev = i;
    for k in 0..100 {
        let n = b.add_node(&format!("p{k}"), Box::new(Pass));
        b.connect(prev, 0, n, 0).unwrap();
        prev = n;
    }
    let o = b.add_output("out", 1);
    b.connect(prev, 0, o, 0).unwrap();
    let mut g = b.build().unwrap();
    assert_eq!(g.buffer_count(), 2, "a chain alternates between two buffers");
    let x = ramp(480);
    let mut y = vec![0.0f32; 480];
    g.process(&[&x], &mut [&mut y]);
    assert_eq!(x, y);
}

#[test]
fn stereo_downmix_and_unconnected_ports() {
    let c = StreamConfig::new(16_000, 2, 10.0).unwrap();
    let mut b = GraphBuilder::new(c);
    let i = b.add_input("in", 2);
    let dm = b.add_node("dm", Box::new(Downmix));
    let sum = b.add_node("sum", Box::new(Sum)); // input 1 unconnected: silence
    let o = b.add_output("out", 1);
    let o2 = b.add_output("unused", 2); // unconnected output: silence
    b.connect(i, 0, dm, 0).unwrap();
    b.connect(dm, 0, sum, 0).unwrap();
    b.connect(sum, 0, o, 0).unwrap();
    let mut g = b.build().unwrap();
    assert_eq!(g.input_channels(), &[2]);
    assert_eq!(g.output_channels(), &[1, 2]);
    let _ = o2;
    let mut x = vec![0.0f32; 320];
    x[..160].fill(1.0);
    x[160..].fill(0.5);
    let mut y = vec![9.0f32; 160];
    let mut z = vec![9.0f32; 320];
    g.process(&[&x], &mut [&mut y, &mut z]);
    assert!(y.iter().all(|&v| v == 0.75));
    assert!(z.iter().all(|&v| v == 0.0));
}

#[test]
fn process_does_not_allocate() {
    assert!(tutti_engine::counting_is_active());
    let mut b = GraphBuilder::new(cfg());
    let i = b.add_input("in", 1);
    let g = b.add_node("g", Box::new(Gain::new(0.5)));
    let d = b.add_node("d", Box::new(Delay::new(100)));
    let o = b.add_output("out", 1);
    b.connect(i, 0, g, 0).unwrap();
    b.connect(g, 0, d, 0).unwrap();
    b.connect(d, 0, o, 0).unwrap();
    let mut graph = b.build().unwrap();
    let x = ramp(480);
    let mut y = vec![0.0f32; 480];
    let ((), counts) = count_allocations_blocks(|| {
        for _ in 0..100 {
            graph.process(&[&x], &mut [&mut y]);
        }
    });
    assert!(counts.is_zero(), "graph.process allocated: {counts:?}");
}

fn count_allocations_blocks<R>(f: impl FnOnce() -> R) -> (R, tutti_engine::AllocCounts) {
    tutti_engine::count_allocations(f)
}

#[test]
fn allocating_node_is_caught() {
    let mut b = GraphBuilder::new(cfg());
    let i = b.add_input("in", 1);
    let a = b.add_node("a", Box::new(Allocating));
    let o = b.add_output("out", 1);
    b.connect(i, 0, a, 0).unwrap();
    b.connect(a, 0, o, 0).unwrap();
    let mut graph = b.build().unwrap();
    let x = ramp(480);
    let mut y = vec![0.0f32; 480];
    let ((), counts) = tutti_engine::count_allocations(|| graph.process(&[&x], &mut [&mut y]));
    assert!(
        counts.allocs >= 1 && counts.frees >= 1,
        "the allocating node went unnoticed: {counts:?}"
    );
}

#[test]
fn validation_errors() {
    // Unknown port (output and input side) and unknown node id.
    let mut b = GraphBuilder::new(cfg());
    let i = b.add_input("in", 1);
    let p = b.add_node("p", Box::new(Pass));
    assert!(matches!(
        b.connect(i, 1, p, 0),
        Err(EngineError::UnknownPort {
            direction: "output",
            port: 1,
            available: 1,
            ..
        })
    ));
    assert!(matches!(
        b.connect(i, 0, p, 3),
        Err(EngineError::UnknownPort {
            direction: "input",
            port: 3,
            available: 1,
            ..
        })
    ));
    let mut other = GraphBuilder::new(cfg());
    for _ in 0..5 {
        other.add_node("x", Box::new(Pass));
    }
    let foreign = other.add_node("y", Box::new(Pass));
    assert!(matches!(
        b.connect(foreign, 0, p, 0),
        Err(EngineError::UnknownNodeId { id: 5 })
    ));

    // Input port driven twice.
    let q = b.add_node("q", Box::new(Pass));
    b.connect(i, 0, p, 0).unwrap();
    match b.connect(q, 0, p, 0) {
        Err(EngineError::PortInUse { at }) => assert!(at.contains("'p'"), "{at}"),
        other => panic!("expected PortInUse, got {other:?}"),
    }

    // Cycle s -> c -> s (a -> s feeds it, tail hangs off it), reported at a node on the cycle.
    let mut b = GraphBuilder::new(cfg());
    let a = b.add_node("a", Box::new(Pass));
    let s = b.add_node("s", Box::new(Sum));
    let c = b.add_node("c", Box::new(Pass));
    let tail = b.add_node("tail", Box::new(Pass));
    b.connect(a, 0, s, 0).unwrap();
    b.connect(s, 0, c, 0).unwrap();
    b.connect(c, 0, s, 1).unwrap();
    b.connect(c, 0, tail, 0).unwrap();
    match b.build() {
        Err(EngineError::Cycle { node }) => assert!(node == "s" || node == "c", "{node} is not on the cycle"),
        other => panic!("expected Cycle, got {:?}", other.map(|_| ())),
    }

    // Channel mismatch: stereo into a mono-only node.
    let c2 = StreamConfig::new(48_000, 2, 10.0).unwrap();
    let mut b = GraphBuilder::new(c2);
    let i = b.add_input("in", 2);
    let m = b.add_node("m", Box::new(MonoOnly));
    b.connect(i, 0, m, 0).unwrap();
    assert!(matches!(
        b.build(),
        Err(EngineError::ChannelMismatch {
            expected: 1,
            actual: 2,
            ..
        })
    ));

    // Channel mismatch: mono node output into a stereo external output.
    let mut b = GraphBuilder::new(c2);
    let i = b.add_input("in", 2);
    let dm = b.add_node("dm", Box::new(Downmix));
    let o = b.add_output("out", 2);
    b.connect(i, 0, dm, 0).unwrap();
    b.connect(dm, 0, o, 0).unwrap();
    match b.build() {
        Err(EngineError::ChannelMismatch {
            at,
            expected: 2,
            actual: 1,
        }) => assert!(at.contains("out")),
        other => panic!("expected ChannelMismatch, got {:?}", other.map(|_| ())),
    }

    // A node's own prepare error is passed through.
    let mut b = GraphBuilder::new(cfg());
    b.add_node("bad", Box::new(Refuses));
    assert!(matches!(b.build(), Err(EngineError::Prepare { .. })));

    // External port with zero channels.
    let mut b = GraphBuilder::new(cfg());
    b.add_input("in", 0);
    assert!(matches!(
        b.build(),
        Err(EngineError::UnsupportedChannels { actual: 0 })
    ));
}

#[test]
fn set_param_is_range_checked() {
    let mut b = GraphBuilder::new(cfg());
    let g = b.add_node("g", Box::new(Gain::new(1.0)));
    let p = b.add_node("p", Box::new(Pass));
    let mut graph = b.build().unwrap();
    assert_eq!(graph.find("g"), Some(g));
    graph.set_param(g, "gain", 2.0).unwrap();
    assert!(matches!(
        graph.set_param(g, "gain", 9.0),
        Err(EngineError::BadParam { .. })
    ));
    assert!(matches!(
        graph.set_param(g, "nope", 1.0),
        Err(EngineError::BadParam { .. })
    ));
    assert!(matches!(
        graph.set_param(p, "gain", 1.0),
        Err(EngineError::BadParam { .. })
    ));
}
