//! `tutti bench conference`: synthetic load through the whole conference path on the engine's scheduler.
//!
//! # What
//! N legs of real encoded RTP (the codec's own encoder, run before the clock starts) go through SRTP-less
//! receive, jitter buffers, decoders, the per-leg chain, the mixer with K talkers and the encoders, driven by
//! [`tutti_engine::Scheduler`] on one worker thread at the real tick rate (20 ms). The report has the
//! scheduler's deadline misses and tick-time percentiles and the CPU time per leg and tick.
//!
//! # How
//! K legs carry distinct speech-like signals (a harmonic voice with a wandering pitch and a 3 Hz syllable
//! envelope at about −20 dBov); the others carry low noise at −65 dBov, below the talker floor, as idle
//! telephone legs do. Two seconds of each signal are encoded once; every tick each leg sends the next payload
//! under its own SSRC, sequence number and timestamp, arriving 0–8 ms before the tick (seeded).
//!
//! # Real-time safety
//! The task's tick (packet headers into preallocated buffers, `receive`, `tick`, `poll_transmit`) allocates
//! nothing; the packets are encoded before the scheduler starts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tutti_codecs::CodecSpec;
use tutti_engine::{Scheduler, SchedulerConfig, Task, TaskOptions};
use tutti_rtp::RtpBuilder;

use super::config::{ConferenceConfig, LegConfig, LegId};
use super::core::Conference;
use super::leg::MTU;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Number of legs.
    pub legs: usize,
    /// Codec of every leg.
    pub codec: CodecSpec,
    /// Wall-clock seconds to run.
    pub seconds: f64,
    /// Per-leg chain (e.g. `hpf,ns,agc`).
    pub chain: Option<String>,
    /// Talkers (K): the legs carrying speech, and the mixer's K.
    pub talkers: usize,
    /// Worker threads of the scheduler (the acceptance figure uses 1).
    pub workers: usize,
    /// Mix rate in Hz.
    pub mix_rate: u32,
}

/// The result.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    /// Legs.
    pub legs: usize,
    /// Ticks run.
    pub ticks: u64,
    /// Deadline misses (late ticks plus skipped ticks).
    pub deadline_misses: u64,
    /// Tick time percentiles in µs: p50, p99, p99.9, max.
    pub tick_us: [f64; 4],
    /// Mean tick time per leg in µs.
    pub cpu_us_per_leg_per_tick: f64,
    /// Mean encoder runs per tick.
    pub encodes_per_tick: f64,
    /// Whether the worker ran with `SCHED_FIFO`.
    pub realtime_priority: bool,
    /// Datagrams sent per tick (RTP + RTCP).
    pub sent_per_tick: f64,
    /// Legs one core carries at this load with the p99.9 tick inside the period:
    /// `legs × period / p99.9 tick time`.
    pub legs_per_core: u64,
    /// Allocations seen on the worker (the `tutti` binary counts them; expected 0).
    pub rt_allocations: u64,
}

impl BenchReport {
    /// The report as the JSON document of `INTERFACE.md`.
    pub fn to_json(&self, cfg: &BenchConfig) -> Value {
        json!({
            "legs": self.legs, "ticks": self.ticks, "deadline_misses": self.deadline_misses,
            "tick_us": {"p50": self.tick_us[0], "p99": self.tick_us[1], "p999": self.tick_us[2], "max": self.tick_us[3]},
            "cpu_us_per_leg_per_tick": self.cpu_us_per_leg_per_tick,
            "encodes_per_tick": self.encodes_per_tick, "sent_per_tick": self.sent_per_tick,
            "codec": cfg.codec.cli_name(), "chain": cfg.chain, "talkers": cfg.talkers, "workers": cfg.workers,
            "mix_rate": cfg.mix_rate, "seconds": cfg.seconds, "realtime_priority": self.realtime_priority,
            "legs_per_core": self.legs_per_core, "rt_allocations": self.rt_allocations,
        })
    }
}

const LOOP_FRAMES: usize = 100;

/// Pre-encoded payloads of one signal (two seconds).
struct Clip {
    data: Vec<u8>,
    offsets: Vec<(usize, usize)>,
}

fn encode_clip(codec: CodecSpec, ptime_ms: u32, signal: impl Fn(f64) -> f64) -> Result<Clip, String> {
    let info = codec.info();
    let frame = (info.audio_rate * ptime_ms / 1000) as usize;
    let mut enc = codec.encoder().map_err(|e| format!("--codec: {e}"))?;
    let mut pcm = vec![0i16; frame];
    let mut out = vec![0u8; MTU];
    let mut clip = Clip {
        data: Vec::new(),
        offsets: Vec::new(),
    };
    for k in 0..LOOP_FRAMES {
        for (i, s) in pcm.iter_mut().enumerate() {
            let t = (k * frame + i) as f64 / f64::from(info.audio_rate);
            *s = (signal(t) * 32767.0).clamp(-32768.0, 32767.0) as i16;
        }
        let n = enc.encode(&pcm, &mut out).map_err(|e| format!("--codec: {e}"))?;
        clip.offsets.push((clip.data.len(), n));
        clip.data.extend_from_slice(&out[..n]);
    }
    Ok(clip)
}

fn voice(seed: usize) -> impl Fn(f64) -> f64 {
    let f0 = 100.0 + 23.0 * (seed % 7) as f64;
    let ph = seed as f64 * 0.37;
    move |t: f64| {
        let pitch = f0 * (1.0 + 0.1 * (2.0 * std::f64::consts::PI * 0.5 * t + ph).sin());
        let env = (2.0 * std::f64::consts::PI * 3.0 * t + ph).sin().abs();
        let mut v = 0.0;
        for h in 1..=12 {
            v += (2.0 * std::f64::consts::PI * pitch * h as f64 * t).sin() / h as f64;
        }
        0.08 * env * v
    }
}

fn noise(seed: usize) -> impl Fn(f64) -> f64 {
    move |t: f64| {
        let mut x = (t * 1e6) as u64 ^ (seed as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        (x as f64 / u64::MAX as f64 - 0.5) * 0.001
    }
}

struct Source {
    id: LegId,
    clip: usize,
    ssrc: u32,
    seq: u16,
    ts: u32,
}

struct BenchTask {
    conf: Conference,
    clips: Vec<Clip>,
    sources: Vec<Source>,
    pt: u8,
    ts_step: u32,
    tick: u64,
    ptime_us: u64,
    pkt: Vec<u8>,
    out: Vec<u8>,
    rng: u64,
    sent: Arc<AtomicU64>,
    encodes: Arc<AtomicU64>,
}

impl Task for BenchTask {
    fn tick(&mut self) {
        let now_us = self.tick * self.ptime_us;
        let frame_idx = (self.tick as usize) % LOOP_FRAMES;
        for s in &mut self.sources {
            let clip = &self.clips[s.clip];
            let (off, len) = clip.offsets[frame_idx];
            let b = RtpBuilder {
                payload_type: self.pt,
                sequence_number: s.seq,
                timestamp: s.ts,
                ssrc: s.ssrc,
                ..Default::default()
            };
            s.seq = s.seq.wrapping_add(1);
            s.ts = s.ts.wrapping_add(self.ts_step);
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            let early = self.rng % 8000;
            if let Ok(n) = b.write(&clip.data[off..off + len], &mut self.pkt) {
                let at = Duration::from_micros(now_us.saturating_sub(early));
                let _ = self.conf.receive(s.id, at, &self.pkt[..n]);
            }
        }
        self.conf.tick(Duration::from_micros(now_us));
        let mut sent = 0;
        for s in &self.sources {
            while self.conf.poll_transmit(s.id, &mut self.out).is_some() {
                sent += 1;
            }
        }
        self.sent.fetch_add(sent, Ordering::Relaxed);
        self.encodes
            .fetch_add(self.conf.stats().encodes_last_tick as u64, Ordering::Relaxed);
        self.tick += 1;
    }
}

/// The bench's task, ready to tick, and its per-tick period in ms.
fn build_task(cfg: &BenchConfig) -> Result<(BenchTask, u32), String> {
    if cfg.legs == 0 {
        return Err("--legs: expected at least 1".into());
    }
    if !(cfg.seconds > 0.0 && cfg.seconds.is_finite()) {
        return Err(format!("--seconds {}: expected a positive number", cfg.seconds));
    }
    let info = cfg.codec.info();
    if info.channels != 1 {
        return Err("--codec: conference legs are mono".into());
    }
    let mut cc = ConferenceConfig {
        max_legs: cfg.legs,
        chain: cfg.chain.clone(),
        mix_rate: super::MixRate::Fixed(cfg.mix_rate),
        leg_timeout: Duration::from_secs(3600),
        ..ConferenceConfig::default()
    };
    cc.talkers.max_talkers = cfg.talkers.clamp(1, 15);
    let ptime = cc.ptime_ms;
    let mut conf = Conference::new(cc).map_err(|e| e.to_string())?;
    let talkers = cfg.talkers.min(cfg.legs);
    let mut clips = Vec::new();
    for k in 0..talkers {
        clips.push(encode_clip(cfg.codec, ptime, voice(k))?);
    }
    let noise_clips = 4;
    for k in 0..noise_clips {
        clips.push(encode_clip(cfg.codec, ptime, noise(k))?);
    }
    let mut sources = Vec::with_capacity(cfg.legs);
    for i in 0..cfg.legs {
        let mut lc = LegConfig::new(format!("leg{i}"), cfg.codec);
        lc.local_ssrc = Some(0x4000_0000 + i as u32);
        let id = conf.add_leg(lc, Duration::ZERO).map_err(|e| e.to_string())?;
        sources.push(Source {
            id,
            clip: if i < talkers { i } else { talkers + i % noise_clips },
            ssrc: 0x1000_0000 + i as u32,
            seq: (i * 77) as u16,
            ts: (i as u32).wrapping_mul(1_234_567),
        });
    }
    let frame = (info.audio_rate * ptime / 1000) as u64;
    let task = BenchTask {
        conf,
        clips,
        sources,
        pt: LegConfig::new("", cfg.codec).payload_type,
        ts_step: (frame * u64::from(info.clock_rate) / u64::from(info.audio_rate)) as u32,
        tick: 0,
        ptime_us: u64::from(ptime) * 1000,
        pkt: vec![0; MTU],
        out: vec![0; MTU],
        rng: 0x2545_f491_4f6c_dd1d,
        sent: Arc::new(AtomicU64::new(0)),
        encodes: Arc::new(AtomicU64::new(0)),
    };
    Ok((task, ptime))
}

/// Ticks the bench's conference `ticks` times back to back on the calling thread (no scheduler, no real
/// time) and returns the thread CPU time of every tick: the per-tick cost without preemption, for profiling
/// where a tick's time goes and which ticks are expensive. A non-zero `pause` is slept before every tick, so
/// the caches go as cold as between real 20 ms ticks.
///
/// # Errors
/// A one-line message for a bad configuration or when the platform has no thread CPU clock.
pub fn profile_ticks(cfg: &BenchConfig, ticks: usize, pause: Duration) -> Result<Vec<Duration>, String> {
    let (mut task, _) = build_task(cfg)?;
    let mut out = Vec::with_capacity(ticks);
    for _ in 0..ticks {
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
        let t0 = tutti_engine::thread_cpu_time().ok_or("no thread CPU clock on this platform")?;
        task.tick();
        let t1 = tutti_engine::thread_cpu_time().ok_or("no thread CPU clock on this platform")?;
        out.push(t1.saturating_sub(t0));
    }
    Ok(out)
}

/// Runs the benchmark (blocks for `cfg.seconds`).
///
/// # Errors
/// A one-line message for a bad configuration.
pub fn run_bench(cfg: &BenchConfig) -> Result<BenchReport, String> {
    let (task, ptime) = build_task(cfg)?;
    let sent = task.sent.clone();
    let encodes = task.encodes.clone();
    let mut sched = Scheduler::new(SchedulerConfig {
        workers: cfg.workers.max(1),
        track_allocations: true,
        ..SchedulerConfig::default()
    })
    .map_err(|e| e.to_string())?;
    let id = sched
        .add(
            Box::new(task),
            TaskOptions::every(Duration::from_millis(u64::from(ptime))),
        )
        .map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_secs_f64(cfg.seconds));
    let ts = sched.task_stats(id).unwrap_or_default();
    let ws = sched.stats();
    let busy = ws.workers.first().map(|w| w.busy).unwrap_or_default();
    let realtime = ws.workers.first().is_some_and(|w| w.realtime_priority);
    let rt_allocations = ws.workers.iter().map(|w| w.rt_allocations + w.rt_frees).sum();
    sched.remove(id).map_err(|e| e.to_string())?;
    drop(sched);
    let ticks = ts.ticks.max(1);
    let us = |ns: u64| ns as f64 / 1000.0;
    Ok(BenchReport {
        legs: cfg.legs,
        ticks: ts.ticks,
        deadline_misses: ts.deadline_misses,
        tick_us: [us(busy.p50_ns), us(busy.p99_ns), us(busy.p999_ns), us(ts.max_ns)],
        cpu_us_per_leg_per_tick: ts.mean_ns / 1000.0 / cfg.legs as f64,
        encodes_per_tick: encodes.load(Ordering::Relaxed) as f64 / ticks as f64,
        realtime_priority: realtime,
        sent_per_tick: sent.load(Ordering::Relaxed) as f64 / ticks as f64,
        legs_per_core: (cfg.legs as f64 * f64::from(ptime) * 1000.0 / us(busy.p999_ns).max(1e-3)) as u64,
        rt_allocations,
    })
}
