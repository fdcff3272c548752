//! Runs the voice chain of `benches/aec.rs` (`hpf` → `aec` 500 ms → `ns` → `agc`, 16 kHz, 10 ms blocks)
//! over a fixed number of blocks: a steady workload for instruction-level profilers, whose counts do not
//! depend on the machine's load.
//!
//! `cargo build --release -p tutti-benches --example voice_chain`, then
//! `valgrind --tool=callgrind target/release/examples/voice_chain 2000` (the argument: blocks to run after
//! 200 warm-up blocks; default 2000) and `callgrind_annotate --inclusive=yes callgrind.out.*`. The
//! `process` calls dominate the counts; divide by the number of blocks for instructions per block.

use tutti_benches::voice_chain::{chain_step, signals};

fn main() {
    let blocks: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 2000,
        Some(Ok(b)) => b,
        Some(Err(e)) => {
            eprintln!("voice_chain: blocks: {e}");
            std::process::exit(2);
        }
    };
    let _ftz = tutti_engine::DenormalGuard::new();
    let (mic, far) = signals();
    let mut step = chain_step(mic, far);
    for _ in 0..200 + blocks {
        step();
    }
}
