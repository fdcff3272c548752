//! Shared helpers of the jitter-buffer tests: a traceable test codec and a seeded network simulator.
#![allow(dead_code)]

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tutti_codecs::{CodecError, CodecInfo, Decoder};
use tutti_rtp::{JitterBuffer, JitterPacket, PlayoutKind, PushOutcome};

/// Test payload: 4-byte big-endian packet index, then 16-bit big-endian samples (L16-like).
pub fn make_payload(index: u32, samples: &[i16], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&index.to_be_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_be_bytes());
    }
}

/// A decoder for [`make_payload`] payloads that logs which packet indices it decoded (the log is
/// preallocated, so decoding does not allocate) and conceals by repeating the last packet with a fade.
pub struct TraceDecoder {
    pub rate: u32,
    pub log: Vec<u32>,
    last: Vec<i16>,
    last_len: usize,
    fade: f32,
}

impl TraceDecoder {
    pub fn new(rate: u32) -> Self {
        Self {
            rate,
            log: Vec::with_capacity(1 << 20),
            last: vec![0; 8192],
            last_len: 0,
            fade: 1.0,
        }
    }
}

impl Decoder for TraceDecoder {
    fn info(&self) -> CodecInfo {
        CodecInfo {
            name: "trace",
            rtp_name: "L16",
            static_payload_type: None,
            clock_rate: self.rate,
            audio_rate: self.rate,
            channels: 1,
        }
    }

    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        let n = self.payload_samples(payload)?;
        if out.len() < n {
            return Err(CodecError::BufferTooSmall {
                expected: n,
                actual: out.len(),
            });
        }
        let idx = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
        if self.log.len() < self.log.capacity() {
            self.log.push(idx);
        }
        for (i, o) in out[..n].iter_mut().enumerate() {
            *o = i16::from_be_bytes([payload[4 + 2 * i], payload[5 + 2 * i]]);
        }
        let m = n.min(self.last.len());
        self.last[..m].copy_from_slice(&out[..m]);
        self.last_len = m;
        self.fade = 1.0;
        Ok(n)
    }

    fn conceal(&mut self, out: &mut [i16]) -> Result<usize, CodecError> {
        for (i, o) in out.iter_mut().enumerate() {
            self.fade *= 0.995;
            *o = if self.last_len == 0 {
                0
            } else {
                (f32::from(self.last[i % self.last_len]) * self.fade) as i16
            };
        }
        Ok(out.len())
    }

    fn payload_samples(&self, payload: &[u8]) -> Result<usize, CodecError> {
        if payload.len() < 4 || payload.len() % 2 != 0 {
            return Err(CodecError::Malformed {
                detail: "trace payload: bad length",
            });
        }
        Ok((payload.len() - 4) / 2)
    }

    fn reset(&mut self) {
        self.last_len = 0;
    }
}

/// Network model of the simulator.
#[derive(Debug, Clone)]
pub struct NetModel {
    /// Gamma jitter: shape k and scale θ in ms (mean kθ). Shape 0 disables jitter.
    pub gamma_shape: f64,
    pub gamma_scale_ms: f64,
    /// Gilbert–Elliott: P(good→bad), P(bad→good), loss probability in good and bad.
    pub ge_p: f64,
    pub ge_r: f64,
    pub loss_good: f64,
    pub loss_bad: f64,
    /// Probability that a packet is duplicated (the copy arrives 0–20 ms later).
    pub dup: f64,
    /// G.1050-like delay spikes: probability per packet of a spike starting, its extra delay and length.
    pub spike_prob: f64,
    pub spike_ms: f64,
    pub spike_len_ms: f64,
    /// Sender clock skew in ppm (positive: the sender's clock runs fast).
    pub skew_ppm: f64,
}

impl NetModel {
    pub fn clean() -> Self {
        Self {
            gamma_shape: 0.0,
            gamma_scale_ms: 0.0,
            ge_p: 0.0,
            ge_r: 1.0,
            loss_good: 0.0,
            loss_bad: 0.0,
            dup: 0.0,
            spike_prob: 0.0,
            spike_ms: 0.0,
            spike_len_ms: 0.0,
            skew_ppm: 0.0,
        }
    }

    pub fn gamma(mut self, shape: f64, scale_ms: f64) -> Self {
        self.gamma_shape = shape;
        self.gamma_scale_ms = scale_ms;
        self
    }

    /// Bursty loss with mean loss rate `rate` and mean burst length `burst` packets (loss 1 in bad state).
    pub fn bursty_loss(mut self, rate: f64, burst: f64) -> Self {
        self.ge_r = 1.0 / burst;
        // Stationary P(bad) = p / (p + r) = rate.
        self.ge_p = rate * self.ge_r / (1.0 - rate);
        self.loss_bad = 1.0;
        self.loss_good = 0.0;
        self
    }
}

/// A packet as the simulated network delivers it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub arrival_us: i64,
    pub index: u32,
    pub seq: u16,
    pub ts: u32,
    pub marker: bool,
    pub ssrc: u32,
    pub payload: Vec<u8>,
    /// Network delay beyond the base delay (jitter + spikes), ms.
    pub extra_ms: f64,
    /// An RFC 3389 comfort-noise packet (pushed with `push_comfort_noise`; `index` is meaningless).
    pub cn: bool,
}

/// Result of sending a stream through the network.
pub struct Trace {
    pub deliveries: Vec<Delivery>,
    pub sent: usize,
    pub lost: Vec<u32>,
    pub duplicated: usize,
    /// Comfort-noise packets sent and lost.
    pub cn_sent: usize,
    pub cn_lost: usize,
}

/// Gamma(k, θ) by Marsaglia–Tsang (k ≥ 1) with the k < 1 boost.
pub fn gamma(rng: &mut ChaCha8Rng, k: f64, theta: f64) -> f64 {
    if k <= 0.0 {
        return 0.0;
    }
    if k < 1.0 {
        let u: f64 = rng.gen::<f64>().max(1e-300);
        return gamma(rng, k + 1.0, theta) * u.powf(1.0 / k);
    }
    let d = k - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let (x, v) = loop {
            let u1: f64 = rng.gen::<f64>().max(1e-300);
            let u2: f64 = rng.gen();
            let x = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            let v = (1.0 + c * x).powi(3);
            if v > 0.0 {
                break (x, v);
            }
        };
        let u: f64 = rng.gen();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v * theta;
        }
    }
}

/// Packetises `audio` (mono, `ptime_ms` packets at `rate`) and sends it through `model`. `talk(i)` says
/// whether packet `i` is sent (false = DTX: nothing sent, timestamps still advance, sequence does not).
pub fn simulate(
    audio: &[i16],
    rate: u32,
    ptime_ms: u32,
    model: &NetModel,
    seed: u64,
    talk: &dyn Fn(usize) -> bool,
) -> Trace {
    simulate_varying(audio, rate, ptime_ms, model, seed, talk, &|_| 1.0)
}

/// As [`simulate`], with the jitter multiplied by `gain(send time in s)`.
pub fn simulate_varying(
    audio: &[i16],
    rate: u32,
    ptime_ms: u32,
    model: &NetModel,
    seed: u64,
    talk: &dyn Fn(usize) -> bool,
    gain: &dyn Fn(f64) -> f64,
) -> Trace {
    simulate_full(audio, rate, ptime_ms, model, seed, talk, gain, None)
}

/// As [`simulate_varying`]; with `cn = Some(payload)` the sender also sends an RFC 3389 comfort-noise packet
/// at the start of every pause and every 10 packet times (200 ms at 20 ms) while it lasts (RFC 3389 §4),
/// through the same network (loss, jitter), with its own sequence number.
#[allow(clippy::too_many_arguments)]
pub fn simulate_full(
    audio: &[i16],
    rate: u32,
    ptime_ms: u32,
    model: &NetModel,
    seed: u64,
    talk: &dyn Fn(usize) -> bool,
    gain: &dyn Fn(f64) -> f64,
    cn: Option<&[u8]>,
) -> Trace {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let spp = (rate * ptime_ms / 1000) as usize;
    let n = audio.len() / spp;
    let mut deliveries = Vec::new();
    let mut lost = Vec::new();
    let mut duplicated = 0;
    let mut bad = false;
    let mut spike_until_ms = -1.0f64;
    let mut seq: u16 = 40_000; // wraps during long tests
    let ts0: u32 = 0xFFFF_0000; // wraps too
    let base_ms = 30.0;
    let mut sent = 0;
    let mut index = 0u32;
    let mut prev_talk = false;
    let mut pause_len = 0;
    let (mut cn_sent, mut cn_lost) = (0, 0);
    for i in 0..n {
        let is_cn = if talk(i) {
            pause_len = 0;
            false
        } else {
            let first = prev_talk || i == 0;
            prev_talk = false;
            pause_len += 1;
            let send = cn.is_some() && (first || pause_len % 10 == 1);
            if !send {
                continue;
            }
            true
        };
        let send_ms = i as f64 * f64::from(ptime_ms) / (1.0 + model.skew_ppm * 1e-6);
        let mut payload = Vec::new();
        let ts = ts0.wrapping_add((i * spp) as u32);
        let marker = !is_cn && !prev_talk;
        if is_cn {
            payload.extend_from_slice(cn.expect("is_cn only with a CN payload"));
            cn_sent += 1;
        } else {
            make_payload(index, &audio[i * spp..(i + 1) * spp], &mut payload);
            prev_talk = true;
            sent += 1;
        }
        // Gilbert–Elliott state step.
        bad = if bad {
            rng.gen::<f64>() >= model.ge_r
        } else {
            rng.gen::<f64>() < model.ge_p
        };
        let p_loss = if bad { model.loss_bad } else { model.loss_good };
        if send_ms > spike_until_ms && rng.gen::<f64>() < model.spike_prob {
            spike_until_ms = send_ms + model.spike_len_ms;
        }
        let spike = if send_ms <= spike_until_ms {
            model.spike_ms
        } else {
            0.0
        };
        let jitter = gamma(&mut rng, model.gamma_shape, model.gamma_scale_ms) * gain(send_ms / 1000.0);
        if rng.gen::<f64>() < p_loss {
            if is_cn {
                cn_lost += 1;
            } else {
                lost.push(index);
            }
        } else {
            let extra = jitter + spike;
            let arrival_us = ((send_ms + base_ms + extra) * 1000.0) as i64;
            let d = Delivery {
                arrival_us,
                index,
                seq,
                ts,
                marker,
                ssrc: 0x1234_5678,
                payload,
                extra_ms: extra,
                cn: is_cn,
            };
            if rng.gen::<f64>() < model.dup {
                let mut copy = d.clone();
                copy.arrival_us += (rng.gen::<f64>() * 20_000.0) as i64;
                deliveries.push(copy);
                duplicated += 1;
            }
            deliveries.push(d);
        }
        seq = seq.wrapping_add(1);
        if !is_cn {
            index += 1;
        }
    }
    deliveries.sort_by_key(|d| d.arrival_us);
    Trace {
        deliveries,
        sent,
        lost,
        duplicated,
        cn_sent,
        cn_lost,
    }
}

/// Pushes one delivery at its arrival time (comfort-noise packets through `push_comfort_noise`). Does not
/// allocate.
pub fn push_delivery(jb: &mut JitterBuffer, d: &Delivery) -> PushOutcome {
    let pkt = JitterPacket {
        ssrc: d.ssrc,
        seq: d.seq,
        timestamp: d.ts,
        marker: d.marker,
        payload: &d.payload,
    };
    let at = Duration::from_micros(d.arrival_us as u64);
    if d.cn {
        jb.push_comfort_noise(at, &pkt)
    } else {
        jb.push(at, &pkt)
    }
}

/// Output of running a trace through a jitter buffer.
pub struct Playout {
    pub audio: Vec<i16>,
    pub kinds: Vec<PlayoutKind>,
    pub target_ms: Vec<f64>,
    /// Packet indices the buffer rejected as late.
    pub late: Vec<u32>,
}

/// Drives `jb` with the trace: packets are pushed at their arrival times, frames popped every frame period
/// (the receiver's clock), until `end_ms` of receiver time or until every packet has been delivered and played.
pub fn run(jb: &mut JitterBuffer, dec: &mut TraceDecoder, trace: &Trace, end_ms: u64) -> Playout {
    let frame = jb.frame_samples();
    let frame_ms = jb.config().frame_ms as u64;
    let mut out = vec![0i16; frame];
    let mut audio = Vec::new();
    let mut kinds = Vec::new();
    let mut target_ms = Vec::new();
    let mut late = Vec::new();
    let mut next = 0;
    let mut t_ms = 0u64;
    while t_ms < end_ms {
        if next == trace.deliveries.len() && jb.buffered_packets() == 0 && jb.buffered_samples() < frame {
            break;
        }
        let now_us = (t_ms * 1000) as i64;
        while next < trace.deliveries.len() && trace.deliveries[next].arrival_us <= now_us {
            let d = &trace.deliveries[next];
            if push_delivery(jb, d) == PushOutcome::Late && !d.cn {
                late.push(d.index);
            }
            next += 1;
        }
        let k = jb.pop(Duration::from_micros(now_us as u64), dec, &mut out);
        audio.extend_from_slice(&out);
        kinds.push(k);
        target_ms.push(jb.target_delay_ms());
        t_ms += frame_ms;
    }
    Playout {
        audio,
        kinds,
        target_ms,
        late,
    }
}

/// A sine of `freq` Hz at `rate`, amplitude `amp`.
pub fn sine(rate: u32, freq: f64, amp: f64, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| {
            (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin()).round() as i16
        })
        .collect()
}

/// Empirical quantile of a sample.
pub fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).expect("finite delays"));
    s[((s.len() as f64 - 1.0) * q).round() as usize]
}
