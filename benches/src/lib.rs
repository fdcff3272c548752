//! Shared helpers for the criterion benches in `benches/benches/`.

/// This thread's CPU time in ns (`CLOCK_THREAD_CPUTIME_ID`; `None` where the platform has none). The
/// benches print it beside criterion's wall-clock figures because on a loaded machine wall time also
/// counts the time other processes ran.
pub fn thread_cpu_ns() -> Option<u64> {
    tutti_engine::thread_cpu_time().map(|d| d.as_nanos() as u64)
}

/// Whether criterion's name filter (the first free command-line argument; `a|b` alternatives, matched
/// as substrings) selects `label`.
pub fn selected(label: &str) -> bool {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    filter.is_none_or(|f| f.split('|').any(|alt| label.contains(alt)))
}

/// The voice chain of issue 5 on a fixed test signal, shared by `benches/aec.rs` and the
/// `voice_chain` example (a fixed workload for profilers such as callgrind or perf).
pub mod voice_chain {
    use std::hint::black_box;

    use tutti_engine::{Inputs, Outputs, Processor, StreamConfig};

    /// Sample rate, Hz.
    pub const RATE: u32 = 16000;
    /// Samples per 10 ms block.
    pub const N: usize = 160;
    /// Blocks in the test signal (5 s).
    pub const BLOCKS: usize = 500;

    /// Far-end noise and its echo (delay 60 ms, two taps) with near-end noise: 5 s, as `(mic, far)`.
    pub fn signals() -> (Vec<f32>, Vec<f32>) {
        let mut s = 0x1234_5678u32;
        let mut rnd = move || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s as f32 / u32::MAX as f32 - 0.5
        };
        let far: Vec<f32> = (0..N * BLOCKS).map(|_| 0.2 * rnd()).collect();
        let d = 960;
        let mic = (0..far.len())
            .map(|i| {
                let e = if i >= d + 40 {
                    0.5 * far[i - d] - 0.2 * far[i - d - 40]
                } else {
                    0.0
                };
                e + 0.01 * rnd()
            })
            .collect();
        (mic, far)
    }

    pub fn node(name: &str, args: &[(&str, &str)]) -> Box<dyn Processor> {
        let args: Vec<(String, String)> = args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        tutti_effects::node_types()
            .into_iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name} is registered"))
            .build(&args)
            .expect("valid parameters")
    }

    pub fn cfg() -> StreamConfig {
        StreamConfig::new(RATE, 1, 10.0).expect("16 kHz, 10 ms")
    }

    /// `hpf` → `aec` (tail 500 ms, far-end on its second input) → `ns` → `agc`, block by block.
    pub fn chain_step(mic: Vec<f32>, far: Vec<f32>) -> impl FnMut() {
        let mut hpf = node("hpf", &[]);
        let mut aec = node("aec", &[("tail_ms", "500")]);
        let mut ns = node("ns", &[]);
        let mut agc = node("agc", &[]);
        for p in [&mut hpf, &mut aec, &mut ns, &mut agc] {
            p.prepare(&cfg()).expect("prepare");
        }
        // Buffers: 0 microphone, 1 far-end, 2 and 3 ping-pong.
        let mut bufs = vec![vec![0.0f32; N]; 4];
        let mut b = 0;
        move || {
            bufs[0].copy_from_slice(&mic[b * N..(b + 1) * N]);
            bufs[1].copy_from_slice(&far[b * N..(b + 1) * N]);
            b = (b + 1) % BLOCKS;
            let (ins, outs) = bufs.split_at_mut(2);
            {
                let i = Inputs::new(ins, &[0], N);
                let mut o = Outputs::new(&mut outs[..1], N);
                hpf.process(&i, &mut o);
            }
            ins[0].copy_from_slice(&outs[0]);
            {
                let i = Inputs::new(ins, &[0, 1], N);
                let mut o = Outputs::new(&mut outs[..1], N);
                aec.process(&i, &mut o);
            }
            {
                let (a, c) = outs.split_at_mut(1);
                let i = Inputs::new(a, &[0], N);
                let mut o = Outputs::new(c, N);
                ns.process(&i, &mut o);
            }
            {
                let (a, c) = outs.split_at_mut(1);
                let i = Inputs::new(c, &[0], N);
                let mut o = Outputs::new(a, N);
                agc.process(&i, &mut o);
            }
            black_box(&outs[0]);
        }
    }
}
