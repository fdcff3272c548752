//! Jitter buffer driven by a seeded network simulator (gamma jitter, Gilbert–Elliott bursty loss, G.1050-like
//! delay spikes, duplication, reordering, clock skew, DTX), faster than real time.

mod jb_common;

use std::collections::BTreeSet;

use jb_common::*;
use std::time::Duration;

use tutti_rtp::{JitterBuffer, JitterConfig, PlayoutKind, PushOutcome};

const RATE: u32 = 8000;

fn jb() -> (JitterBuffer, TraceDecoder) {
    (
        JitterBuffer::new(JitterConfig::new(RATE, RATE, 1)),
        TraceDecoder::new(RATE),
    )
}

/// 250 Hz has an integer period at 8 kHz (32 samples), so pitch-period stretching of it is seamless.
fn tone(seconds: f64) -> Vec<i16> {
    sine(RATE, 250.0, 8000.0, (seconds * f64::from(RATE)) as usize)
}

/// Largest step between neighbouring samples of the tone.
fn max_step() -> i32 {
    (8000.0 * 2.0 * std::f64::consts::PI * 250.0 / f64::from(RATE)).ceil() as i32 + 1
}

fn assert_played_in_order_once(log: &[u32]) {
    for w in log.windows(2) {
        assert!(w[1] > w[0], "packet {} played after {}", w[1], w[0]);
    }
}

#[test]
fn clean_network_is_transparent() {
    let audio = tone(10.0);
    let trace = simulate(&audio, RATE, 20, &NetModel::clean(), 1, &|_| true);
    let (mut jb, mut dec) = jb();
    let p = run(&mut jb, &mut dec, &trace, 10_500);
    let s = jb.stats();
    assert_eq!(dec.log.len(), trace.sent);
    assert_played_in_order_once(&dec.log);
    assert_eq!(s.concealed_samples, 0);
    assert_eq!(
        s.removed_samples_for_acceleration + s.inserted_samples_for_deceleration,
        0
    );
    // The output is the input, delayed: find where it starts and compare everything.
    let start = p.audio.iter().position(|&x| x != 0).expect("audio came out") - 1;
    let n = p.audio.len() - start;
    assert!(n + jb.frame_samples() > audio.len());
    assert_eq!(
        &p.audio[start..],
        &audio[..n],
        "bit-exact after the initial delay"
    );
    // Initial delay: the first packet arrives after the base network delay (30 ms); without jitter the
    // phase-aligned playout decodes it at the first output frame boundary after that (frames start every
    // 20 ms of receiver time), which is the earliest any frame-by-frame playout can play it: 40 ms.
    let delay_ms = start as f64 * 1000.0 / f64::from(RATE);
    assert_eq!(delay_ms, 40.0, "initial delay");
    assert!(
        (s.mean_delay_ms() - 10.0).abs() < 1e-6,
        "each packet waits from its arrival to the next frame boundary: {} ms",
        s.mean_delay_ms()
    );
}

/// Mean over packets (first copies) of the wait from arrival to the next output tick (`offset + k · frame`)
/// at or after it: no frame-by-frame playout can do better.
fn tick_bound_ms(trace: &Trace, frame_us: i64, offset_us: i64) -> f64 {
    let mut first = std::collections::BTreeMap::new();
    for d in &trace.deliveries {
        let e = first.entry(d.index).or_insert(d.arrival_us);
        *e = (*e).min(d.arrival_us);
    }
    let sum: i64 = first
        .values()
        .map(|&a| (a - offset_us + frame_us - 1).div_euclid(frame_us) * frame_us + offset_us - a)
        .sum();
    sum as f64 / 1000.0 / first.len() as f64
}

#[test]
fn phase_aligned_playout_reaches_the_tick_bound_without_jitter() {
    let audio = tone(30.0);
    // 20 ms packets (30 ms network delay, 3 % bursty loss, 1 % duplicates), 10 and 20 ms output frames at
    // an offset against the sender's grid, sender clock fast or slow (the arrival phase drifts by 3 ms).
    for (frame_ms, offset_us, ppm, seed) in [
        (20u32, 3_000i64, 100.0, 41u64),
        (10, 4_000, 100.0, 42),
        (20, 13_000, -100.0, 43),
        (10, 6_500, -100.0, 44),
    ] {
        let model = NetModel {
            skew_ppm: ppm,
            dup: 0.01,
            ..NetModel::clean()
        }
        .bursty_loss(0.03, 2.0);
        let trace = simulate(&audio, RATE, 20, &model, seed, &|_| true);
        let mut cfg = JitterConfig::new(RATE, RATE, 1);
        cfg.frame_ms = frame_ms;
        let mut jb = JitterBuffer::new(cfg);
        let mut dec = TraceDecoder::new(RATE);
        let mut out = vec![0i16; jb.frame_samples()];
        let (mut next, mut late) = (0, 0);
        let frame_us = i64::from(frame_ms) * 1000;
        let mut now_us = offset_us;
        while now_us < 31_000_000 {
            while next < trace.deliveries.len() && trace.deliveries[next].arrival_us <= now_us {
                if push_delivery(&mut jb, &trace.deliveries[next]) == PushOutcome::Late {
                    late += 1;
                }
                next += 1;
            }
            jb.pop(Duration::from_micros(now_us as u64), &mut dec, &mut out);
            now_us += frame_us;
        }
        let s = jb.stats();
        let bound = tick_bound_ms(&trace, frame_us, offset_us);
        assert!(
            (s.mean_delay_ms() - bound).abs() < 0.01,
            "frame {frame_ms} ms, {ppm} ppm: mean delay {} ms, bound {bound} ms",
            s.mean_delay_ms()
        );
        assert_eq!(late, 0, "frame {frame_ms} ms, {ppm} ppm");
        assert_played_in_order_once(&dec.log);
        assert_eq!(dec.log.len() + trace.lost.len(), trace.sent);
        assert_eq!(
            s.removed_samples_for_acceleration + s.inserted_samples_for_deceleration,
            0
        );
    }
}

#[test]
fn near_ideal_network_plays_untouched() {
    // SIPp's G.711 capture: 30 ms packets, 0.35 ms mean jitter, played in 20 ms frames (and 10 ms). With
    // 20 ms frames the packets are no whole number of frames, so the target is the continuous one from the
    // start (the head's duration is read from its payload): no concealment and no time stretching, every
    // packet played.
    let audio = tone(20.0);
    // Also 20 ms packets in 10 and 20 ms frames (with 10 ms frames the arrivals fall on output ticks).
    for (seed, ppm, ptime, frame_ms) in [
        (51u64, 0.0, 30u32, 20u32),
        (52, 60.0, 30, 20),
        (53, -60.0, 30, 20),
        (54, 0.0, 30, 10),
        (55, 0.0, 20, 10),
        (56, -60.0, 20, 10),
        (57, 60.0, 20, 20),
    ] {
        let model = NetModel {
            skew_ppm: ppm,
            ..NetModel::clean()
        }
        .gamma(2.0, 0.175);
        let trace = simulate(&audio, RATE, ptime, &model, seed, &|_| true);
        let mut cfg = JitterConfig::new(RATE, RATE, 1);
        cfg.frame_ms = frame_ms;
        let (mut jb, mut dec) = (JitterBuffer::new(cfg), TraceDecoder::new(RATE));
        let p = run(&mut jb, &mut dec, &trace, 21_000);
        let s = jb.stats();
        assert_eq!(dec.log.len(), trace.sent, "seed {seed}");
        assert!(p.late.is_empty());
        assert_eq!(s.concealed_samples, 0, "seed {seed}: {s:?}");
        assert_eq!(
            s.removed_samples_for_acceleration + s.inserted_samples_for_deceleration,
            0,
            "seed {seed}: {s:?}"
        );
    }
}

#[test]
fn order_uniqueness_and_loss_accounting_under_hostile_network() {
    let audio = tone(60.0);
    let model = NetModel {
        dup: 0.0,
        skew_ppm: 200.0,
        spike_prob: 0.002,
        spike_ms: 150.0,
        spike_len_ms: 300.0,
        ..NetModel::clean()
    }
    .gamma(2.0, 10.0)
    .bursty_loss(0.05, 3.0);
    let trace = simulate(&audio, RATE, 20, &model, 7, &|_| true);
    assert!(!trace.lost.is_empty());
    let (mut jb, mut dec) = jb();
    let p = run(&mut jb, &mut dec, &trace, 61_000);
    let s = jb.stats();
    assert_played_in_order_once(&dec.log);
    let played: BTreeSet<u32> = dec.log.iter().copied().collect();
    let lost: BTreeSet<u32> = trace.lost.iter().copied().collect();
    let late: BTreeSet<u32> = p.late.iter().copied().collect();
    assert!(played.is_disjoint(&lost), "a lost packet was played");
    assert!(played.is_disjoint(&late), "a late packet was played");
    let (first, last) = (dec.log[0], *dec.log.last().unwrap());
    let skipped: BTreeSet<u32> = (first..=last).filter(|i| !played.contains(i)).collect();
    assert_eq!(
        s.lost_packets as usize,
        skipped.len(),
        "lost_packets counts skipped sequence numbers"
    );
    let expected: BTreeSet<u32> = lost
        .union(&late)
        .copied()
        .filter(|&i| i >= first && i <= last)
        .collect();
    assert_eq!(skipped, expected, "skipped = injected loss + late arrivals");
    assert_eq!(s.late_packets as usize, p.late.len());
    assert!(
        s.reordered_packets > 0,
        "gamma jitter of 20 ms mean reorders 20 ms packets"
    );
    assert!(s.concealment_events > 0);
    let late_ratio = late.len() as f64 / trace.sent as f64;
    assert!(late_ratio < 0.05, "late loss {late_ratio}");
}

#[test]
fn duplicates_are_dropped_and_counted() {
    let audio = tone(20.0);
    let model = NetModel {
        dup: 0.1,
        ..NetModel::clean()
    }
    .gamma(2.0, 5.0);
    let trace = simulate(&audio, RATE, 20, &model, 3, &|_| true);
    assert!(trace.duplicated > 20);
    let (mut jb, mut dec) = jb();
    let p = run(&mut jb, &mut dec, &trace, 21_000);
    let s = jb.stats();
    assert_played_in_order_once(&dec.log);
    // Every copy is either a duplicate or (if the first copy was already late) late again.
    assert_eq!(
        s.duplicate_packets + p.late.len() as u64 - s.lost_packets.min(p.late.len() as u64),
        trace.duplicated as u64
    );
    assert_eq!(dec.log.len() + s.lost_packets as usize, trace.sent);
}

#[test]
fn dtx_gaps_are_not_loss() {
    let audio = tone(30.0);
    // 1 s talk, 0.6 s pause.
    let talk = |i: usize| i % 80 < 50;
    for (model, seed) in [(NetModel::clean(), 1u64), (NetModel::clean().gamma(2.0, 4.0), 2)] {
        let trace = simulate(&audio, RATE, 20, &model, seed, &talk);
        let (mut jb, mut dec) = jb();
        let p = run(&mut jb, &mut dec, &trace, 31_000);
        let s = jb.stats();
        assert_played_in_order_once(&dec.log);
        assert_eq!(s.lost_packets, p.late.len() as u64, "no loss was injected");
        assert_eq!(dec.log.len() + p.late.len(), trace.sent);
        let pauses = 30.0 / 1.6 * 0.6 * f64::from(RATE);
        assert!(
            s.dtx_samples as f64 > 0.9 * pauses,
            "pauses played as silence: {}",
            s.dtx_samples
        );
        if model.gamma_shape == 0.0 {
            assert_eq!(s.concealed_samples, 0, "a pause is not concealment");
            assert_eq!(s.concealment_events, 0);
        }
        assert!(s.concealed_samples < 2 * jb.frame_samples() as u64 * (1 + p.late.len() as u64) * 8);
    }
}

#[test]
fn target_delay_converges_to_quantile_of_jitter() {
    let audio = tone(90.0);
    for (k, theta, seed) in [(2.0, 10.0, 11u64), (1.0, 20.0, 12), (4.0, 5.0, 13)] {
        let model = NetModel::clean().gamma(k, theta);
        let trace = simulate(&audio, RATE, 20, &model, seed, &|_| true);
        let extra: Vec<f64> = trace.deliveries.iter().map(|d| d.extra_ms).collect();
        let cfg = JitterConfig::new(RATE, RATE, 1);
        let q = quantile(&extra, cfg.quantile);
        let (mut jb, mut dec) = jb();
        let p = run(&mut jb, &mut dec, &trace, 91_000);
        let s = jb.stats();
        let tail = &p.target_ms[p.target_ms.len() - 1500..];
        let mean_target = tail.iter().sum::<f64>() / tail.len() as f64;
        // Target = quantile of relative delay + its share of a 20 ms frame (`JitterConfig::margin_frames`).
        let share = if q > 20.0 {
            (20.0 / q).powi(2).max(cfg.margin_frames)
        } else {
            1.0
        };
        let want = q + share * 20.0;
        assert!(
            (mean_target - want).abs() < 0.15 * want + 3.0,
            "k={k} θ={theta}: target {mean_target}, want {want}"
        );
        let late = p.late.len() as f64 / trace.sent as f64;
        assert!(late < 0.05, "k={k} θ={theta}: late loss {late}");
        assert!(
            s.concealment_ratio() < 0.06,
            "concealment {}",
            s.concealment_ratio()
        );
        // Mean time in the buffer is the target minus the mean relative delay, roughly.
        let mean_extra = extra.iter().sum::<f64>() / extra.len() as f64;
        let md = s.mean_delay_ms();
        assert!(
            md > 0.5 * (want - mean_extra) && md < want + 20.0,
            "mean delay {md}"
        );
    }
}

#[test]
fn delay_changes_use_time_stretching_not_silence() {
    let audio = tone(90.0);
    let model = NetModel::clean().gamma(2.0, 12.0);
    // Calm, stormy from 20 s to 45 s, calm again.
    let gain = |t: f64| if (20.0..45.0).contains(&t) { 1.0 } else { 0.05 };
    let trace = simulate_varying(&audio, RATE, 20, &model, 5, &|_| true, &gain);
    let (mut jb, mut dec) = jb();
    let p = run(&mut jb, &mut dec, &trace, 91_000);
    let s = jb.stats();
    let at = |sec: usize| p.target_ms[sec * 50];
    assert!(
        at(40) > at(15) + 20.0,
        "target rises in the storm: {} → {}",
        at(15),
        at(40)
    );
    assert!(
        at(89) < at(40) - 20.0,
        "and falls after it: {} → {}",
        at(40),
        at(89)
    );
    assert!(s.inserted_samples_for_deceleration > 0, "expand raised the delay");
    assert!(
        s.removed_samples_for_acceleration > 0,
        "accelerate lowered the delay"
    );
    let started = p
        .kinds
        .iter()
        .position(|&k| k == PlayoutKind::Normal)
        .expect("playout started");
    assert!(
        !p.kinds[started..].contains(&PlayoutKind::Silence),
        "delay changes must not insert silence"
    );
    assert!(p.kinds.contains(&PlayoutKind::Expanded) && p.kinds.contains(&PlayoutKind::Accelerated));
    // The delay followed the target.
    assert!((jb.current_delay_ms() - jb.target_delay_ms()).abs() < 15.0);
    assert!(
        s.concealment_ratio() < 0.03,
        "concealment {}",
        s.concealment_ratio()
    );
}

#[test]
fn sine_stays_continuous_through_jitter_without_loss() {
    let audio = tone(40.0);
    let model = NetModel::clean().gamma(4.0, 4.0);
    let trace = simulate(&audio, RATE, 20, &model, 21, &|_| true);
    let (mut jb, mut dec) = jb();
    let p = run(&mut jb, &mut dec, &trace, 41_000);
    let s = jb.stats();
    let frame = jb.frame_samples();
    let bound = max_step();
    let mut bad = 0;
    for (i, w) in p.audio.windows(2).enumerate() {
        let step = (i32::from(w[1]) - i32::from(w[0])).abs();
        if step > bound {
            let f = (i + 1) / frame;
            let near_conceal = (f.saturating_sub(1)..=f + 1).any(|g| {
                matches!(
                    p.kinds.get(g),
                    Some(PlayoutKind::Concealed | PlayoutKind::Silence)
                )
            });
            if !near_conceal {
                bad += 1;
            }
        }
    }
    assert_eq!(bad, 0, "discontinuities outside concealment");
    assert!(s.concealment_ratio() < 0.02);
    assert!(s.removed_samples_for_acceleration + s.inserted_samples_for_deceleration > 0);
}

#[test]
fn sender_clock_skew_is_absorbed_by_time_stretching() {
    let audio = tone(150.0);
    for ppm in [200.0, -200.0] {
        let model = NetModel {
            skew_ppm: ppm,
            ..NetModel::clean()
        }
        .gamma(2.0, 2.0);
        let trace = simulate(&audio, RATE, 20, &model, 31, &|_| true);
        let (mut jb, mut dec) = jb();
        let p = run(&mut jb, &mut dec, &trace, 150_000);
        let s = jb.stats();
        assert_played_in_order_once(&dec.log);
        if ppm > 0.0 {
            assert!(s.removed_samples_for_acceleration > 0, "fast sender: accelerate");
        } else {
            assert!(s.inserted_samples_for_deceleration > 0, "slow sender: expand");
        }
        assert!(
            (jb.current_delay_ms() - jb.target_delay_ms()).abs() < 12.0,
            "ppm {ppm}"
        );
        // The target covers 98.5 % of the jitter plus a margin for the decode phase: the rare packet beyond
        // it costs a short concealment, after which it is still played (the delay grows and accelerate
        // takes it back), never lost.
        assert!(
            s.concealment_ratio() < 0.005,
            "ppm {ppm}: concealment {}",
            s.concealment_ratio()
        );
        assert_eq!(s.lost_packets, 0);
        assert!(p.late.is_empty());
    }
}

#[test]
fn ssrc_change_and_timestamp_jump() {
    let audio = tone(6.0);
    let mut trace = simulate(&audio, RATE, 20, &NetModel::clean(), 1, &|_| true);
    // Packets from 2 s on come from a new source with its own sequence and timestamp bases.
    for d in trace.deliveries.iter_mut().filter(|d| d.arrival_us > 2_000_000) {
        d.ssrc = 0xCAFE;
        d.seq = d.seq.wrapping_add(12_345);
        d.ts = d.ts.wrapping_add(987_654_321);
    }
    // And from 4 s on the new source's timestamps jump forward by an hour (sequence continues).
    for d in trace.deliveries.iter_mut().filter(|d| d.arrival_us > 4_000_000) {
        d.ts = d.ts.wrapping_add(3600 * RATE);
    }
    let (mut jb, mut dec) = jb();
    let p = run(&mut jb, &mut dec, &trace, 6_500);
    let s = jb.stats();
    assert_eq!(s.resets, 1);
    assert_eq!(dec.log.len(), trace.sent, "every packet of both sources played");
    assert_played_in_order_once(&dec.log);
    assert_eq!(s.lost_packets, 0);
    assert!(p.late.is_empty());
    // The jump is played through after at most a short pause, never hours of silence.
    let silent_frames = p.kinds.iter().filter(|&&k| k == PlayoutKind::Silence).count();
    assert!(silent_frames < 20, "{silent_frames} silent frames");
}

#[test]
fn bursty_loss_is_concealed_with_codec_plc() {
    let audio = tone(30.0);
    let model = NetModel::clean().gamma(2.0, 3.0).bursty_loss(0.1, 4.0);
    let trace = simulate(&audio, RATE, 20, &model, 41, &|_| true);
    let (mut jb, mut dec) = jb();
    let p = run(&mut jb, &mut dec, &trace, 31_000);
    let s = jb.stats();
    let lost = trace.lost.len() as f64;
    // Roughly one 20 ms packet of concealment per lost packet.
    let concealed_packets = s.concealed_samples as f64 / 160.0;
    assert!(
        (concealed_packets - lost).abs() < 0.1 * lost + 3.0 + p.late.len() as f64 * 2.0,
        "concealed {concealed_packets} packets for {lost} lost"
    );
    assert!(s.concealment_events > 0 && s.concealment_events as f64 <= lost);
    assert!(p.kinds.contains(&PlayoutKind::Concealed));
}
