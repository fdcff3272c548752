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

/// A seeded uniform generator on [−0.5, 0.5) (xorshift32; `seed` non-zero) for the benches' test signals.
pub fn xorshift(seed: u32) -> impl FnMut() -> f32 {
    let mut s = seed;
    move || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        s as f32 / u32::MAX as f32 - 0.5
    }
}

/// The voice chain of issue 5 on a fixed test signal, shared by `benches/aec.rs` and the
/// `voice_chain` example (a fixed workload for profilers such as callgrind or perf).
#[allow(unsafe_code)] // SpeexDSP's canceller through FFI, as the reference
pub mod voice_chain {
    use std::hint::black_box;
    use std::os::raw::{c_int, c_void};

    use tutti_engine::{Inputs, Outputs, Processor, StreamConfig};

    /// Sample rate, Hz.
    pub const RATE: u32 = 16000;
    /// Samples per 10 ms block.
    pub const N: usize = 160;
    /// Blocks in the test signal (5 s).
    pub const BLOCKS: usize = 500;

    /// Far-end noise and its echo (delay 60 ms, two taps) with near-end noise: 5 s, as `(mic, far)`.
    pub fn signals() -> (Vec<f32>, Vec<f32>) {
        let mut rnd = super::xorshift(0x1234_5678);
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

    #[link(name = "speexdsp")]
    extern "C" {
        fn speex_echo_state_init(frame_size: c_int, filter_length: c_int) -> *mut c_void;
        fn speex_echo_state_destroy(st: *mut c_void);
        fn speex_echo_cancellation(st: *mut c_void, rec: *const i16, play: *const i16, out: *mut i16);
        fn speex_echo_ctl(st: *mut c_void, request: c_int, ptr: *mut c_void) -> c_int;
    }
    const SPEEX_ECHO_SET_SAMPLING_RATE: c_int = 24;

    /// A SpeexDSP echo state, destroyed on drop.
    struct Speex(*mut c_void);

    impl Speex {
        /// The state pointer (a method, so that closures capture the owner, not a copy of the pointer).
        fn ptr(&self) -> *mut c_void {
            self.0
        }
    }

    impl Drop for Speex {
        fn drop(&mut self) {
            // SAFETY: created by `speex_echo_state_init`, destroyed once.
            unsafe { speex_echo_state_destroy(self.0) };
        }
    }

    /// SpeexDSP's canceller with a `tail` ms filter, frame by frame.
    pub fn speex_step(tail: usize, mic: &[f32], far: &[f32]) -> impl FnMut() {
        // SAFETY: valid sizes; the state is owned by `Speex`, which destroys it.
        let st = Speex(unsafe { speex_echo_state_init(N as c_int, (tail * RATE as usize / 1000) as c_int) });
        assert!(!st.0.is_null(), "speex_echo_state_init failed");
        let mut r = RATE as c_int;
        // SAFETY: `st` is a valid echo state and the request takes a pointer to an int.
        unsafe { speex_echo_ctl(st.0, SPEEX_ECHO_SET_SAMPLING_RATE, (&mut r as *mut c_int).cast()) };
        let q = |v: &f32| (v * 32768.0) as i16;
        let mic16: Vec<i16> = mic.iter().map(q).collect();
        let far16: Vec<i16> = far.iter().map(q).collect();
        let mut out = vec![0i16; N];
        let mut b = 0;
        move || {
            // SAFETY: the three buffers hold N samples, the frame size the state was created for.
            unsafe {
                speex_echo_cancellation(
                    st.ptr(),
                    mic16[b * N..].as_ptr(),
                    far16[b * N..].as_ptr(),
                    out.as_mut_ptr(),
                )
            };
            b = (b + 1) % BLOCKS;
            black_box(&out);
        }
    }
}
