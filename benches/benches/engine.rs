//! Engine benchmarks: per-node overhead, graph compile time, control-to-audio latency.
//!
//! Run: `cargo bench -p tutti-benches --bench engine` (add `-- --quick` for a short run).
//!
//! * `engine/chain_noop/N`, `engine/chain_pass/N`: one 10 ms block (480 frames, 48 kHz mono) through a
//!   chain of N nodes that do nothing (pure engine overhead: dispatch, buffer swaps, profiling) or copy
//!   their input (pass-through). Divide the time by N for the cost per node per block.
//! * `engine/dag_sum/N`: a random DAG of N two-input summing nodes (fan-out and fan-in, buffer reuse).
//! * `engine/compile/1000`: validating, preparing and compiling a 1000-node chain (`GraphBuilder::build`);
//!   `engine/edit_commit/1000`: a hot edit (insert one node) of a live 1000-node graph, control side.
//! * `engine/param/*`: the command path of a parameter change, `GraphController::set_param` → the node's
//!   `set_param` at the start of the next block (measured with a 1-frame block; in a stream the change
//!   waits for the next block start, at most one block), single and in a burst of 64.
//!
//! Times are CPU time of the benchmarking thread (`CLOCK_THREAD_CPUTIME_ID`), so a loaded build machine
//! does not inflate them; throughput lines read as ns per node (`ns/elem`).
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tutti_engine::{EngineError, Graph, GraphBuilder, Inputs, Outputs, ParamInfo, Processor, StreamConfig};

/// CPU time of the calling thread, as a criterion measurement.
struct CpuTime;

fn cpu_now() -> Duration {
    tutti_engine::thread_cpu_time().expect("thread CPU time is available on the benchmark platform")
}

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;
    fn start(&self) -> Duration {
        cpu_now()
    }
    fn end(&self, i: Duration) -> Duration {
        cpu_now() - i
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &NsFormatter
    }
}

/// Formats nanoseconds; throughput in elements is shown as ns per element.
struct NsFormatter;

impl ValueFormatter for NsFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (f, unit) = match typical {
            t if t < 1e3 => (1.0, "ns"),
            t if t < 1e6 => (1e-3, "µs"),
            t if t < 1e9 => (1e-6, "ms"),
            _ => (1e-9, "s"),
        };
        values.iter_mut().for_each(|v| *v *= f);
        unit
    }
    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let n = match *t {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) | Throughput::Elements(n) => n.max(1) as f64,
        };
        values.iter_mut().for_each(|v| *v /= n);
        "ns/elem"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

struct Noop;

impl Processor for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }
    fn prepare(&mut self, _cfg: &StreamConfig) -> Result<(), EngineError> {
        Ok(())
    }
    fn process(&mut self, _inputs: &Inputs<'_>, _outputs: &mut Outputs<'_>) {}
    fn reset(&mut self) {}
}

struct Pass;

impl Processor for Pass {
    fn name(&self) -> &'static str {
        "pass"
    }
    fn prepare(&mut self, _cfg: &StreamConfig) -> Result<(), EngineError> {
        Ok(())
    }
    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        outputs.port(0).copy_from(&inputs.port(0));
    }
    fn reset(&mut self) {}
}

struct Sum;

impl Processor for Sum {
    fn name(&self) -> &'static str {
        "sum"
    }
    fn num_inputs(&self) -> usize {
        2
    }
    fn prepare(&mut self, _cfg: &StreamConfig) -> Result<(), EngineError> {
        Ok(())
    }
    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let (a, b) = (inputs.port(0), inputs.port(1));
        let mut o = outputs.port(0);
        for ((d, x), y) in o.as_mut_slice().iter_mut().zip(a.as_slice()).zip(b.as_slice()) {
            *d = x + y;
        }
    }
    fn reset(&mut self) {}
}

const PARAMS: &[ParamInfo] = &[ParamInfo::new("v", "", 0.0, 1e9, 0.0, "value to acknowledge")];

/// Publishes every parameter value it receives, so the control side sees when it has been applied.
struct Ack(Arc<AtomicU64>);

impl Processor for Ack {
    fn name(&self) -> &'static str {
        "ack"
    }
    fn prepare(&mut self, _cfg: &StreamConfig) -> Result<(), EngineError> {
        Ok(())
    }
    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        outputs.port(0).copy_from(&inputs.port(0));
    }
    fn reset(&mut self) {}
    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }
    fn set_param(&mut self, _index: usize, value: f32) {
        self.0.store(value as u64, Ordering::Release);
    }
}

fn cfg() -> StreamConfig {
    StreamConfig::new(48_000, 1, 10.0).expect("48 kHz mono 10 ms is supported")
}

fn chain_builder(n: usize, make: fn() -> Box<dyn Processor>) -> GraphBuilder {
    let mut b = GraphBuilder::new(cfg());
    let i = b.add_input("in", 1);
    let mut prev = i;
    for k in 0..n {
        let node = b.add_node(&format!("n{k}"), make());
        b.connect(prev, 0, node, 0).expect("chain edges are valid");
        prev = node;
    }
    let o = b.add_output("out", 1);
    b.connect(prev, 0, o, 0).expect("chain edges are valid");
    b
}

/// A random DAG: node k sums two earlier nodes (or the input), seeded LCG for repeatability.
fn dag(n: usize) -> Graph {
    let mut b = GraphBuilder::new(cfg());
    let i = b.add_input("in", 1);
    let mut nodes = vec![i];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut pick = |len: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // Mostly recent nodes, so that buffers die and get reused.
        let back = ((seed >> 33) as usize % 8).min(len - 1);
        len - 1 - back
    };
    for k in 0..n {
        let node = b.add_node(&format!("s{k}"), Box::new(Sum));
        let (x, y) = (pick(nodes.len()), pick(nodes.len()));
        b.connect(nodes[x], 0, node, 0).expect("valid edge");
        b.connect(nodes[y], 0, node, 1).expect("valid edge");
        nodes.push(node);
    }
    let o = b.add_output("out", 1);
    b.connect(*nodes.last().expect("non-empty"), 0, o, 0)
        .expect("valid edge");
    b.build().expect("a DAG builds")
}

fn overhead(c: &mut Criterion<CpuTime>) {
    let mut g = c.benchmark_group("engine");
    let x = vec![0.25f32; 480];
    let mut y = vec![0.0f32; 480];
    for n in [1usize, 10, 100, 1000] {
        g.throughput(Throughput::Elements(n as u64));
        let mut graph = chain_builder(n, || Box::new(Noop)).build().expect("chain builds");
        g.bench_with_input(BenchmarkId::new("chain_noop", n), &n, |bch, _| {
            bch.iter(|| graph.process(&[&x], &mut [&mut y]))
        });
        let mut graph = chain_builder(n, || Box::new(Pass)).build().expect("chain builds");
        g.bench_with_input(BenchmarkId::new("chain_pass", n), &n, |bch, _| {
            bch.iter(|| graph.process(&[&x], &mut [&mut y]))
        });
        let mut graph = dag(n);
        g.bench_with_input(BenchmarkId::new("dag_sum", n), &n, |bch, _| {
            bch.iter(|| graph.process(&[&x], &mut [&mut y]))
        });
    }
    g.throughput(Throughput::Elements(1000));
    g.bench_function("compile/1000", |bch| {
        bch.iter_batched(
            || chain_builder(1000, || Box::new(Pass)),
            |b| black_box(b.build().expect("chain builds")),
            criterion::BatchSize::SmallInput,
        )
    });
    let live = tutti_engine::LiveOptions {
        fade_ms: 0.0,
        ..Default::default()
    };
    let (mut ctl, mut run) = chain_builder(1000, || Box::new(Pass))
        .build()
        .expect("builds")
        .into_realtime_with(live);
    let nodes = ctl.nodes();
    let mut k = 0usize;
    g.throughput(Throughput::Elements(1));
    g.bench_function("edit_commit/1000", |bch| {
        bch.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // Timed: insert a node after node k (validate, prepare, compile, send).
                let (a, b) = (nodes[k % 999], nodes[k % 999 + 1]);
                k += 1;
                let t = cpu_now();
                let mut e = ctl.edit();
                e.disconnect(b, 0).expect("b exists");
                let n = e.add_node("x", Box::new(Pass));
                e.connect(a, 0, n, 0).expect("valid");
                e.connect(n, 0, b, 0).expect("valid");
                e.commit().expect("commit fits the queue");
                total += cpu_now() - t;
                // Untimed: undo, so the graph stays at 1000 nodes, and let the runner swap.
                let mut e = ctl.edit();
                e.remove_node(n).expect("n exists");
                e.connect(a, 0, b, 0).expect("valid");
                e.commit().expect("commit fits the queue");
                while ctl.pending() > 0 {
                    run.process(&[&x], &mut [&mut y]);
                }
                ctl.collect_garbage();
            }
            total
        })
    });
    g.finish();
}

fn ack_graph(
    frames: usize,
) -> (
    tutti_engine::GraphController,
    tutti_engine::GraphRunner,
    Arc<AtomicU64>,
) {
    let ack = Arc::new(AtomicU64::new(0));
    let c = StreamConfig::with_frames(48_000, 1, frames).expect("valid config");
    let mut b = GraphBuilder::new(c);
    let i = b.add_input("in", 1);
    let a = b.add_node("ack", Box::new(Ack(ack.clone())));
    let o = b.add_output("out", 1);
    b.connect(i, 0, a, 0).expect("valid");
    b.connect(a, 0, o, 0).expect("valid");
    let (ctl, run) = b.build().expect("builds").into_realtime();
    (ctl, run, ack)
}

fn param_latency(c: &mut Criterion<CpuTime>) {
    let mut g = c.benchmark_group("engine/param");
    let (mut ctl, mut run, ack) = ack_graph(1);
    let id = ctl.find("ack").expect("labelled node");
    let x = [0.0f32; 1];
    let mut y = [0.0f32; 1];
    let mut v = 0u64;
    g.bench_function("set_to_applied", |bch| {
        bch.iter(|| {
            v = (v + 1) % 1_000_000;
            ctl.set_param(id, "v", v as f32).expect("in range");
            run.process(&[&x], &mut [&mut y]);
            assert_eq!(ack.load(Ordering::Acquire), v, "applied at the next block");
        })
    });
    g.throughput(Throughput::Elements(64));
    g.bench_function("burst_64_set_to_applied", |bch| {
        bch.iter(|| {
            for _ in 0..64 {
                v = (v + 1) % 1_000_000;
                ctl.set_param(id, "v", v as f32).expect("in range");
            }
            run.process(&[&x], &mut [&mut y]);
            assert_eq!(ack.load(Ordering::Acquire), v, "all applied at the next block");
        })
    });
    g.bench_function("empty_block_no_commands", |bch| {
        bch.iter(|| run.process(&[&x], &mut [&mut y]))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = overhead, param_latency
}
criterion_main!(benches);
