//! `pitch_shift`: streaming pitch shifting by ±12 semitones with unchanged duration.
//!
//! # What
//! [`PitchShifter`] shifts the pitch of a stream by `semitones` (ratio `β = 2^(s/12)`) with a constant
//! latency of [`PitchShifter::latency`] frames (about 49 ms at 48 kHz, independent of `semitones`, so
//! the latency does not jump when the shift changes). With `formant=on` the spectral envelope is kept in
//! place (speech keeps its vowel colour instead of sounding "chipmunk"). The `pitch_shift(semitones,
//! formant)` node wraps it; its construction option `mode=speech` selects the time-domain shifter of
//! `td_shift` instead (WSOLA grains read at the pitch ratio: 16.8 ms latency at 48 kHz, a fraction of the
//! vocoder's CPU, the waveform of each pitch period kept; no formant preservation).
//!
//! # How
//! Time-stretch by `β` with the phase-locked phase vocoder of [`TimeStretcher`] (Laroche & Dolson 1999;
//! FFT size ≈ 21 ms, hop 1/4), then read the stretched signal `β` samples per output sample with
//! band-limited interpolation (J. O. Smith, "Digital Audio Resampling Home Page", CCRMA: a Kaiser-windowed
//! sinc table, 16 zero crossings, β = 9, whose cut-off follows the ratio: `0.95·min(1, 1/β)` of Nyquist, so
//! shifting up cannot alias). Formant preservation warps the cepstrally smoothed envelope inside the
//! vocoder by `β` so that the resampling moves it back. The read position starts `D` output frames late,
//! where `D = N/2 + (N/2 + Hs)/β_min + (R + 2)/β_min + Hs` bounds the vocoder's look-ahead for every
//! `β ∈ [½, 2]`, so the FIFO in between never runs dry (an `underruns` counter proves it in tests).
//! Transients: the vocoder's onset detector (high-frequency content, [`super::onsets`]) marks onsets,
//! and every vocoder frame whose window holds one is analysed where it plays the onset at its nominal
//! stretched time, with a phase reset of the bins that rose (Röbel, "A new approach to transient
//! processing in the phase vocoder", DAFx 2003) — so a click keeps its shape instead of being smeared
//! over the window. Those frames read at most `|β − 1|·N/2` ahead of nominal, which the latency's slack
//! at `β > β_min` covers (when it does not, near `β = ½`, the frames stay nominal); the other frames keep
//! the nominal map, so the latency stays constant.
//!
//! # Real-time safety
//! Everything is allocated in [`PitchShifter::new`]; `process` copies, runs FFTs and interpolates.
//! `semitones` is smoothed linearly over 30 ms.

use tutti_engine::{EngineError, Inputs, NodeArgs, Outputs, ParamInfo, Processor, Smoothed, StreamConfig};

use super::stretcher::{StretchMode, TimeStretcher};
use super::td_shift::TdShifter;

const ZERO_CROSSINGS: usize = 16;
const TABLE_RES: usize = 256;
const KAISER_BETA: f64 = 9.0;
pub(super) const CUTOFF: f64 = 0.95;
/// Speech mode's shorter kernel (read twice per output sample): 8 zero crossings, nearest of 1024 phases.
pub(super) const TD_ZERO_CROSSINGS: usize = 8;
pub(super) const TD_TABLE_RES: usize = 1024;
pub(super) const TD_KAISER_BETA: f64 = 8.0;

static PARAMS: &[ParamInfo] = &[
    ParamInfo::new("semitones", "st", -12.0, 12.0, 0.0, "pitch shift in semitones"),
    ParamInfo::choice(
        "formant",
        &["off", "on"],
        0,
        "keep the spectral envelope (speech)",
    ),
];

/// The `pitch_shift` node type.
pub(crate) const TYPE: tutti_engine::NodeType = tutti_engine::NodeType {
    name: "pitch_shift",
    description: "pitch shift ±12 semitones (phase-locked vocoder + band-limited resampling)",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[(
        "mode",
        "music (phase vocoder, default) or speech (time-domain WSOLA grains: 17 ms latency, less CPU)",
    )],
    create,
    stage: None,
};

fn create(args: &NodeArgs) -> Result<Box<dyn Processor>, EngineError> {
    let mode = match args.option("mode") {
        None | Some("music") => StretchMode::Music,
        Some("speech") => StretchMode::Speech,
        Some(other) => return Err(args.error("mode", format!("'{other}': expected music or speech"))),
    };
    Ok(Box::new(PitchShiftNode {
        semitones: args.get("semitones"),
        formant: args.get("formant") >= 0.5,
        mode,
        inner: None,
    }))
}

fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
    while term > 1e-12 * sum {
        term *= (x / (2.0 * k)).powi(2);
        sum += term;
        k += 1.0;
    }
    sum
}

/// Band-limited interpolation kernel table: `f(u) = sinc(u)·kaiser(u/W)` for `u ∈ [0, W]`.
fn kernel_table() -> Vec<f32> {
    kernel_table_with(ZERO_CROSSINGS, TABLE_RES, KAISER_BETA)
}

/// The kernel table for `zc` zero crossings `W`, `res` entries per crossing and Kaiser `β = kaiser`
/// (its last two entries are 0).
pub(super) fn kernel_table_with(zc: usize, res: usize, kaiser: f64) -> Vec<f32> {
    let w = zc as f64;
    let n = zc * res + 2;
    let i0b = bessel_i0(kaiser);
    (0..n)
        .map(|i| {
            let u = i as f64 / res as f64;
            if u >= w {
                return 0.0;
            }
            let sinc = if u == 0.0 {
                1.0
            } else {
                (std::f64::consts::PI * u).sin() / (std::f64::consts::PI * u)
            };
            let r = u / w;
            (sinc * bessel_i0(kaiser * (1.0 - r * r).sqrt()) / i0b) as f32
        })
        .collect()
}

/// Streaming pitch shifter with constant latency (see the module docs).
pub struct PitchShifter {
    channels: usize,
    stretch: TimeStretcher,
    table: Vec<f32>,
    /// Stretched signal FIFO: `fifo[c][i]` is stretched sample `fifo_start + i`.
    fifo: Vec<Vec<f32>>,
    fifo_start: u64,
    fifo_len: usize,
    pos: f64,
    delay: usize,
    /// `N/2 + Hs + R + 2`: the look-ahead the latency covers beyond the vocoder's needs at `β` is
    /// this times `1/β_min − 1/β` (the budget of onset alignment).
    slack_per: f64,
    emitted: u64,
    beta: Smoothed,
    formant: bool,
    underruns: u64,
    pull_buf: Vec<Vec<f32>>,
    /// The time-domain shifter of speech mode (then the vocoder path is idle).
    td: Option<TdShifter>,
}

impl std::fmt::Debug for PitchShifter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PitchShifter")
            .field("beta", &self.beta.target())
            .field("latency", &self.delay)
            .finish_non_exhaustive()
    }
}

impl PitchShifter {
    /// A pitch shifter for `channels` channels at `rate` Hz, processing at most `max_block` frames per
    /// call.
    pub fn new(channels: usize, rate: u32, max_block: usize) -> Self {
        Self::with_mode(StretchMode::Music, channels, rate, max_block)
    }

    /// A pitch shifter using `mode`: [`StretchMode::Music`] is the phase vocoder + resampler of the module
    /// docs; [`StretchMode::Speech`] the time-domain WSOLA grain shifter (`td_shift`: 16.7 ms latency at
    /// 48 kHz, a fraction of the CPU; no formant preservation).
    pub fn with_mode(mode: StretchMode, channels: usize, rate: u32, max_block: usize) -> Self {
        let channels = channels.max(1);
        let n = TimeStretcher::default_window(rate) / 2;
        let max_block = max_block.max(1);
        let mut stretch = TimeStretcher::new(StretchMode::Music, channels, rate, n, max_block);
        // Constant latency: the vocoder analyses at m·Hs/β (no transient drift); only frames holding an
        // onset move, within the latency's slack, so that each onset is played once, in place.
        stretch.set_transients(false);
        let hs = stretch.hop();
        let beta_min = 0.5;
        let r = ZERO_CROSSINGS as f64 / CUTOFF;
        let delay =
            (n as f64 / 2.0 + (n as f64 / 2.0 + hs as f64) / beta_min + (r + 2.0) / beta_min) as usize + hs;
        let cap = 4 * (delay + max_block) + 4 * n + 64;
        Self {
            channels,
            stretch,
            table: kernel_table(),
            fifo: vec![vec![0.0; cap]; channels],
            fifo_start: 0,
            fifo_len: 0,
            pos: 0.0,
            delay,
            slack_per: n as f64 / 2.0 + hs as f64 + r + 2.0,
            emitted: 0,
            beta: Smoothed::with_time(1.0, 30.0, rate),
            formant: false,
            underruns: 0,
            pull_buf: vec![vec![0.0; cap / 2]; channels],
            td: (mode == StretchMode::Speech).then(|| {
                TdShifter::new(
                    channels,
                    rate,
                    max_block,
                    kernel_table_with(TD_ZERO_CROSSINGS, TD_TABLE_RES, TD_KAISER_BETA),
                    TD_ZERO_CROSSINGS,
                    TD_TABLE_RES,
                    CUTOFF,
                )
            }),
        }
    }

    /// The algorithm in use.
    pub fn mode(&self) -> StretchMode {
        if self.td.is_some() {
            StretchMode::Speech
        } else {
            StretchMode::Music
        }
    }

    /// Latency in frames (constant for all shifts).
    pub fn latency(&self) -> usize {
        self.td.as_ref().map_or(self.delay, TdShifter::latency)
    }

    /// Sets the shift in semitones (clamped to ±12; ramps over 30 ms).
    pub fn set_semitones(&mut self, semitones: f32) {
        self.beta
            .set_target(2f32.powf(semitones.clamp(-12.0, 12.0) / 12.0));
    }

    /// Sets the shift at once (no ramp; for set-up).
    pub fn set_semitones_immediate(&mut self, semitones: f32) {
        self.beta
            .set_immediate(2f32.powf(semitones.clamp(-12.0, 12.0) / 12.0));
    }

    /// Switches formant preservation.
    pub fn set_formant(&mut self, on: bool) {
        self.formant = on;
    }

    /// Output samples that had to be zero because the stretched signal was not there yet after the
    /// initial latency (0 when the latency bound holds).
    pub fn underruns(&self) -> u64 {
        self.underruns
    }

    /// Clears all signal state.
    pub fn reset(&mut self) {
        if let Some(td) = self.td.as_mut() {
            td.reset();
        }
        self.stretch.reset();
        for f in &mut self.fifo {
            f.fill(0.0);
        }
        self.fifo_start = 0;
        self.fifo_len = 0;
        self.pos = 0.0;
        self.emitted = 0;
        self.underruns = 0;
    }

    fn fill_fifo(&mut self) {
        loop {
            let room = self.fifo[0].len() - self.fifo_len;
            let want = room.min(self.pull_buf[0].len());
            if want == 0 {
                return;
            }
            let mut outs: [&mut [f32]; 2] = [&mut [], &mut []];
            let (a, b) = self.pull_buf.split_at_mut(1);
            outs[0] = &mut a[0][..want];
            let k = if self.channels > 1 {
                outs[1] = &mut b[0][..want];
                self.stretch.pull(&mut outs[..2])
            } else {
                self.stretch.pull(&mut outs[..1])
            };
            if k == 0 {
                return;
            }
            for c in 0..self.channels {
                self.fifo[c][self.fifo_len..self.fifo_len + k].copy_from_slice(&self.pull_buf[c][..k]);
            }
            self.fifo_len += k;
        }
    }

    /// Shifts one block: `input` and `output` hold one slice per channel, all of the same length
    /// (at most the `max_block` given to `new`; at most 2 channels).
    pub fn process(&mut self, input: &[&[f32]], output: &mut [&mut [f32]]) {
        let n = output.first().map_or(0, |o| o.len());
        if let Some(td) = self.td.as_mut() {
            // Grains take the ratio at their start (every 10 ms): follow the ramp per block.
            let beta = self.beta.advance(n as u32);
            td.set_ratio(f64::from(beta));
            td.process(input, output);
            return;
        }
        let beta_now = f64::from(self.beta.current());
        self.stretch.set_factor(beta_now);
        // The latency covers the vocoder's look-ahead at β_min = ½; at β the rest is the alignment's budget
        // (the smaller of the current and the target ratio while ramping).
        let b = beta_now.min(f64::from(self.beta.target()));
        let slack = self.slack_per * (2.0 - 1.0 / b) - 8.0;
        self.stretch
            .set_transient_alignment((slack >= 0.0).then_some(slack as usize));
        self.stretch
            .set_envelope_ratio(if self.formant { beta_now as f32 } else { 1.0 });
        let mut off = 0;
        let len = input.first().map_or(0, |c| c.len());
        while off < len {
            let mut parts: [&[f32]; 2] = [&[], &[]];
            for (c, p) in parts.iter_mut().enumerate().take(self.channels) {
                let src = input.get(c).or_else(|| input.first()).copied().unwrap_or(&[]);
                *p = &src[off.min(src.len())..];
            }
            let took = self.stretch.push(&parts[..self.channels]);
            self.fill_fifo();
            if took == 0 {
                break;
            }
            off += took;
        }
        self.fill_fifo();
        let r_half = ZERO_CROSSINGS as f64 / CUTOFF;
        for i in 0..n {
            let beta = f64::from(self.beta.next());
            if self.emitted < self.delay as u64 {
                for o in output.iter_mut() {
                    o[i] = 0.0;
                }
                self.emitted += 1;
                continue;
            }
            let c = CUTOFF * (1.0 / beta).min(1.0);
            let reach = r_half / (c / CUTOFF);
            let lo = (self.pos - reach).ceil().max(0.0) as u64;
            let hi = (self.pos + reach).floor() as u64;
            let have_end = self.fifo_start + self.fifo_len as u64;
            if hi >= have_end || lo < self.fifo_start {
                self.underruns += 1;
                for o in output.iter_mut() {
                    o[i] = 0.0;
                }
            } else {
                let scale = c * TABLE_RES as f64;
                for (ch, o) in output.iter_mut().enumerate() {
                    let f = &self.fifo[ch.min(self.channels - 1)];
                    let mut acc = 0.0f64;
                    for j in lo..=hi {
                        let u = (self.pos - j as f64).abs() * scale;
                        let ui = u as usize;
                        if ui + 1 >= self.table.len() {
                            continue;
                        }
                        let fr = (u - ui as f64) as f32;
                        let h = self.table[ui] * (1.0 - fr) + self.table[ui + 1] * fr;
                        acc += f64::from(h * f[(j - self.fifo_start) as usize]);
                    }
                    o[i] = (acc * c) as f32;
                }
            }
            self.pos += beta;
            self.emitted += 1;
        }
        // Drop stretched samples the kernel can no longer reach.
        let keep_from = (self.pos - 2.0 * r_half - 2.0).floor().max(0.0) as u64;
        let drop = keep_from
            .saturating_sub(self.fifo_start)
            .min(self.fifo_len as u64) as usize;
        if drop > 0 {
            for f in &mut self.fifo {
                f.copy_within(drop..self.fifo_len, 0);
            }
            self.fifo_len -= drop;
            self.fifo_start += drop as u64;
        }
    }
}

struct PitchShiftNode {
    semitones: f32,
    formant: bool,
    mode: StretchMode,
    inner: Option<PitchShifter>,
}

impl Processor for PitchShiftNode {
    fn name(&self) -> &'static str {
        "pitch_shift"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        let mut p = PitchShifter::with_mode(self.mode, cfg.channels, cfg.sample_rate, cfg.block_frames);
        p.set_semitones_immediate(self.semitones);
        p.set_formant(self.formant);
        self.inner = Some(p);
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let inp = inputs.port(0);
        let mut out = outputs.port(0);
        let Some(p) = self.inner.as_mut() else {
            out.fill_zero();
            return;
        };
        let chans = inp.channels().min(out.channels()).min(2);
        let ins: [&[f32]; 2] = [inp.channel(0), inp.channel(chans - 1)];
        let mut it = out.channels_mut();
        let (Some(o0), o1) = (it.next(), it.next()) else {
            return;
        };
        if chans == 2 {
            if let Some(o1) = o1 {
                p.process(&ins, &mut [o0, o1]);
                return;
            }
        }
        p.process(&ins[..1], &mut [o0]);
    }

    fn reset(&mut self) {
        if let Some(p) = self.inner.as_mut() {
            p.reset();
        }
    }

    fn latency(&self) -> usize {
        self.inner.as_ref().map_or(0, PitchShifter::latency)
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        match index {
            0 => {
                self.semitones = value;
                if let Some(p) = self.inner.as_mut() {
                    p.set_semitones(value);
                }
            }
            1 => {
                self.formant = value >= 0.5;
                if let Some(p) = self.inner.as_mut() {
                    p.set_formant(self.formant);
                }
            }
            _ => {}
        }
    }
}
