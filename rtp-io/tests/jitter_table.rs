//! The jitter × loss quality table of the adaptive jitter buffer, side by side with SpeexDSP's jitter buffer
//! (libspeexdsp, Debian `libspeexdsp-dev`, through FFI) on the same deterministic network traces.
//!
//! Each cell sends 60 s of 20 ms packets through the seeded simulator of `jb_common` (gamma jitter with mean
//! J ms, Gilbert–Elliott bursty loss of mean rate L and mean burst 2 packets, 1 % duplicates, sender clock
//! +100 ppm fast) and plays it out every 20 ms of receiver time (time is an input: no clock, no sleeping).
//! Per buffer it records the mean buffer delay (arrival to playout of each played packet), the late loss
//! (packets that arrived but were discarded as too late, % of sent) and the concealment (% of output time
//! after playout started). `cargo test --release -p tutti-rtp --test jitter_table -- --nocapture` prints the
//! table; the figures are in `rtp-io/README.md`.

mod jb_common;

use std::collections::{BTreeMap, BTreeSet};

use jb_common::*;
use tutti_rtp::{JitterBuffer, JitterConfig, PlayoutKind};

const RATE: u32 = 8000;
const SECONDS: f64 = 60.0;

/// Minimal FFI to `speex/speex_jitter.h`.
mod speex {
    use std::os::raw::{c_char, c_int, c_void};

    #[repr(C)]
    pub struct JitterBufferPacket {
        pub data: *mut c_char,
        pub len: u32,
        pub timestamp: u32,
        pub span: u32,
        pub sequence: u16,
        pub user_data: u32,
    }

    pub const JITTER_BUFFER_OK: c_int = 0;

    #[link(name = "speexdsp")]
    extern "C" {
        pub fn jitter_buffer_init(step_size: c_int) -> *mut c_void;
        pub fn jitter_buffer_destroy(jb: *mut c_void);
        pub fn jitter_buffer_put(jb: *mut c_void, packet: *const JitterBufferPacket);
        pub fn jitter_buffer_get(
            jb: *mut c_void,
            packet: *mut JitterBufferPacket,
            desired_span: i32,
            start_offset: *mut i32,
        ) -> c_int;
        pub fn jitter_buffer_tick(jb: *mut c_void);
    }
}

/// The least mean delay any playout that emits 20 ms frames at the receiver's 20 ms ticks can have: each
/// packet (first copy) waits from its arrival to the next tick at or after it, where its frame can start.
fn tick_bound_ms(trace: &Trace) -> f64 {
    let mut first: BTreeMap<u32, i64> = BTreeMap::new();
    for d in &trace.deliveries {
        let e = first.entry(d.index).or_insert(d.arrival_us);
        *e = (*e).min(d.arrival_us);
    }
    let tick = 20_000i64;
    let sum: i64 = first
        .values()
        .map(|&a| (a + tick - 1).div_euclid(tick) * tick - a)
        .sum();
    sum as f64 / 1000.0 / first.len().max(1) as f64
}

/// One buffer's figures for one cell.
#[derive(Debug, Clone, Copy)]
struct Figures {
    mean_delay_ms: f64,
    late_pct: f64,
    concealed_pct: f64,
}

fn model(jitter_ms: f64, loss: f64) -> NetModel {
    let mut m = NetModel {
        dup: 0.01,
        skew_ppm: 100.0,
        ..NetModel::clean()
    };
    if jitter_ms > 0.0 {
        m = m.gamma(2.0, jitter_ms / 2.0);
    }
    if loss > 0.0 {
        m = m.bursty_loss(loss, 2.0);
    }
    m
}

fn ours(trace: &Trace) -> Figures {
    ours_with(trace, JitterConfig::new(RATE, RATE, 1))
}

fn ours_with(trace: &Trace, cfg: JitterConfig) -> Figures {
    let mut jb = JitterBuffer::new(cfg);
    let mut dec = TraceDecoder::new(RATE);
    let p = run(&mut jb, &mut dec, trace, (SECONDS as u64 + 5) * 1000);
    let s = jb.stats();
    let late: BTreeSet<u32> = p.late.iter().copied().collect();
    let started = p
        .kinds
        .iter()
        .position(|&k| k == PlayoutKind::Normal)
        .unwrap_or(0);
    let after = (p.kinds.len() - started) as f64 * f64::from(jb.frame_samples() as u32);
    Figures {
        mean_delay_ms: s.mean_delay_ms(),
        late_pct: 100.0 * late.len() as f64 / trace.sent as f64,
        concealed_pct: 100.0 * s.concealed_samples as f64 / after,
    }
}

fn speexdsp(trace: &Trace) -> Figures {
    let span = RATE / 50;
    // SAFETY: `jitter_buffer_init` returns an owned state (or null, checked) that is destroyed below and
    // used only in between.
    let jb = unsafe { speex::jitter_buffer_init(span as i32) };
    assert!(!jb.is_null(), "jitter_buffer_init failed");
    let mut data = [0 as std::os::raw::c_char; 64];
    let mut next = 0;
    let mut played = BTreeSet::new();
    let (mut delay_sum, mut delay_n) = (0.0, 0u64);
    let (mut frames_after_start, mut concealed) = (0u64, 0u64);
    let mut delivered = BTreeSet::new();
    let mut first_arrival: BTreeMap<u32, i64> = BTreeMap::new();
    for d in &trace.deliveries {
        let e = first_arrival.entry(d.index).or_insert(d.arrival_us);
        *e = (*e).min(d.arrival_us);
    }
    let end_ms = (SECONDS as u64 + 5) * 1000;
    let mut t_ms = 0u64;
    while t_ms < end_ms {
        let now_us = (t_ms * 1000) as i64;
        while next < trace.deliveries.len() && trace.deliveries[next].arrival_us <= now_us {
            let d = &trace.deliveries[next];
            delivered.insert(d.index);
            let mut payload = [0 as std::os::raw::c_char; 4];
            let p = speex::JitterBufferPacket {
                data: payload.as_mut_ptr(),
                len: 4,
                // Timestamps from 0 (the simulator's start just below the 32-bit wrap is ours to handle).
                timestamp: d.ts.wrapping_sub(0xFFFF_0000),
                span,
                sequence: d.seq,
                user_data: d.index,
            };
            // SAFETY: `jb` is live; the packet points at 4 valid bytes that speex copies during the call.
            unsafe { speex::jitter_buffer_put(jb, &p) };
            next += 1;
        }
        let mut out = speex::JitterBufferPacket {
            data: data.as_mut_ptr(),
            len: data.len() as u32,
            timestamp: 0,
            span: 0,
            sequence: 0,
            user_data: 0,
        };
        let mut offset = 0i32;
        // SAFETY: `jb` is live; `out.data` points at `out.len` writable bytes; `offset` is a valid i32.
        let r = unsafe { speex::jitter_buffer_get(jb, &mut out, span as i32, &mut offset) };
        // SAFETY: `jb` is live.
        unsafe { speex::jitter_buffer_tick(jb) };
        if r == speex::JITTER_BUFFER_OK {
            if played.insert(out.user_data) {
                let arrival = first_arrival[&out.user_data];
                delay_sum += (now_us - arrival) as f64 / 1000.0;
                delay_n += 1;
            }
        } else if !played.is_empty() {
            concealed += 1;
        }
        if !played.is_empty() {
            frames_after_start += 1;
        }
        t_ms += 20;
        if next == trace.deliveries.len() && played.len() == delivered.len() {
            break;
        }
    }
    // SAFETY: created above, not used after this.
    unsafe { speex::jitter_buffer_destroy(jb) };
    // Trailing frames after the last packet are not concealment of the stream.
    let late = delivered.len() - played.len();
    Figures {
        mean_delay_ms: delay_sum / delay_n.max(1) as f64,
        late_pct: 100.0 * late as f64 / trace.sent as f64,
        concealed_pct: 100.0 * concealed as f64 / frames_after_start.max(1) as f64,
    }
}

/// The cell's trace: seeds `seed_base + 10 · jitter index + loss index`.
fn cell_trace(audio: &[i16], ji: usize, li: usize, seed_base: u64) -> Trace {
    let (j, l) = (JITTERS[ji], LOSSES[li]);
    simulate(
        audio,
        RATE,
        20,
        &model(j, l),
        seed_base + (ji * 10 + li) as u64,
        &|_| true,
    )
}

const JITTERS: [f64; 4] = [0.0, 20.0, 40.0, 80.0];
const LOSSES: [f64; 4] = [0.0, 0.02, 0.05, 0.10];

/// What each part of the target rule buys (`rtp-io/README.md`, "What changed"), and the table on other
/// seeds: prints rows, asserts nothing. `cargo test --release -p tutti-rtp --test jitter_table -- --ignored
/// --nocapture`.
#[test]
#[ignore = "prints the ablation and other-seed tables of rtp-io/README.md; no assertion"]
fn ablation_and_other_seeds() {
    let audio = sine(RATE, 250.0, 8000.0, (SECONDS * f64::from(RATE)) as usize);
    let base = || JitterConfig::new(RATE, RATE, 1);
    let variants: [(&str, JitterConfig, u64); 8] = [
        ("default", base(), 1000),
        (
            "phase_align off",
            JitterConfig {
                phase_align: false,
                ..base()
            },
            1000,
        ),
        (
            "margin_share 0",
            JitterConfig {
                margin_share: 0.0,
                ..base()
            },
            1000,
        ),
        (
            "max_expands_per_packet 1",
            JitterConfig {
                max_expands_per_packet: 1,
                ..base()
            },
            1000,
        ),
        (
            "quantile 0.99",
            JitterConfig {
                quantile: 0.99,
                ..base()
            },
            1000,
        ),
        ("default, seeds 2000+", base(), 2000),
        ("default, seeds 3000+", base(), 3000),
        ("default, seeds 4000+", base(), 4000),
    ];
    for (name, cfg, seed_base) in variants {
        println!("{name}: jitter, loss, tutti delay ms / late %, speexdsp delay ms / late %");
        for (ji, j) in JITTERS.iter().enumerate() {
            for (li, l) in LOSSES.iter().enumerate() {
                let trace = cell_trace(&audio, ji, li, seed_base);
                let (a, b) = (ours_with(&trace, cfg.clone()), speexdsp(&trace));
                let mark = if a.mean_delay_ms < b.mean_delay_ms && a.late_pct <= b.late_pct {
                    ""
                } else {
                    "  (not lower delay at ≤ late loss)"
                };
                println!(
                    "  {:.0} ms, {:.0} %: {:.1} / {:.2}, {:.1} / {:.2}{mark}",
                    j,
                    l * 100.0,
                    a.mean_delay_ms,
                    a.late_pct,
                    b.mean_delay_ms,
                    b.late_pct
                );
            }
        }
    }
}

#[test]
fn jitter_by_loss_table_against_speexdsp() {
    let audio = sine(RATE, 250.0, 8000.0, (SECONDS * f64::from(RATE)) as usize);
    let (jitters, losses) = (JITTERS, LOSSES);
    println!("| jitter (mean) | loss | tutti delay ms | tutti late % | tutti concealed % | speexdsp delay ms | speexdsp late % | speexdsp concealed % |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut cells = Vec::new();
    for (ji, &j) in jitters.iter().enumerate() {
        for (li, &l) in losses.iter().enumerate() {
            let trace = cell_trace(&audio, ji, li, 1000);
            let a = ours(&trace);
            let b = speexdsp(&trace);
            let bound = tick_bound_ms(&trace);
            println!(
                "| {j:.0} ms | {:.0} % | {:.1} | {:.2} | {:.2} | {:.1} | {:.2} | {:.2} |",
                l * 100.0,
                a.mean_delay_ms,
                a.late_pct,
                a.concealed_pct,
                b.mean_delay_ms,
                b.late_pct,
                b.concealed_pct
            );
            cells.push((j, l, a, b, bound));
        }
    }
    for &(j, l, a, _, _) in &cells {
        // Concealment covers the injected loss plus the late loss (one frame per missing packet).
        assert!(
            a.concealed_pct < 100.0 * l * 1.6 + a.late_pct * 1.6 + 1.0,
            "jitter {j} loss {l}: concealed {a:?}"
        );
        if j <= 40.0 {
            assert!(
                a.late_pct <= 1.0,
                "jitter {j} loss {l}: late loss {a:?} above 1 %"
            );
        }
    }
    // With jitter, against SpeexDSP on the same traces: lower mean delay at equal or lower late loss, and
    // less concealment.
    for &(j, l, a, b, _) in cells.iter().filter(|c| c.0 > 0.0) {
        assert!(
            a.mean_delay_ms < b.mean_delay_ms && a.late_pct <= b.late_pct,
            "jitter {j} loss {l}: ours {a:?}, speexdsp {b:?}"
        );
        assert!(
            a.concealed_pct < b.concealed_pct,
            "jitter {j} loss {l}: ours {a:?}, speexdsp {b:?}"
        );
    }
    // Without jitter no playout can beat the wait from arrival to the next frame tick: we reach that bound
    // (so does SpeexDSP), with no late loss.
    for &(j, l, a, b, bound) in cells.iter().filter(|c| c.0 == 0.0) {
        assert!(
            (a.mean_delay_ms - bound).abs() < 0.01 && a.late_pct == 0.0,
            "jitter {j} loss {l}: ours {a:?}, bound {bound:.3} ms"
        );
        assert!(
            a.mean_delay_ms <= b.mean_delay_ms + 0.01,
            "jitter {j} loss {l}: ours {a:?}, speexdsp {b:?}"
        );
    }
}
