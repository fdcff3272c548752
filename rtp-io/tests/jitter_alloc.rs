//! `JitterBuffer::push` and `pop` never allocate (counting allocator, per thread).

mod jb_common;

use std::time::Duration;

use jb_common::*;
use tutti_engine::{count_allocations, counting_is_active, CountingAllocator};
use tutti_rtp::{JitterBuffer, JitterConfig};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

#[test]
fn push_and_pop_do_not_allocate() {
    assert!(counting_is_active(), "the counting allocator must be installed");
    let audio = sine(8000, 250.0, 8000.0, 8000 * 30);
    // Hostile network: jitter, spikes, bursty loss, duplicates, skew, DTX pauses with comfort-noise packets,
    // so every path runs.
    let model = NetModel {
        dup: 0.05,
        skew_ppm: -200.0,
        spike_prob: 0.003,
        spike_ms: 120.0,
        spike_len_ms: 200.0,
        ..NetModel::clean()
    }
    .gamma(2.0, 10.0)
    .bursty_loss(0.05, 3.0);
    let cn = [45u8, 180, 100, 130];
    let trace = simulate_full(
        &audio,
        8000,
        20,
        &model,
        99,
        &|i| i % 120 < 90,
        &|_| 1.0,
        Some(&cn),
    );
    let mut jb = JitterBuffer::new(JitterConfig::new(8000, 8000, 1));
    let mut dec = TraceDecoder::new(8000);
    let mut out = vec![0i16; jb.frame_samples()];
    let mut next = 0;
    let mut total = 0;
    for k in 0..1600u64 {
        let now = Duration::from_millis(k * 20);
        let ((), c) = count_allocations(|| {
            while next < trace.deliveries.len() && trace.deliveries[next].arrival_us <= (k * 20_000) as i64 {
                push_delivery(&mut jb, &trace.deliveries[next]);
                next += 1;
            }
            jb.pop(now, &mut dec, &mut out);
        });
        total += c.allocs;
    }
    let s = jb.stats();
    assert!(
        s.concealed_samples > 0
            && s.duplicate_packets > 0
            && s.dtx_samples > 0
            && s.comfort_noise_samples > 0,
        "{s:?}"
    );
    assert!(s.removed_samples_for_acceleration + s.inserted_samples_for_deceleration > 0);
    assert_eq!(total, 0, "allocations on the push/pop path");
}
