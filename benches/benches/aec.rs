//! µs per 10 ms block of the `aec` node at 16 kHz (250 and 500 ms tails) against SpeexDSP's echo
//! canceller (libspeexdsp, Debian `libspeexdsp-dev`, linked through FFI here) on the same signal in the
//! same process. Run: `cargo bench -p tutti-benches --bench aec -- --quick`.
#![allow(unsafe_code)]

use std::hint::black_box;
use std::os::raw::{c_int, c_void};

use criterion::{criterion_group, criterion_main, Criterion};
use tutti_engine::{Inputs, Outputs, StreamConfig};

#[link(name = "speexdsp")]
extern "C" {
    fn speex_echo_state_init(frame_size: c_int, filter_length: c_int) -> *mut c_void;
    fn speex_echo_state_destroy(st: *mut c_void);
    fn speex_echo_cancellation(st: *mut c_void, rec: *const i16, play: *const i16, out: *mut i16);
    fn speex_echo_ctl(st: *mut c_void, request: c_int, ptr: *mut c_void) -> c_int;
}
const SPEEX_ECHO_SET_SAMPLING_RATE: c_int = 24;

const RATE: u32 = 16000;
const N: usize = 160;
const BLOCKS: usize = 500;

/// Far-end noise and its echo (delay 60 ms, two taps) with near-end noise: 5 s.
fn signals() -> (Vec<f32>, Vec<f32>) {
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

fn bench_aec(c: &mut Criterion) {
    let (mic, far) = signals();
    let mut group = c.benchmark_group("aec_16k_10ms");
    for tail in [250, 500] {
        let ty = tutti_effects::node_types()
            .into_iter()
            .find(|t| t.name == "aec")
            .expect("aec is registered");
        let mut p = ty
            .build(&[("tail_ms".into(), tail.to_string())])
            .expect("valid tail");
        p.prepare(&StreamConfig::new(RATE, 1, 10.0).expect("16 kHz, 10 ms"))
            .expect("prepare");
        let mut pool = vec![vec![0.0f32; N], vec![0.0f32; N]];
        let index = [0usize, 1];
        let mut outs = vec![vec![0.0f32; N]];
        let mut b = 0;
        group.bench_function(format!("tutti_tail{tail}ms"), |bch| {
            bch.iter(|| {
                pool[0].copy_from_slice(&mic[b * N..(b + 1) * N]);
                pool[1].copy_from_slice(&far[b * N..(b + 1) * N]);
                b = (b + 1) % BLOCKS;
                let ins = Inputs::new(&pool, &index, N);
                let mut o = Outputs::new(&mut outs, N);
                p.process(&ins, &mut o);
                black_box(&outs);
            })
        });
    }
    let q = |v: &f32| (v * 32768.0) as i16;
    let mic16: Vec<i16> = mic.iter().map(q).collect();
    let far16: Vec<i16> = far.iter().map(q).collect();
    for tail in [250usize, 500] {
        // SAFETY: valid sizes; the state is destroyed at the end of this iteration of the loop.
        let st = unsafe { speex_echo_state_init(N as c_int, (tail * RATE as usize / 1000) as c_int) };
        assert!(!st.is_null(), "speex_echo_state_init failed");
        let mut r = RATE as c_int;
        // SAFETY: `st` is a valid echo state and the request takes a pointer to an int.
        unsafe { speex_echo_ctl(st, SPEEX_ECHO_SET_SAMPLING_RATE, (&mut r as *mut c_int).cast()) };
        let mut out = vec![0i16; N];
        let mut b = 0;
        group.bench_function(format!("speex_tail{tail}ms"), |bch| {
            bch.iter(|| {
                // SAFETY: the three buffers hold N samples, the frame size the state was created for.
                unsafe {
                    speex_echo_cancellation(
                        st,
                        mic16[b * N..].as_ptr(),
                        far16[b * N..].as_ptr(),
                        out.as_mut_ptr(),
                    )
                };
                b = (b + 1) % BLOCKS;
                black_box(&out);
            })
        });
        // SAFETY: created above, destroyed once.
        unsafe { speex_echo_state_destroy(st) };
    }
    group.finish();
}

criterion_group!(benches, bench_aec);
criterion_main!(benches);
