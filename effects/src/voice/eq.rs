//! `eq`: up to 8-band parametric equaliser.
//!
//! # What
//! Bands in series, each one of `off|peak|lowshelf|highshelf|lowpass|highpass|notch|bandpass`, set in a
//! chain spec either as one string per band, `bN=type:freq_hz:q[:gain_db]`, e.g.
//! `eq(b1=peak:1000:1.0:6;b2=lowshelf:200:0.7:-3)`, or as numbered run-time parameters `tN` (type),
//! `fN` (Hz), `qN`, `gN` (dB) for N = 1..8 (explicit parameters override the band string), e.g.
//! `set eq.g1 3`. `topology=rbj` (default) runs each band as an RBJ-cookbook biquad with `f64`
//! coefficients and state (transposed direct form II, exact for low f/fs); `topology=svf` runs the same
//! responses as TPT state-variable filters ([`super::svf`]) for heavily modulated use.
//!
//! # How
//! Coefficients: R. Bristow-Johnson, "Cookbook formulae for audio EQ biquad filter coefficients"
//! ([`BiquadCoeffs`]); shelves use the cookbook's Q form. Run-time changes glide: frequency and Q move
//! geometrically and gain linearly in dB with a 20 ms time constant, coefficients are recomputed every
//! 32 samples while gliding; a change of band type cross-fades the old and new filter over 10 ms.
//!
//! With `topology=rbj` and two or more channels, the bands run on [`BiquadBank8`] (8 channels per
//! 8-lane AVX2/FMA cascade, `f32`; one section per band, identity for `off` bands) whenever no band is
//! cross-fading its type; during a cross-fade the block runs on the per-channel `f64` filters, the
//! section states being handed over in both directions (same transposed form).
//!
//! # Real-time safety
//! Filters are sized in `prepare`; `process` does arithmetic (and `tan`/`cos` while gliding) only.

use tutti_engine::{EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, StreamConfig};

use super::svf::{Svf, SvfCoeffs, SvfShape};
use crate::basic::{Biquad, BiquadBank8, BiquadCoeffs};

/// Band type names, in parameter order (`tN` values are indices into this list).
pub const EQ_BAND_TYPES: &[&str] = &[
    "off",
    "peak",
    "lowshelf",
    "highshelf",
    "lowpass",
    "highpass",
    "notch",
    "bandpass",
];
const BAND_TYPES: &[&str] = EQ_BAND_TYPES;

/// Number of bands of the `eq` node.
pub const EQ_MAX_BANDS: usize = 8;

const PARAMS: &[ParamInfo] = &[
    ParamInfo::choice("t1", BAND_TYPES, 0, "band 1 type"),
    ParamInfo::new("f1", "Hz", 10.0, 24000.0, 1000.0, "band 1 frequency"),
    ParamInfo::new("q1", "", 0.1, 40.0, 0.707, "band 1 quality factor"),
    ParamInfo::new("g1", "dB", -40.0, 40.0, 0.0, "band 1 gain (peak and shelves)"),
    ParamInfo::choice("t2", BAND_TYPES, 0, "band 2 type"),
    ParamInfo::new("f2", "Hz", 10.0, 24000.0, 1000.0, "band 2 frequency"),
    ParamInfo::new("q2", "", 0.1, 40.0, 0.707, "band 2 quality factor"),
    ParamInfo::new("g2", "dB", -40.0, 40.0, 0.0, "band 2 gain (peak and shelves)"),
    ParamInfo::choice("t3", BAND_TYPES, 0, "band 3 type"),
    ParamInfo::new("f3", "Hz", 10.0, 24000.0, 1000.0, "band 3 frequency"),
    ParamInfo::new("q3", "", 0.1, 40.0, 0.707, "band 3 quality factor"),
    ParamInfo::new("g3", "dB", -40.0, 40.0, 0.0, "band 3 gain (peak and shelves)"),
    ParamInfo::choice("t4", BAND_TYPES, 0, "band 4 type"),
    ParamInfo::new("f4", "Hz", 10.0, 24000.0, 1000.0, "band 4 frequency"),
    ParamInfo::new("q4", "", 0.1, 40.0, 0.707, "band 4 quality factor"),
    ParamInfo::new("g4", "dB", -40.0, 40.0, 0.0, "band 4 gain (peak and shelves)"),
    ParamInfo::choice("t5", BAND_TYPES, 0, "band 5 type"),
    ParamInfo::new("f5", "Hz", 10.0, 24000.0, 1000.0, "band 5 frequency"),
    ParamInfo::new("q5", "", 0.1, 40.0, 0.707, "band 5 quality factor"),
    ParamInfo::new("g5", "dB", -40.0, 40.0, 0.0, "band 5 gain (peak and shelves)"),
    ParamInfo::choice("t6", BAND_TYPES, 0, "band 6 type"),
    ParamInfo::new("f6", "Hz", 10.0, 24000.0, 1000.0, "band 6 frequency"),
    ParamInfo::new("q6", "", 0.1, 40.0, 0.707, "band 6 quality factor"),
    ParamInfo::new("g6", "dB", -40.0, 40.0, 0.0, "band 6 gain (peak and shelves)"),
    ParamInfo::choice("t7", BAND_TYPES, 0, "band 7 type"),
    ParamInfo::new("f7", "Hz", 10.0, 24000.0, 1000.0, "band 7 frequency"),
    ParamInfo::new("q7", "", 0.1, 40.0, 0.707, "band 7 quality factor"),
    ParamInfo::new("g7", "dB", -40.0, 40.0, 0.0, "band 7 gain (peak and shelves)"),
    ParamInfo::choice("t8", BAND_TYPES, 0, "band 8 type"),
    ParamInfo::new("f8", "Hz", 10.0, 24000.0, 1000.0, "band 8 frequency"),
    ParamInfo::new("q8", "", 0.1, 40.0, 0.707, "band 8 quality factor"),
    ParamInfo::new("g8", "dB", -40.0, 40.0, 0.0, "band 8 gain (peak and shelves)"),
    ParamInfo::choice(
        "topology",
        &["rbj", "svf"],
        0,
        "band filter structure: RBJ biquad or TPT SVF",
    ),
];

const OPTIONS: &[(&str, &str)] = &[
    ("b1", "band 1 as type:freq_hz:q[:gain_db], e.g. peak:1000:1.0:6"),
    ("b2", "band 2 as type:freq_hz:q[:gain_db]"),
    ("b3", "band 3 as type:freq_hz:q[:gain_db]"),
    ("b4", "band 4 as type:freq_hz:q[:gain_db]"),
    ("b5", "band 5 as type:freq_hz:q[:gain_db]"),
    ("b6", "band 6 as type:freq_hz:q[:gain_db]"),
    ("b7", "band 7 as type:freq_hz:q[:gain_db]"),
    ("b8", "band 8 as type:freq_hz:q[:gain_db]"),
];

/// The `eq` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "eq",
    description:
        "parametric EQ: up to 8 RBJ bands (peak, shelves, HP/LP, notch, band-pass), biquad or TPT SVF",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: OPTIONS,
    create: create_eq,
    stage: None,
};

fn create_eq(a: &NodeArgs) -> Result<Box<dyn Processor>, EngineError> {
    let mut bands = [BandSpec::OFF; EQ_MAX_BANDS];
    for (i, band) in bands.iter_mut().enumerate() {
        let key = OPTIONS[i].0;
        if let Some(text) = a.option(key) {
            *band = BandSpec::parse(text).map_err(|e| a.error(key, e))?;
        }
        let names = [
            &PARAMS[4 * i],
            &PARAMS[4 * i + 1],
            &PARAMS[4 * i + 2],
            &PARAMS[4 * i + 3],
        ];
        if a.is_given(names[0].name) {
            band.kind = a.get(names[0].name) as usize;
        }
        if a.is_given(names[1].name) {
            band.freq = f64::from(a.get(names[1].name));
        }
        if a.is_given(names[2].name) {
            band.q = f64::from(a.get(names[2].name));
        }
        if a.is_given(names[3].name) {
            band.gain_db = f64::from(a.get(names[3].name));
        }
    }
    Ok(Box::new(Eq::new(&bands, a.get("topology") >= 0.5)))
}

/// One band's setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandSpec {
    /// Index into [`EQ_BAND_TYPES`] (0 = off).
    pub kind: usize,
    /// Centre or corner frequency, Hz.
    pub freq: f64,
    /// Quality factor.
    pub q: f64,
    /// Gain in dB (peak and shelves).
    pub gain_db: f64,
}

impl BandSpec {
    /// A disabled band.
    pub const OFF: Self = Self {
        kind: 0,
        freq: 1000.0,
        q: 0.707,
        gain_db: 0.0,
    };

    /// Parses `type:freq_hz:q[:gain_db]`, e.g. `peak:1000:1.0:6` or `highpass:80:0.707`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split(':').map(str::trim).collect();
        let kind = EQ_BAND_TYPES
            .iter()
            .position(|t| t.eq_ignore_ascii_case(parts[0]))
            .ok_or_else(|| {
                format!(
                    "unknown band type '{}' (expected one of {})",
                    parts[0],
                    EQ_BAND_TYPES.join("|")
                )
            })?;
        if kind == 0 {
            return Ok(Self::OFF);
        }
        if !(3..=4).contains(&parts.len()) {
            return Err(format!("expected type:freq_hz:q[:gain_db], got '{text}'"));
        }
        let num = |s: &str, what: &str, lo: f64, hi: f64| -> Result<f64, String> {
            let v: f64 = s
                .parse()
                .map_err(|_| format!("{what}: expected a number, got '{s}'"))?;
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err(format!("{what}: expected {lo}..={hi}, got {v}"))
            }
        };
        let freq = num(parts[1], "frequency", 10.0, 24_000.0)?;
        let q = num(parts[2], "q", 0.1, 40.0)?;
        let gain_db = if parts.len() == 4 {
            num(parts[3], "gain", -40.0, 40.0)?
        } else {
            0.0
        };
        Ok(Self {
            kind,
            freq,
            q,
            gain_db,
        })
    }

    /// The RBJ biquad of this band at `fs` (identity when off).
    pub fn rbj(&self, fs: f64) -> BiquadCoeffs {
        let (f, q, g) = (self.freq.min(0.49 * fs), self.q, self.gain_db);
        match self.kind {
            1 => BiquadCoeffs::peaking(f, q, g, fs),
            2 => BiquadCoeffs::lowshelf(f, q, g, fs),
            3 => BiquadCoeffs::highshelf(f, q, g, fs),
            4 => BiquadCoeffs::lowpass(f, q, fs),
            5 => BiquadCoeffs::highpass(f, q, fs),
            6 => BiquadCoeffs::notch(f, q, fs),
            7 => BiquadCoeffs::bandpass(f, q, fs),
            _ => BiquadCoeffs::IDENTITY,
        }
    }

    fn svf(&self, fs: f64) -> Option<SvfCoeffs> {
        let shape = match self.kind {
            1 => SvfShape::Peak,
            2 => SvfShape::LowShelf,
            3 => SvfShape::HighShelf,
            4 => SvfShape::LowPass,
            5 => SvfShape::HighPass,
            6 => SvfShape::Notch,
            7 => SvfShape::BandPass,
            _ => return None,
        };
        Some(SvfCoeffs::new(
            shape,
            self.freq.min(0.49 * fs),
            self.q,
            self.gain_db,
            fs,
        ))
    }
}

/// The exact magnitude response (dB) of a set of bands at `f` Hz, for tests and plots.
pub fn eq_response_db(bands: &[BandSpec], f: f64, fs: f64) -> f64 {
    bands
        .iter()
        .filter(|b| b.kind != 0)
        .map(|b| b.rbj(fs).response_db(f, fs))
        .sum()
}

#[derive(Debug, Clone, Copy)]
enum Filter {
    Rbj(Biquad),
    Svf(Svf),
    Off,
}

impl Filter {
    fn make(spec: &BandSpec, svf: bool, fs: f64) -> Self {
        if spec.kind == 0 {
            Filter::Off
        } else if svf {
            spec.svf(fs).map_or(Filter::Off, |c| Filter::Svf(Svf::new(c)))
        } else {
            Filter::Rbj(Biquad::new(spec.rbj(fs)))
        }
    }

    /// Changes coefficients keeping the state.
    fn retune(&mut self, spec: &BandSpec, fs: f64) {
        match self {
            Filter::Rbj(b) => b.coeffs = spec.rbj(fs),
            Filter::Svf(s) => {
                if let Some(c) = spec.svf(fs) {
                    s.coeffs = c;
                }
            }
            Filter::Off => {}
        }
    }

    #[inline]
    fn tick(&mut self, x: f64) -> f64 {
        match self {
            Filter::Rbj(b) => b.tick(x),
            Filter::Svf(s) => s.tick(x),
            Filter::Off => x,
        }
    }

    fn reset(&mut self) {
        match self {
            Filter::Rbj(b) => b.reset(),
            Filter::Svf(s) => s.reset(),
            Filter::Off => {}
        }
    }
}

#[derive(Debug, Clone)]
struct Band {
    target: BandSpec,
    cur: BandSpec,
    /// Per channel: [current filter, previous filter during a type cross-fade].
    filters: Vec<[Filter; 2]>,
    xfade_left: u32,
}

/// The parametric EQ (see the module docs).
#[derive(Debug, Clone)]
pub struct Eq {
    bands: Vec<Band>,
    svf: bool,
    fs: f64,
    glide: f64,
    xfade_len: u32,
    /// The sub-block being processed (start, end).
    sub: (usize, usize),
    /// 8-channel banks of the multichannel RBJ path (one section per band).
    banks: Vec<BiquadBank8>,
    /// Whether the current state lives in `banks` (else in the per-channel filters).
    on_bank: bool,
    /// The banks' coefficients need to be reloaded from the bands.
    bank_dirty: bool,
}

const SUB: usize = 32;

impl Eq {
    /// An EQ with up to [`EQ_MAX_BANDS`] bands (`svf` selects the TPT topology).
    pub fn new(bands: &[BandSpec], svf: bool) -> Self {
        let mut all = [BandSpec::OFF; EQ_MAX_BANDS];
        for (d, s) in all.iter_mut().zip(bands) {
            *d = *s;
        }
        Self {
            bands: all
                .iter()
                .map(|b| Band {
                    target: *b,
                    cur: *b,
                    filters: Vec::new(),
                    xfade_left: 0,
                })
                .collect(),
            svf,
            fs: 48_000.0,
            glide: 0.0,
            xfade_len: 480,
            sub: (0, 0),
            banks: Vec::new(),
            on_bank: false,
            bank_dirty: true,
        }
    }

    /// The bands being approached.
    pub fn bands(&self) -> Vec<BandSpec> {
        self.bands.iter().map(|b| b.target).collect()
    }

    fn set_band(&mut self, i: usize, f: impl FnOnce(&mut BandSpec)) {
        let band = &mut self.bands[i];
        let old_kind = band.target.kind;
        f(&mut band.target);
        if band.target.kind != old_kind && !band.filters.is_empty() {
            if self.on_bank {
                // The running state is in the banks: back to the filters before they change.
                self.hand_over(false);
            }
            let band = &mut self.bands[i];
            // Start a cross-fade: the running filter becomes the "old" one.
            let new_spec = BandSpec {
                kind: band.target.kind,
                ..band.cur
            };
            for ch in &mut band.filters {
                ch[1] = ch[0];
                ch[0] = Filter::make(&new_spec, self.svf, self.fs);
            }
            band.cur.kind = band.target.kind;
            band.xfade_left = self.xfade_len;
        } else if band.filters.is_empty() {
            band.cur = band.target;
        }
    }

    /// Moves every gliding band one sub-block towards its target and retunes it.
    fn glide_step(&mut self) {
        let k = self.glide;
        for band in &mut self.bands {
            let (c, t) = (&mut band.cur, band.target);
            if c.freq == t.freq && c.q == t.q && c.gain_db == t.gain_db {
                continue;
            }
            let step = |cur: f64, tgt: f64, log: bool, eps: f64| -> f64 {
                let v = if log {
                    (cur.ln() + k * (tgt.ln() - cur.ln())).exp()
                } else {
                    cur + k * (tgt - cur)
                };
                if (v - tgt).abs() <= eps * if log { tgt } else { 1.0 } {
                    tgt
                } else {
                    v
                }
            };
            c.freq = step(c.freq, t.freq, true, 1e-4);
            c.q = step(c.q, t.q, true, 1e-4);
            c.gain_db = step(c.gain_db, t.gain_db, false, 1e-3);
            let spec = *c;
            for ch in &mut band.filters {
                ch[0].retune(&spec, self.fs);
            }
            self.bank_dirty = true;
        }
    }

    /// Loads every band's current coefficients into the banks (identity for bands without an RBJ filter).
    fn load_banks(&mut self) {
        for (g, bank) in self.banks.iter_mut().enumerate() {
            for (s, band) in self.bands.iter().enumerate() {
                for lane in 0..8 {
                    let c = match band.filters.get(g * 8 + lane) {
                        Some([Filter::Rbj(b), _]) => b.coeffs,
                        _ => BiquadCoeffs::IDENTITY,
                    };
                    bank.set(s, lane, &c);
                }
            }
        }
        self.bank_dirty = false;
    }

    /// Moves the section states between the per-channel filters and the banks (`to_bank`: into them).
    fn hand_over(&mut self, to_bank: bool) {
        for (s, band) in self.bands.iter_mut().enumerate() {
            for (c, ch) in band.filters.iter_mut().enumerate() {
                let (Some(bank), Filter::Rbj(b)) = (self.banks.get_mut(c / 8), &mut ch[0]) else {
                    continue;
                };
                if to_bank {
                    let (z1, z2) = b.state();
                    bank.set_state(s, c % 8, z1 as f32, z2 as f32);
                } else {
                    let (z1, z2) = bank.state(s, c % 8);
                    b.set_state(f64::from(z1), f64::from(z2));
                }
            }
        }
        self.on_bank = to_bank;
    }

    /// One sub-block of every channel on the banks.
    fn run_banks(
        &mut self,
        input: &tutti_engine::AudioRef<'_>,
        out: &mut [f32],
        frames: usize,
        chans: usize,
    ) {
        let (start, end) = (self.sub.0, self.sub.1);
        for (g, bank) in self.banks.iter_mut().enumerate() {
            let first = g * 8;
            if first >= chans {
                break;
            }
            let n = (chans - first).min(8);
            let mut bufs: [&mut [f32]; 8] = Default::default();
            for (l, (d, o)) in bufs
                .iter_mut()
                .zip(out[first * frames..].chunks_mut(frames))
                .enumerate()
                .take(n)
            {
                o[start..end].copy_from_slice(&input.channel(first + l)[start..end]);
                *d = &mut o[start..end];
            }
            bank.process(&mut bufs[..n]);
        }
    }
}

impl Processor for Eq {
    fn name(&self) -> &'static str {
        "eq"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.fs = f64::from(cfg.sample_rate);
        self.glide = 1.0 - (-(SUB as f64) / (0.02 * self.fs)).exp();
        self.xfade_len = cfg.frames_for_ms(10.0).max(1) as u32;
        for band in &mut self.bands {
            band.cur = band.target;
            band.xfade_left = 0;
            let f = Filter::make(&band.cur, self.svf, self.fs);
            band.filters = vec![[f, Filter::Off]; cfg.channels];
        }
        self.banks = if !self.svf && cfg.channels >= 2 {
            (0..cfg.channels.div_ceil(8))
                .map(|_| BiquadBank8::new(EQ_MAX_BANDS))
                .collect()
        } else {
            Vec::new()
        };
        self.on_bank = false;
        self.bank_dirty = true;
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let input = inputs.port(0);
        let mut out = outputs.port(0);
        let frames = input.frames();
        let chans = input.channels().min(self.bands[0].filters.len());
        let mut start = 0;
        while start < frames {
            let end = (start + SUB).min(frames);
            self.glide_step();
            let bank = !self.banks.is_empty() && self.bands.iter().all(|b| b.xfade_left == 0);
            if bank != self.on_bank {
                if bank {
                    self.load_banks();
                }
                self.hand_over(bank);
            }
            if bank {
                if self.bank_dirty {
                    self.load_banks();
                }
                self.sub = (start, end);
                self.run_banks(&input, out.as_mut_slice(), frames, chans);
                start = end;
                continue;
            }
            for c in 0..chans {
                let x = &input.channel(c)[start..end];
                let y = &mut out.channel_mut(c)[start..end];
                for (o, &s) in y.iter_mut().zip(x) {
                    *o = s;
                }
                for band in &mut self.bands {
                    let [cur, old] = &mut band.filters[c];
                    if band.xfade_left > 0 {
                        let left = band.xfade_left as usize;
                        let len = self.xfade_len as f64;
                        for (j, o) in y.iter_mut().enumerate() {
                            let v = f64::from(*o);
                            let w = (1.0 - (left.saturating_sub(j)) as f64 / len).clamp(0.0, 1.0);
                            *o = (w * cur.tick(v) + (1.0 - w) * old.tick(v)) as f32;
                        }
                    } else if !matches!(cur, Filter::Off) {
                        for o in y.iter_mut() {
                            *o = cur.tick(f64::from(*o)) as f32;
                        }
                    }
                }
            }
            let n = (end - start) as u32;
            for band in &mut self.bands {
                if band.xfade_left > 0 {
                    band.xfade_left = band.xfade_left.saturating_sub(n);
                    if band.xfade_left == 0 {
                        for ch in &mut band.filters {
                            ch[1] = Filter::Off;
                        }
                    }
                }
            }
            start = end;
        }
        for band in &mut self.bands {
            for ch in &mut band.filters {
                if let Filter::Rbj(b) = &mut ch[0] {
                    // Flush denormal-range state by a zero-length pass.
                    b.process(&[], &mut []);
                } else if let Filter::Svf(s) = &mut ch[0] {
                    s.flush();
                }
            }
        }
    }

    fn reset(&mut self) {
        for band in &mut self.bands {
            band.cur = band.target;
            band.xfade_left = 0;
            for ch in &mut band.filters {
                ch[0] = Filter::make(&band.cur, self.svf, self.fs);
                ch[0].reset();
                ch[1] = Filter::Off;
            }
        }
        for b in &mut self.banks {
            b.reset();
        }
        self.on_bank = false;
        self.bank_dirty = true;
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        if index >= 4 * EQ_MAX_BANDS {
            // Topology changes rebuild the filters (at the next prepare/reset); not smoothed.
            self.svf = value >= 0.5;
            return;
        }
        let (i, which) = (index / 4, index % 4);
        let v = f64::from(value);
        self.set_band(i, |b| match which {
            0 => b.kind = (value.max(0.0) as usize).min(EQ_BAND_TYPES.len() - 1),
            1 => b.freq = v,
            2 => b.q = v,
            _ => b.gain_db = v,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_strings_parse_and_reject() {
        let b = BandSpec::parse("peak:1000:1.0:6").unwrap();
        assert_eq!(
            b,
            BandSpec {
                kind: 1,
                freq: 1000.0,
                q: 1.0,
                gain_db: 6.0
            }
        );
        assert_eq!(BandSpec::parse("highpass:80:0.707").unwrap().kind, 5);
        assert!(BandSpec::parse("wobble:1:1")
            .unwrap_err()
            .contains("unknown band type"));
        assert!(BandSpec::parse("peak:5:1:1").unwrap_err().contains("frequency"));
        assert!(BandSpec::parse("peak:1000")
            .unwrap_err()
            .contains("expected type"));
        assert!(BandSpec::parse("peak:1000:x:1").unwrap_err().contains("q"));
    }
}
