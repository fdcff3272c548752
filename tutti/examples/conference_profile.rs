//! Per-tick CPU profile of the conference bench's load, ticked back to back on this thread.
//!
//! `cargo run --release -p tutti --example conference_profile -- [legs] [ticks] [chain|-] [pause-ms]`
//! prints the mean thread CPU time per leg and tick and the tick-time percentiles; with `DUMP=1` every
//! tick's time too. Thread CPU time leaves out preemption, so it profiles on a busy machine; with a pause
//! between ticks the caches go cold as they do at the real 20 ms tick. Under `valgrind --tool=cachegrind`
//! the difference of two runs with different tick counts gives the instructions per leg and tick.

use std::time::Duration;

use tutti::conference::{profile_ticks, BenchConfig};
use tutti_codecs::CodecSpec;

fn arg<T: std::str::FromStr>(a: &[String], i: usize, default: T) -> T {
    a.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let legs: usize = arg(&a, 1, 300);
    let ticks: usize = arg(&a, 2, 1500).max(1);
    let chain = a.get(3).cloned().filter(|s| s != "-");
    let pause = Duration::from_millis(arg(&a, 4, 0));
    let cfg = BenchConfig {
        legs,
        codec: CodecSpec::Pcmu,
        seconds: 1.0,
        chain,
        talkers: 3,
        workers: 1,
        mix_rate: 16_000,
    };
    let times = match profile_ticks(&cfg, ticks, pause) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("conference_profile: {e}");
            std::process::exit(2);
        }
    };
    let us: Vec<f64> = times.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    let mut sorted = us.clone();
    sorted.sort_by(f64::total_cmp);
    let p = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let mean = us.iter().sum::<f64>() / us.len() as f64;
    println!(
        "legs {legs} ticks {ticks}: mean {mean:.0} µs ({:.2} µs per leg), p50 {:.0}, p99 {:.0}, p99.9 {:.0}, max {:.0}",
        mean / legs.max(1) as f64,
        p(0.5),
        p(0.99),
        p(0.999),
        p(1.0)
    );
    if std::env::var_os("DUMP").is_some() {
        for (i, v) in us.iter().enumerate() {
            println!("{i} {v:.0}");
        }
    }
}
