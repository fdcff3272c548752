//! Runs the voice chain of `benches/aec.rs` (`hpf` → `aec` 500 ms → `ns` → `agc`, 16 kHz, 10 ms blocks),
//! or SpeexDSP's echo canceller on the same signals, over a fixed number of blocks: a steady workload for
//! instruction-level profilers, whose counts do not depend on the machine's load.
//!
//! `cargo build --release -p tutti-benches --example voice_chain`, then
//! `valgrind --tool=callgrind target/release/examples/voice_chain [BLOCKS] [chain|speex500|speex250]`
//! (default 2000 blocks of the chain, after 200 warm-up blocks) and `callgrind_annotate --inclusive=yes
//! callgrind.out.*`. `scripts/voice_instructions.sh` does it for the chain and Speex and prints the
//! instructions per block and their ratio.

use tutti_benches::voice_chain::{chain_step, signals, speex_step};

fn main() {
    let mut args = std::env::args().skip(1);
    let blocks: usize = match args.next().map(|a| a.parse()) {
        None => 2000,
        Some(Ok(b)) => b,
        Some(Err(e)) => {
            eprintln!("voice_chain: BLOCKS: {e}");
            std::process::exit(2);
        }
    };
    let _ftz = tutti_engine::DenormalGuard::new();
    let (mic, far) = signals();
    let mut step: Box<dyn FnMut()> = match args.next().as_deref() {
        None | Some("chain") => Box::new(chain_step(mic, far)),
        Some("speex500") => Box::new(speex_step(500, &mic, &far)),
        Some("speex250") => Box::new(speex_step(250, &mic, &far)),
        Some(other) => {
            eprintln!("voice_chain: unknown workload {other:?} (chain, speex500, speex250)");
            std::process::exit(2);
        }
    };
    for _ in 0..200 + blocks {
        step();
    }
}
