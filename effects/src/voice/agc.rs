//! `agc`: voice-activity-gated automatic gain control with a look-ahead peak limiter.
//!
//! # What
//! Brings the active-speech level to `target_dbfs` (dBFS RMS, or LUFS with `mode=lufs`) by an adaptive
//! digital gain between −30 dB and `max_gain_db`, moving at most `attack_db_s` dB/s down and `release_db_s`
//! dB/s up, adapting only while the [`Vad`] hears speech. A look-ahead limiter then guarantees that no
//! output sample exceeds `ceiling_dbfs` (|y| ≤ ceiling, always). Meters: `gain_db`, `speech_level_db`,
//! `limiter_db`, `speech`.
//!
//! # How
//! - Level: the mean square of each 10 ms frame (K-weighted per ITU-R BS.1770-4 in `lufs` mode, with the
//!   −0.691 dB offset), averaged in the power domain over speech frames whose SNR exceeds 6 dB (time
//!   constant 0.5 s; a cumulative mean for the first half second of speech).
//! - Level jumps: a second, short-term level (mean power of the last 250 ms of speech frames) is compared
//!   with the long-term one; when they differ by more than 6 dB for 150 ms of speech, the long-term mean
//!   restarts from the short-term window (which by then holds only the new level).
//! - Gain: every frame the gain steps towards `target − level` within the slew limits and is ramped
//!   linearly over the next frame, so it never jumps. While it is more than 6 dB from its target, after a
//!   detected jump, and during the first half second of speech, the slew limits are multiplied by 4 (a
//!   −40 dBFS talker reaches the target in about half a second).
//! - Limiter: with a look-ahead of L = 5 ms the required gain `g[n] = min(1, c/|x[n]|)` goes through a
//!   sliding minimum over L+1 samples and a moving average over L+1 samples; every term of that average is
//!   ≤ the required gain of the sample leaving the delay line, so the peak never passes the ceiling (a
//!   final clamp only absorbs floating-point rounding). Release: the gain recovers with a 60 ms time
//!   constant, never above the smoothed requirement. Channels are linked.
//!
//! - `process` runs a second build compiled for AVX2 where `prepare` finds it (the per-sample loops eight
//!   lanes wide, nothing fused or reordered: the same output bit for bit).
//!
//! # Real-time safety
//! All buffers are sized in `prepare`; `process` is arithmetic on them. Its one `unsafe` call enters the
//! AVX2 build after `prepare`'s CPU feature check.

use std::sync::Arc;

use tutti_engine::{
    EngineError, Inputs, Meters, NodeArgs, NodeType, Outputs, ParamInfo, Processor, Smoothed, StreamConfig,
};

use super::vad::Vad;
use crate::basic::{Biquad, BiquadCoeffs};

const PARAMS: &[ParamInfo] = &[
    ParamInfo::new(
        "target_dbfs",
        "dBFS",
        -60.0,
        -3.0,
        -23.0,
        "target active-speech level (LUFS in lufs mode)",
    ),
    ParamInfo::new("max_gain_db", "dB", 0.0, 50.0, 30.0, "largest gain applied"),
    ParamInfo::new("attack_db_s", "dB/s", 1.0, 200.0, 20.0, "fastest gain decrease"),
    ParamInfo::new("release_db_s", "dB/s", 0.5, 100.0, 10.0, "fastest gain increase"),
    ParamInfo::new(
        "ceiling_dbfs",
        "dBFS",
        -20.0,
        0.0,
        -1.0,
        "limiter ceiling: no sample exceeds it",
    ),
    ParamInfo::choice(
        "mode",
        &["rms", "lufs"],
        0,
        "level measure: RMS dBFS or BS.1770 loudness",
    ),
];

const METERS: &[&str] = &["gain_db", "speech_level_db", "limiter_db", "speech"];

/// Lowest gain the AGC applies, dB.
const MIN_GAIN_DB: f32 = -30.0;
/// Time constant of the long-term speech level, s.
const LONG_TAU_S: f64 = 0.5;
/// Speech frames (10 ms) of the short-term speech level that detects level jumps.
const SHORT_FRAMES: usize = 25;
/// Deviation of the short-term from the long-term level that counts as a jump, dB.
const JUMP_DB: f64 = 6.0;
/// How long (of speech) the deviation must last, s.
const JUMP_S: f64 = 0.15;
/// Factor on the slew limits while the gain catches up with a jump or with the first speech.
const CATCH_UP: f32 = 4.0;

/// The `agc` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "agc",
    description: "automatic gain control (VAD-gated, RMS or LUFS) with a look-ahead limiter",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: |a: &NodeArgs| {
        let mut agc = Agc::new();
        for (i, v) in a.values().iter().enumerate() {
            agc.set_param(i, *v);
        }
        Ok(Box::new(agc))
    },
    stage: None,
};

/// The two K-weighting stages of ITU-R BS.1770-4 at `fs`: the high-shelf "pre-filter" and the RLB
/// high-pass. At 48 kHz they reproduce the coefficients tabulated in the Recommendation; at other rates
/// they come from the same analogue prototypes through the bilinear transform (RBJ form).
pub fn k_weighting(fs: f64) -> [BiquadCoeffs; 2] {
    // Analogue prototype parameters that reproduce the Recommendation's 48 kHz table (as derived by
    // B. De Man and used by libebur128): shelf f0, gain, Q and the Vb exponent; RLB high-pass f0 and Q.
    let (f0, g, q) = (
        1_681.974_450_955_533,
        3.999_843_853_973_347,
        0.707_175_236_955_419_6,
    );
    let k = (std::f64::consts::PI * f0 / fs).tan();
    let vh = 10f64.powf(g / 20.0);
    let vb = vh.powf(0.499_666_774_154_541_6);
    let a0 = 1.0 + k / q + k * k;
    let shelf = BiquadCoeffs {
        b0: (vh + vb * k / q + k * k) / a0,
        b1: 2.0 * (k * k - vh) / a0,
        b2: (vh - vb * k / q + k * k) / a0,
        a1: 2.0 * (k * k - 1.0) / a0,
        a2: (1.0 - k / q + k * k) / a0,
    };
    let (f0, q) = (38.135_470_876_024_44, 0.500_327_037_323_877_3);
    let k = (std::f64::consts::PI * f0 / fs).tan();
    let a0 = 1.0 + k / q + k * k;
    // The Recommendation's RLB stage has numerator exactly 1, −2, 1 (no gain normalisation).
    let rlb = BiquadCoeffs {
        b0: 1.0,
        b1: -2.0,
        b2: 1.0,
        a1: 2.0 * (k * k - 1.0) / a0,
        a2: (1.0 - k / q + k * k) / a0,
    };
    [shelf, rlb]
}

/// Sliding minimum over the last `w` values (monotonic deque in a ring).
#[derive(Debug, Clone)]
struct SlidingMin {
    idx: Vec<u64>,
    val: Vec<f32>,
    head: usize,
    len: usize,
    w: u64,
}

impl SlidingMin {
    fn new(w: usize) -> Self {
        Self {
            idx: vec![0; w + 1],
            val: vec![0.0; w + 1],
            head: 0,
            len: 0,
            w: w as u64,
        }
    }

    fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    fn push(&mut self, t: u64, v: f32) -> f32 {
        // Indices wrap by one comparison (no division on the per-sample path): `head + len ≤ 2·cap`.
        let cap = self.idx.len();
        let wrap = |i: usize| if i >= cap { i - cap } else { i };
        while self.len > 0 {
            let back = wrap(self.head + self.len - 1);
            if self.val[back] >= v {
                self.len -= 1;
            } else {
                break;
            }
        }
        let pos = wrap(self.head + self.len);
        self.idx[pos] = t;
        self.val[pos] = v;
        self.len += 1;
        while self.idx[self.head] + self.w <= t {
            self.head = wrap(self.head + 1);
            self.len -= 1;
        }
        self.val[self.head]
    }
}

/// The AGC (see the module docs).
#[derive(Debug)]
pub struct Agc {
    target_db: f32,
    max_gain_db: f32,
    attack: f32,
    release: f32,
    ceiling: f32,
    lufs: bool,
    rate: u32,
    vad: Option<Vad>,
    kw: Vec<[Biquad; 2]>,
    frame_len: usize,
    acc_pow: f64,
    acc_n: usize,
    level_pow: f64,
    /// Powers of the last speech frames, for jump detection.
    short_ring: [f64; SHORT_FRAMES],
    short_sum: f64,
    short_pos: usize,
    short_len: usize,
    /// Speech frames in a row whose short-term level deviates by more than `JUMP_DB`.
    jump_frames: u32,
    /// The gain is catching up with a level jump (faster slew).
    catch_up: bool,
    speech_frames: u32,
    gain_db: f32,
    gain: Smoothed,
    // Limiter.
    look: usize,
    delay: Vec<Vec<f32>>,
    dpos: usize,
    smin: SlidingMin,
    box_ring: Vec<f32>,
    box_sum: f64,
    t: u64,
    lim_gain: f32,
    lim_release: f32,
    lim_min: f32,
    /// Samples in a row whose required limiter gain was 1.
    quiet: usize,
    /// Per-sample AGC gains of the current segment (scratch, one block).
    gains: Vec<f32>,
    /// Per-sample limiter gains of the current segment (scratch, one block).
    lim: Vec<f32>,
    /// Whether the idle-limiter shortcut may be taken (tests compare both paths).
    idle_path: bool,
    /// Segments processed by the idle shortcut.
    idle_segments: u64,
    /// Run `process` compiled for AVX2 (set in `prepare` where the CPU has it).
    wide: bool,
    /// Never take the AVX2 build (the tests compare both).
    portable_only: bool,
    meters: Arc<Meters>,
}

impl Default for Agc {
    fn default() -> Self {
        Self::new()
    }
}

impl Agc {
    /// An AGC with the default parameters; call [`Processor::prepare`] before use.
    pub fn new() -> Self {
        Self {
            target_db: -23.0,
            max_gain_db: 30.0,
            attack: 20.0,
            release: 10.0,
            ceiling: 10f32.powf(-1.0 / 20.0),
            lufs: false,
            rate: 16_000,
            vad: None,
            kw: Vec::new(),
            frame_len: 160,
            acc_pow: 0.0,
            acc_n: 0,
            level_pow: 0.0,
            short_ring: [0.0; SHORT_FRAMES],
            short_sum: 0.0,
            short_pos: 0,
            short_len: 0,
            jump_frames: 0,
            catch_up: false,
            speech_frames: 0,
            gain_db: 0.0,
            gain: Smoothed::new(1.0, 160),
            look: 80,
            delay: Vec::new(),
            dpos: 0,
            smin: SlidingMin::new(81),
            box_ring: Vec::new(),
            box_sum: 0.0,
            t: 0,
            lim_gain: 1.0,
            lim_release: 0.0,
            lim_min: 1.0,
            quiet: 0,
            gains: Vec::new(),
            lim: Vec::new(),
            idle_path: true,
            idle_segments: 0,
            wide: false,
            portable_only: false,
            meters: Meters::new(METERS),
        }
    }

    fn end_frame(&mut self) {
        let Some(vad) = self.vad.as_ref() else { return };
        let p = self.acc_pow / self.acc_n.max(1) as f64;
        self.acc_pow = 0.0;
        self.acc_n = 0;
        let speech = vad.is_speech() && vad.features().snr_db > 6.0;
        if speech {
            self.speech_frames = self.speech_frames.saturating_add(1);
            let frame_s = self.frame_len as f64 / f64::from(self.rate);
            let warm = (0.5 / frame_s) as u32;
            let k = if self.speech_frames <= warm {
                1.0 / f64::from(self.speech_frames)
            } else {
                1.0 - (-frame_s / LONG_TAU_S).exp()
            };
            self.level_pow += k * (p - self.level_pow);
            // Short-term level: mean power of the last SHORT_FRAMES speech frames.
            self.short_sum += p - self.short_ring[self.short_pos];
            self.short_ring[self.short_pos] = p;
            self.short_pos = (self.short_pos + 1) % SHORT_FRAMES;
            self.short_len = (self.short_len + 1).min(SHORT_FRAMES);
            if self.short_pos == 0 {
                // Re-sum once per turn so rounding cannot accumulate.
                self.short_sum = self.short_ring.iter().sum();
            }
            let short_pow = self.short_sum.max(0.0) / self.short_len as f64;
            // Level jump: the short-term level stays more than JUMP_DB away from the long-term one for
            // JUMP_S of speech; the long-term estimate restarts from the short-term one and the gain moves
            // at CATCH_UP times the slew limits until it reaches its new target.
            let dev = 10.0 * (short_pow.max(1e-12) / self.level_pow.max(1e-12)).log10();
            self.jump_frames = if dev.abs() > JUMP_DB {
                self.jump_frames + 1
            } else {
                0
            };
            if f64::from(self.jump_frames) * frame_s >= JUMP_S {
                // Restart the long-term mean from the window, which by now holds only the new level.
                self.level_pow = short_pow;
                self.speech_frames = self.short_len as u32;
                self.jump_frames = 0;
                self.catch_up = true;
            }
            let offset = if self.lufs { -0.691 } else { 0.0 };
            let level_db = offset + 10.0 * (self.level_pow.max(1e-12)).log10() as f32;
            let want = (self.target_db - level_db).clamp(MIN_GAIN_DB, self.max_gain_db);
            let dt = frame_s as f32;
            // The first speech (no level known before it) is also caught up with.
            let fast = if self.catch_up
                || self.speech_frames <= warm
                || (want - self.gain_db).abs() > JUMP_DB as f32
            {
                CATCH_UP
            } else {
                1.0
            };
            let step = (want - self.gain_db).clamp(-self.attack * dt * fast, self.release * dt * fast);
            self.gain_db += step;
            if (want - self.gain_db).abs() < 1.0 {
                self.catch_up = false;
            }
            self.meters.set(1, f64::from(level_db));
        }
        // Parameter changes of max_gain take effect even in silence.
        self.gain_db = self.gain_db.clamp(MIN_GAIN_DB, self.max_gain_db);
        self.gain.set_target(10f32.powf(self.gain_db / 20.0));
        self.meters.set(0, f64::from(self.gain_db));
        self.meters
            .set(2, f64::from(20.0 * self.lim_min.max(1e-6).log10()));
        self.meters.set(3, if speech { 1.0 } else { 0.0 });
        self.lim_min = 1.0;
    }

    /// The look-ahead limiter over `seg` samples from `i`, gains already in `self.gains`. With `idle` (every
    /// required gain of the last 2·(L+1) − 1 samples and of the segment is 1) the sliding minimum and every
    /// term of the moving average are 1 throughout, so their per-sample updates are skipped; the result is
    /// the same.
    #[inline(always)]
    fn limit(
        &mut self,
        input: &tutti_engine::AudioRef<'_>,
        out: &mut tutti_engine::AudioMut<'_>,
        i: usize,
        seg: usize,
        chans: usize,
        idle: bool,
    ) {
        let w = self.look + 1;
        let box_norm = 1.0 / w as f64;
        let dpos0 = self.dpos;
        // Limiter gain per sample, into `lim` (scratch).
        if idle {
            let avg = (self.box_sum * box_norm) as f32;
            if self.lim_gain >= avg {
                // For a gain g ≤ 1 the release step g + (1 − g)·r is ≥ g (rounding is monotonic), so with
                // g ≥ avg the recurrence below gives min(avg, ·) = avg at its first sample and every later one.
                self.lim_gain = avg;
                self.lim[..seg].fill(avg);
            } else {
                for l in &mut self.lim[..seg] {
                    let rel = self.lim_gain + (1.0 - self.lim_gain) * self.lim_release;
                    self.lim_gain = avg.min(rel);
                    *l = self.lim_gain;
                }
            }
            self.t += seg as u64;
            self.smin.clear();
            self.smin.push(self.t - 1, 1.0);
            self.quiet += seg;
            self.idle_segments += 1;
        } else {
            let mut slot = (self.t % w as u64) as usize;
            for j in 0..seg {
                let mut peak_in = 0.0f32;
                for c in 0..chans {
                    peak_in = peak_in.max(input.channel(c)[i + j].abs());
                }
                // Required gain of the newest sample (the gain is positive: |x·g| = |x|·g).
                let peak = peak_in * self.gains[j];
                let req = if peak > self.ceiling {
                    self.ceiling / peak
                } else {
                    1.0
                };
                self.quiet = if req == 1.0 { self.quiet + 1 } else { 0 };
                let m = self.smin.push(self.t, req);
                self.box_sum += f64::from(m) - f64::from(self.box_ring[slot]);
                self.box_ring[slot] = m;
                slot = if slot + 1 == w { 0 } else { slot + 1 };
                self.t += 1;
                let avg = (self.box_sum * box_norm) as f32;
                let rel = self.lim_gain + (1.0 - self.lim_gain) * self.lim_release;
                self.lim_gain = avg.min(rel);
                self.lim[j] = self.lim_gain;
            }
        }
        self.lim_min = self.lim_min.min(min_of(&self.lim[..seg]));
        // Gain, delay by the look-ahead, limiter gain, final clamp.
        for c in 0..chans {
            delay_apply(
                &mut self.delay[c],
                dpos0,
                &input.channel(c)[i..i + seg],
                &self.gains[..seg],
                &self.lim[..seg],
                &mut out.channel_mut(c)[i..i + seg],
                self.ceiling,
            );
        }
        self.dpos = (dpos0 + seg) % w;
    }
}

/// Σx² of `x` in f64 (each square is exact in f64), four running sums so the loop vectorises.
#[inline(always)]
fn sum_squares(x: &[f32]) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut chunks = x.chunks_exact(4);
    for c in &mut chunks {
        for k in 0..4 {
            acc[k] += f64::from(c[k]) * f64::from(c[k]);
        }
    }
    let tail: f64 = chunks
        .remainder()
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// The largest magnitude in `x` (0 for an empty slice); eight running maxima so the loop vectorises
/// (max is exact in any order).
#[inline(always)]
fn peak_abs(x: &[f32]) -> f32 {
    let mut m = [0.0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for k in 0..8 {
            m[k] = m[k].max(c[k].abs());
        }
    }
    let tail = chunks.remainder().iter().fold(0.0f32, |a, &v| a.max(v.abs()));
    m.iter().fold(tail, |a, &v| a.max(v))
}

/// The smallest value in `x` (`f32::MAX` for an empty slice), eight lanes at a time.
#[inline(always)]
fn min_of(x: &[f32]) -> f32 {
    let mut m = [f32::MAX; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for k in 0..8 {
            m[k] = m[k].min(c[k]);
        }
    }
    let tail = chunks.remainder().iter().fold(f32::MAX, |a, &v| a.min(v));
    m.iter().fold(tail, |a, &v| a.min(v))
}

/// The look-ahead delay for one channel: writes `x·g` into the ring `d` (length L + 1, write position
/// `p0`) and reads the sample written L steps earlier, times the limiter gain, clamped to `±c_max`, into
/// `y`. Per sample that is "write at p, read at p + 1 (mod L + 1)"; over a run where neither index wraps
/// every read precedes the write to its slot, so the run reads all, then writes all — the same values, in
/// loops the compiler vectorises.
#[inline(always)]
fn delay_apply(d: &mut [f32], p0: usize, x: &[f32], g: &[f32], lim: &[f32], y: &mut [f32], c_max: f32) {
    let w = d.len();
    let (mut p, mut j) = (p0, 0);
    while j < x.len() {
        if p + 1 == w {
            y[j] = (d[0] * lim[j]).clamp(-c_max, c_max);
            d[p] = x[j] * g[j];
            p = 0;
            j += 1;
            continue;
        }
        let len = (w - 1 - p).min(x.len() - j);
        for ((yo, &r), &l) in y[j..j + len]
            .iter_mut()
            .zip(&d[p + 1..p + 1 + len])
            .zip(&lim[j..j + len])
        {
            *yo = (r * l).clamp(-c_max, c_max);
        }
        for ((dw, &xv), &gv) in d[p..p + len].iter_mut().zip(&x[j..j + len]).zip(&g[j..j + len]) {
            *dw = xv * gv;
        }
        p += len;
        j += len;
    }
}

impl Agc {
    /// [`Processor::process`] compiled for AVX2 + FMA: the per-sample loops (level, peak, gain ramp,
    /// delay line) run eight lanes wide; no operation is fused or reordered, so the output is the same bit
    /// for bit (tested).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn process_avx2(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        self.process_impl(inputs, outputs);
    }

    #[inline(always)]
    fn process_impl(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let input = inputs.port(0);
        let mut out = outputs.port(0);
        let frames = input.frames();
        let chans = input.channels().min(self.delay.len());
        let Some(v) = self.vad.as_mut() else {
            return; // not prepared
        };
        v.process(input.channel(0));
        // Segments end at the 10 ms frame boundaries, where the gain target may change.
        let mut i = 0;
        while i < frames {
            let seg = (self.frame_len - self.acc_n)
                .min(frames - i)
                .min(self.gains.len());
            // Level measurement on the input.
            for c in 0..chans {
                let xs = &input.channel(c)[i..i + seg];
                if self.lufs {
                    let [s, h] = &mut self.kw[c];
                    for &x in xs {
                        let y = h.tick(s.tick(f64::from(x)));
                        self.acc_pow += y * y;
                    }
                } else {
                    self.acc_pow += sum_squares(xs);
                }
            }
            self.acc_n += seg;
            let gains = &mut self.gains[..seg];
            let g_max = if self.gain.is_ramping() {
                let mut g_max = 0.0f32;
                for g in gains.iter_mut() {
                    *g = self.gain.next();
                    g_max = g_max.max(*g);
                }
                g_max
            } else {
                // Between ramps (all of silence) the gain is one constant.
                let g = self.gain.current();
                gains.fill(g);
                g
            };
            let mut peak_in = 0.0f32;
            for c in 0..chans {
                peak_in = peak_in.max(peak_abs(&input.channel(c)[i..i + seg]));
            }
            // The limiter is idle and stays so: every required gain in the last two windows (the sliding
            // minimum's and the moving average's) and in this segment is 1.
            let idle = self.idle_path && self.quiet > 2 * self.look && peak_in * g_max <= self.ceiling;
            self.limit(&input, &mut out, i, seg, chans, idle);
            if self.acc_n >= self.frame_len {
                self.end_frame();
            }
            i += seg;
        }
        // Re-sum the moving average now and then so rounding cannot accumulate.
        if self.t % (1 << 16) < frames as u64 {
            self.box_sum = self.box_ring.iter().map(|&v| f64::from(v)).sum();
        }
    }
}

impl Processor for Agc {
    fn name(&self) -> &'static str {
        "agc"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.rate = cfg.sample_rate;
        self.vad = Some(Vad::decision_only(cfg.sample_rate));
        #[cfg(target_arch = "x86_64")]
        {
            self.wide = !self.portable_only && crate::basic::simd8::has_avx2_fma();
        }
        let kc = k_weighting(f64::from(cfg.sample_rate));
        self.kw = (0..cfg.channels)
            .map(|_| [Biquad::new(kc[0]), Biquad::new(kc[1])])
            .collect();
        self.frame_len = (cfg.sample_rate / 100) as usize;
        self.look = cfg.frames_for_ms(5.0).max(1);
        self.delay = (0..cfg.channels).map(|_| vec![0.0; self.look + 1]).collect();
        self.smin = SlidingMin::new(self.look + 1);
        self.box_ring = vec![1.0; self.look + 1];
        self.gains = vec![0.0; cfg.block_frames];
        self.lim = vec![0.0; cfg.block_frames];
        self.lim_release = 1.0 - (-1.0 / (0.06 * cfg.sample_rate as f32)).exp();
        self.gain = Smoothed::new(10f32.powf(self.gain_db / 20.0), self.frame_len as u32);
        self.reset();
        Ok(())
    }

    #[allow(unsafe_code)]
    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        #[cfg(target_arch = "x86_64")]
        if self.wide {
            // SAFETY: `wide` is only set in `prepare` where the CPU has AVX2 and FMA, the only requirement
            // of `process_avx2`.
            return unsafe { self.process_avx2(inputs, outputs) };
        }
        self.process_impl(inputs, outputs);
    }

    fn reset(&mut self) {
        if let Some(v) = self.vad.as_mut() {
            v.reset();
        }
        for k in &mut self.kw {
            k[0].reset();
            k[1].reset();
        }
        for d in &mut self.delay {
            d.fill(0.0);
        }
        self.dpos = 0;
        self.smin.clear();
        self.box_ring.fill(1.0);
        self.box_sum = self.box_ring.len() as f64;
        self.t = 0;
        self.lim_gain = 1.0;
        self.lim_min = 1.0;
        self.quiet = 0;
        self.acc_pow = 0.0;
        self.acc_n = 0;
        self.level_pow = 0.0;
        self.short_ring = [0.0; SHORT_FRAMES];
        self.short_sum = 0.0;
        self.short_pos = 0;
        self.short_len = 0;
        self.jump_frames = 0;
        self.catch_up = false;
        self.speech_frames = 0;
        self.gain_db = 0.0;
        self.gain.set_immediate(1.0);
    }

    fn latency(&self) -> usize {
        self.look
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        match index {
            0 => self.target_db = value,
            1 => self.max_gain_db = value,
            2 => self.attack = value,
            3 => self.release = value,
            4 => self.ceiling = 10f32.powf(value / 20.0),
            5 => self.lufs = value >= 0.5,
            _ => {}
        }
    }

    fn meters(&self) -> Option<Arc<Meters>> {
        Some(self.meters.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeded uniform noise in [−½, ½) (xorshift64).
    fn xorshift_noise(mut seed: u64) -> impl FnMut() -> f32 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        }
    }

    /// ITU-R BS.1770-4, tables 1 and 2 (48 kHz coefficients).
    #[test]
    fn k_weighting_matches_bs1770_table_at_48k() {
        let [s, h] = k_weighting(48_000.0);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-8;
        assert!(close(s.b0, 1.535_124_859_586_97), "{s:?}");
        assert!(close(s.b1, -2.691_696_189_406_38), "{s:?}");
        assert!(close(s.b2, 1.198_392_810_852_85), "{s:?}");
        assert!(close(s.a1, -1.690_659_293_182_41), "{s:?}");
        assert!(close(s.a2, 0.732_480_774_215_85), "{s:?}");
        assert_eq!((h.b0, h.b1, h.b2), (1.0, -2.0, 1.0));
        assert!(close(h.a1, -1.990_047_454_833_98), "{h:?}");
        assert!(close(h.a2, 0.990_072_250_366_21), "{h:?}");
    }

    /// The idle-limiter shortcut gives the same samples, bit for bit, as the per-sample limiter, on a
    /// signal that alternates quiet speech-like noise (limiter idle) and loud bursts (limiter active).
    #[test]
    fn idle_shortcut_is_exact() {
        use tutti_engine::render_offline;
        let cfg = StreamConfig::with_frames(16_000, 2, 320).expect("valid configuration");
        let mut noise = xorshift_noise(0x2545_f491_4f6c_dd1d);
        let n = 16_000 * 6;
        let sig: Vec<f32> = (0..n)
            .map(|i| {
                let loud = (i / 8000) % 3 == 2;
                let tone = (i as f32 * 0.07).sin();
                if loud {
                    1.4 * tone
                } else {
                    0.05 * tone + 0.01 * noise()
                }
            })
            .collect();
        let other: Vec<f32> = sig.iter().map(|x| -0.7 * x).collect();
        let inputs = vec![vec![sig, other]];
        let mut fast = Agc::new();
        let a = render_offline(&mut fast, &cfg, &inputs).expect("renders");
        let mut slow = Agc::new();
        slow.idle_path = false;
        let b = render_offline(&mut slow, &cfg, &inputs).expect("renders");
        assert!(
            fast.idle_segments > 50,
            "shortcut taken {} times",
            fast.idle_segments
        );
        assert_eq!(slow.idle_segments, 0);
        assert!(a[0][0].iter().any(|y| y.abs() > 0.85), "the limiter was reached");
        for (c, (x, y)) in a[0].iter().zip(&b[0]).enumerate() {
            if let Some(i) = x.iter().zip(y).position(|(p, q)| p.to_bits() != q.to_bits()) {
                panic!("channel {c} differs first at sample {i}: {} vs {}", x[i], y[i]);
            }
        }
    }

    /// The AVX2 build of `process` gives the same samples, bit for bit, as the baseline build (speech-like
    /// bursts that drive the gain and the limiter, stereo, an odd block length).
    #[test]
    fn wide_and_portable_builds_are_identical() {
        use tutti_engine::render_offline;
        let cfg = StreamConfig::with_frames(16_000, 2, 250).expect("valid configuration");
        let mut noise = xorshift_noise(0x0123_4567_89ab_cdef);
        let sig: Vec<f32> = (0..16_000 * 5)
            .map(|i| {
                let level = [0.01, 0.3, 0.002, 1.2][(i / 6000) % 4];
                let voiced = (i as f32 * 0.05).sin() * (i as f32 * 0.0011).sin().abs();
                level * voiced + 0.001 * noise()
            })
            .collect();
        let other: Vec<f32> = sig.iter().map(|x| 0.5 * x).collect();
        let inputs = vec![vec![sig, other]];
        let mut wide = Agc::new();
        let a = render_offline(&mut wide, &cfg, &inputs).expect("renders");
        let mut base = Agc::new();
        base.portable_only = true;
        let b = render_offline(&mut base, &cfg, &inputs).expect("renders");
        assert!(!base.wide);
        if !wide.wide {
            eprintln!("no AVX2+FMA on this CPU: only the baseline build runs here");
        }
        assert!(a[0][0].iter().any(|y| y.abs() > 0.85), "the limiter was reached");
        for (c, (x, y)) in a[0].iter().zip(&b[0]).enumerate() {
            if let Some(i) = x.iter().zip(y).position(|(p, q)| p.to_bits() != q.to_bits()) {
                panic!("channel {c} differs first at sample {i}: {} vs {}", x[i], y[i]);
            }
        }
    }

    #[test]
    fn sliding_min_is_exact() {
        let mut s = SlidingMin::new(4);
        let v = [5.0, 3.0, 4.0, 6.0, 7.0, 8.0, 1.0, 9.0, 9.0, 9.0, 9.0];
        for (t, &x) in v.iter().enumerate() {
            let got = s.push(t as u64, x);
            let lo = t.saturating_sub(3);
            let want = v[lo..=t].iter().copied().fold(f32::MAX, f32::min);
            assert_eq!(got, want, "t={t}");
        }
    }

    #[test]
    fn delay_runs_equal_the_per_sample_ring() {
        let mut rnd = xorshift_noise(0x9e37_79b9_7f4a_7c15);
        for w in [2usize, 3, 41, 81] {
            let mut fast = vec![0.0f32; w];
            let mut slow = vec![0.0f32; w];
            let mut p = 0;
            for seg in [1usize, 7, 80, 160, 3, w, w + 1, 2 * w + 5] {
                let x: Vec<f32> = (0..seg).map(|_| 3.0 * rnd()).collect();
                let g: Vec<f32> = (0..seg).map(|_| 1.0 + rnd()).collect();
                let lim: Vec<f32> = (0..seg).map(|_| 0.75 + rnd() / 2.0).collect();
                let mut y_fast = vec![0.0f32; seg];
                delay_apply(&mut fast, p, &x, &g, &lim, &mut y_fast, 0.9);
                // The per-sample ring.
                let mut y_slow = vec![0.0f32; seg];
                let mut dpos = p;
                for j in 0..seg {
                    let rd = if dpos + 1 == w { 0 } else { dpos + 1 };
                    slow[dpos] = x[j] * g[j];
                    y_slow[j] = (slow[rd] * lim[j]).clamp(-0.9, 0.9);
                    dpos = rd;
                }
                assert_eq!(y_fast, y_slow, "w {w} seg {seg} p {p}");
                assert_eq!(fast, slow, "ring state, w {w} seg {seg}");
                p = (p + seg) % w;
            }
        }
        assert_eq!(peak_abs(&[0.5, -2.0, 1.0, 0.0, 0.1, 0.2, 0.3, 0.4, -1.5]), 2.0);
        assert_eq!(peak_abs(&[]), 0.0);
        let v: Vec<f32> = (0..83).map(|i| (i as f32 * 0.37).sin()).collect();
        let want: f64 = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
        assert!((sum_squares(&v) - want).abs() < 1e-12 * want);
        assert_eq!(min_of(&[3.0, 2.0, 5.0, 1.5, 9.0, 9.0, 9.0, 9.0, 0.5, 4.0]), 0.5);
    }
}
