//! `limiter`: look-ahead true-peak limiter; the output never exceeds the ceiling.
//!
//! # What
//! The output's true peak, as ITU-R BS.1770-5 Annex 2 measures it (4× oversampling with its 48-tap
//! interpolation filter), stays at or below `ceiling`, and so does every output sample.
//!
//! # How
//! Per frame `n` (channels linked):
//! 1. *Peak of an interval.* The BS.1770 filter over the last 12 input samples gives the signal at
//!    1/8, 3/8, 5/8, 7/8 of the interval between samples `m = n − 6` and `m + 1`; `P[m]` is the largest
//!    magnitude of those and of the two samples, over all channels. The interval requires
//!    `r₀[m] = min(1, c/P[m])` (`c` = the ceiling).
//! 2. *Spread over the filter's support.* An output interval value depends on the 12 samples
//!    `m − 5 … m + 6`, so sample `j` requires `r[j] = min r₀[m]` over the intervals `m ∈ [j − 6, j + 5]`.
//! 3. *Hold and average.* `h[j]` = minimum of `r` over the last `W` samples (the look-ahead); a release
//!    stage lets it rise only with the release time constant (`h'[j] = min(h[j], α h'[j−1] + 1 − α)`);
//!    the gain `s[j]` is the mean of `h'` over the last `W` samples. Every `h'` in that window is at most
//!    `r[j − W + 1]`, so the gain applied to sample `j − W + 1` never exceeds what it requires, and it
//!    moves smoothly (a `W`-sample ramp) — the design of look-ahead limiters with a min-hold followed by a
//!    box filter of the same length.
//! 4. *Output.* `y = s·x` delayed by `W + 10` samples (the latency), then clamped to `±c` to absorb
//!    `f32` rounding.
//!
//! When every gain in a 12-sample support is equal the interpolated output is exactly the gain times the
//! interpolated input, which the steps above keep below `c`; within a gain ramp the interpolation mixes
//! slightly different gains, which the tests bound on EBU-style material (sweeps, square bursts,
//! inter-sample-peak sines) and 10 s of noise bursts.
//!
//! # Real-time safety
//! `prepare` sizes every ring buffer; `process` is arithmetic on them.

use std::sync::Arc;

use tutti_engine::{
    EngineError, Inputs, Meters, NodeArgs, NodeType, Outputs, ParamInfo, Processor, StreamConfig,
};

use super::common::{db_to_lin, lin_to_db, split_io, DelayLine, TRUE_PEAK_TAPS};

const PARAMS: &[ParamInfo] = &[
    ParamInfo::new(
        "ceiling",
        "dB",
        -40.0,
        0.0,
        -1.0,
        "largest true peak of the output (dBTP)",
    ),
    ParamInfo::new("release", "ms", 1.0, 2000.0, 60.0, "release time constant"),
];

/// The `limiter` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "limiter",
    description: "look-ahead true-peak limiter (BS.1770 4x interpolation); the ceiling is never exceeded",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[(
        "lookahead",
        "look-ahead time in ms, 1..=20 (default 5); latency = look-ahead + 10 samples",
    )],
    create: |a: &NodeArgs| {
        let la = match a.option("lookahead") {
            None => 5.0,
            Some(s) => match s.trim().parse::<f64>() {
                Ok(v) if (1.0..=20.0).contains(&v) => v,
                _ => return Err(a.error("lookahead", format!("expected 1..=20 ms, got '{s}'"))),
            },
        };
        Ok(Box::new(Limiter::new(a.get("ceiling"), a.get("release"), la)))
    },
    stage: None,
};

/// Target relative to the ceiling: 1e-5 (−0.0001 dB) of head-room for the f32 output rounding.
const TARGET: f64 = 1.0 - 1e-5;

/// Sliding minimum over the last `w` pushed values (monotonic queue in a fixed ring).
#[derive(Debug, Clone)]
struct SlidingMin {
    val: Vec<f64>,
    idx: Vec<u64>,
    head: usize,
    len: usize,
    w: u64,
    count: u64,
}

impl SlidingMin {
    fn new(w: usize) -> Self {
        let cap = w + 1;
        Self {
            val: vec![0.0; cap],
            idx: vec![0; cap],
            head: 0,
            len: 0,
            w: w as u64,
            count: 0,
        }
    }

    #[inline]
    fn push(&mut self, v: f64) -> f64 {
        let cap = self.val.len();
        while self.len > 0 {
            let back = (self.head + self.len - 1) % cap;
            if self.val[back] >= v {
                self.len -= 1;
            } else {
                break;
            }
        }
        let slot = (self.head + self.len) % cap;
        self.val[slot] = v;
        self.idx[slot] = self.count;
        self.len += 1;
        while self.idx[self.head] + self.w <= self.count {
            self.head = (self.head + 1) % cap;
            self.len -= 1;
        }
        self.count += 1;
        self.val[self.head]
    }

    fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.count = 0;
    }
}

/// The limiter processor.
#[derive(Debug)]
pub struct Limiter {
    ceiling_db: f32,
    release_ms: f32,
    lookahead_ms: f64,
    rate: f64,
    w: usize,
    /// Input history for the interpolator (12 samples per channel) and the output delay.
    hist: Vec<DelayLine>,
    r_min: SlidingMin,
    hold: SlidingMin,
    rel: f64,
    alpha_r: f64,
    ring: Vec<f64>,
    ring_pos: usize,
    sum: f64,
    since_resum: usize,
    /// Sample clamp: after a ceiling change, the larger of the old and new ceiling until the samples
    /// limited for the old one have left the look-ahead (so lowering the ceiling does not clip them).
    clamp_db: f32,
    clamp_countdown: usize,
    meters: Arc<Meters>,
}

impl Limiter {
    /// A limiter with `ceiling` dBTP, `release` ms and `lookahead` ms.
    pub fn new(ceiling: f32, release: f32, lookahead: f64) -> Self {
        Self {
            ceiling_db: ceiling,
            release_ms: release,
            lookahead_ms: lookahead,
            rate: 48_000.0,
            w: 1,
            hist: Vec::new(),
            r_min: SlidingMin::new(12),
            hold: SlidingMin::new(1),
            rel: 1.0,
            alpha_r: 0.0,
            ring: vec![1.0],
            ring_pos: 0,
            sum: 1.0,
            since_resum: 0,
            clamp_db: ceiling,
            clamp_countdown: 0,
            meters: Meters::new(&["gain_reduction_db"]),
        }
    }

    fn set_release(&mut self) {
        self.alpha_r = (-1.0 / (f64::from(self.release_ms) / 1000.0 * self.rate)).exp();
    }
}

impl Processor for Limiter {
    fn name(&self) -> &'static str {
        "limiter"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.rate = f64::from(cfg.sample_rate);
        self.w = ((self.lookahead_ms * self.rate / 1000.0).round() as usize).max(12);
        self.hist = (0..cfg.channels.min(2))
            .map(|_| DelayLine::new(self.w + 16))
            .collect();
        self.r_min = SlidingMin::new(12);
        self.hold = SlidingMin::new(self.w);
        self.ring = vec![1.0; self.w];
        self.set_release();
        self.reset();
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let mut out = outputs.port(0);
        let io = split_io(inputs.port(0), &mut out);
        let ch = io.channels.min(self.hist.len());
        let cf_now = db_to_lin(f64::from(self.ceiling_db)) as f32;
        // Aim a hair (−0.0001 dB) under the ceiling so that rounding the output to f32 cannot cross it.
        let c = f64::from(cf_now) * TARGET;
        let mut cf = db_to_lin(f64::from(self.clamp_db)) as f32;
        let delay = self.w + 10;
        let wn = self.w as f64;
        let mut min_gain = 1.0f64;
        for n in 0..io.frames {
            let mut peak = 0.0f64;
            for k in 0..ch {
                let line = &mut self.hist[k];
                line.push(f64::from(io.ins[k][n]));
                peak = peak.max(line.at(6).abs()).max(line.at(5).abs());
                for taps in &TRUE_PEAK_TAPS {
                    let mut v = 0.0;
                    for (j, t) in taps.iter().enumerate() {
                        v += t * line.at(j);
                    }
                    peak = peak.max(v.abs());
                }
            }
            let r0 = if peak > c { c / peak } else { 1.0 };
            let r = self.r_min.push(r0);
            let h = self.hold.push(r);
            self.rel = h.min(self.alpha_r * self.rel + (1.0 - self.alpha_r));
            // Running mean of the last W values of h'.
            self.sum += self.rel - self.ring[self.ring_pos];
            self.ring[self.ring_pos] = self.rel;
            self.ring_pos = (self.ring_pos + 1) % self.w;
            self.since_resum += 1;
            if self.since_resum >= self.w {
                self.sum = self.ring.iter().sum();
                self.since_resum = 0;
            }
            let s = (self.sum / wn).min(1.0);
            if self.clamp_countdown > 0 {
                self.clamp_countdown -= 1;
                if self.clamp_countdown == 0 {
                    self.clamp_db = self.ceiling_db;
                    cf = cf_now;
                }
            }
            min_gain = min_gain.min(s);
            for k in 0..ch {
                let x = self.hist[k].at(delay);
                io.outs[k][n] = ((x * s) as f32).clamp(-cf, cf);
            }
        }
        self.meters.set(0, -lin_to_db(min_gain));
    }

    fn reset(&mut self) {
        for l in &mut self.hist {
            l.clear();
        }
        self.r_min.clear();
        self.hold.clear();
        self.rel = 1.0;
        self.ring.fill(1.0);
        self.ring_pos = 0;
        self.sum = self.ring.len() as f64;
        self.since_resum = 0;
        self.clamp_db = self.ceiling_db;
        self.clamp_countdown = 0;
    }

    fn latency(&self) -> usize {
        self.w + 10
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        match index {
            0 => {
                self.clamp_db = self.clamp_db.max(value);
                self.ceiling_db = value;
                self.clamp_countdown = self.w + 11;
            }
            1 => {
                self.release_ms = value;
                self.set_release();
            }
            _ => {}
        }
    }

    fn meters(&self) -> Option<Arc<Meters>> {
        Some(self.meters.clone())
    }
}
