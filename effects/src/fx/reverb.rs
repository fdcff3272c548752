//! `reverb`: an algorithmic feedback-delay-network reverb, or a convolution reverb from an IR file.
//!
//! # What
//! Without options, `reverb(size, damping, mix, predelay)` is an 8-line feedback delay network whose
//! decay time follows `size`: **RT60 = 0.2 s · 50^size** (0.2 s at 0, 1.41 s at 0.5, 10 s at 1), measured at
//! low frequencies; `damping` shortens the decay of high frequencies only. With the option `ir=PATH` (a
//! WAV impulse response, resampled to the stream rate when it differs) the node is a convolution reverb
//! instead: each channel is convolved with the IR (a stereo IR feeds left/right separately; a mono stream
//! uses its first channel); `size` and `damping` are then ignored, `mix` and `predelay` still apply. Both
//! modes have zero latency.
//!
//! # How
//! FDN after Jot & Chaigne (AES 90th convention, 1991, preprint 3030): the mono input passes four
//! Schroeder all-pass diffusers and feeds 8 mutually prime delay lines (29.9–58.3 ms at 48 kHz) coupled by a
//! normalised 8×8 Hadamard matrix (orthogonal, so lossless). Each line has the gain
//! `g_i = 10^(−3·d_i / (fs·RT60))`, which makes every loop decay by 60 dB in RT60 seconds, and a one-pole
//! low-pass with unit DC gain (`a = 0.7·damping`) for frequency-dependent absorption. Left and right
//! outputs take the lines with two orthogonal sign patterns. Convolution mode uses
//! [`PartitionedConvolver`] with the partition size equal to the engine block (zero latency, no latency
//! jump for long IRs).
//!
//! # Real-time safety
//! Delay lines, convolvers and buffers are sized in `prepare`; the loop gains ramp linearly across each
//! block towards the smoothed `size`/`damping` targets, `mix` and `predelay` are smoothed per sample.

use tutti_engine::{EngineError, Inputs, NodeArgs, Outputs, ParamInfo, Processor, Smoothed, StreamConfig};

use super::convolver::PartitionedConvolver;

const LINES: usize = 8;
/// Delay-line lengths at 48 kHz (mutually prime).
const LENGTHS_48K: [usize; LINES] = [1433, 1601, 1867, 2053, 2251, 2399, 2617, 2797];
/// Diffuser all-pass lengths at 48 kHz and their gain.
const DIFFUSERS_48K: [usize; 4] = [241, 163, 421, 307];
const DIFFUSER_GAIN: f32 = 0.6;
const MAX_PREDELAY_MS: f32 = 200.0;

static PARAMS: &[ParamInfo] = &[
    ParamInfo::new(
        "size",
        "",
        0.0,
        1.0,
        0.5,
        "room size: RT60 = 0.2 s · 50^size (FDN mode)",
    ),
    ParamInfo::new(
        "damping",
        "",
        0.0,
        1.0,
        0.3,
        "high-frequency absorption (FDN mode)",
    ),
    ParamInfo::new("mix", "", 0.0, 1.0, 0.3, "wet share: out = (1−mix)·dry + mix·wet"),
    ParamInfo::new(
        "predelay",
        "ms",
        0.0,
        MAX_PREDELAY_MS,
        0.0,
        "delay before the reverberation",
    ),
];

/// The `reverb` node type.
pub(crate) const TYPE: tutti_engine::NodeType = tutti_engine::NodeType {
    name: "reverb",
    description: "FDN reverb (size = RT60, damping) or, with ir=PATH, zero-latency convolution reverb",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[("ir", "impulse-response WAV file: switches to convolution mode")],
    create,
    stage: None,
};

fn create(args: &NodeArgs) -> Result<Box<dyn Processor>, EngineError> {
    let mut r = Reverb::new(
        args.get("size"),
        args.get("damping"),
        args.get("mix"),
        args.get("predelay"),
    );
    if let Some(path) = args.option("ir") {
        let ir = ImpulseResponse::load(path).map_err(|e| args.error("ir", e))?;
        r.ir = Some(ir);
    }
    Ok(Box::new(r))
}

/// The RT60 in seconds that `size` (0..=1) stands for in FDN mode.
pub fn reverb_rt60(size: f32) -> f32 {
    0.2 * 50f32.powf(size.clamp(0.0, 1.0))
}

/// An impulse response read from a WAV file: planar channels at `rate`.
#[derive(Debug, Clone)]
pub struct ImpulseResponse {
    /// Sample rate of the file, in Hz.
    pub rate: u32,
    /// Channels (1 or 2 used), each the IR samples.
    pub channels: Vec<Vec<f32>>,
}

impl ImpulseResponse {
    /// Reads a WAV file (16/24/32-bit integer or 32-bit float).
    pub fn load(path: &str) -> Result<Self, String> {
        let mut r = hound::WavReader::open(path).map_err(|e| format!("cannot read IR '{path}': {e}"))?;
        let spec = r.spec();
        let nch = usize::from(spec.channels.max(1));
        let inter: Vec<f32> = match spec.sample_format {
            hound::SampleFormat::Float => r.samples::<f32>().collect::<Result<_, _>>(),
            hound::SampleFormat::Int => {
                let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
                r.samples::<i32>()
                    .map(|s| s.map(|v| v as f32 * scale))
                    .collect::<Result<_, _>>()
            }
        }
        .map_err(|e| format!("IR '{path}' is malformed: {e}"))?;
        if inter.is_empty() {
            return Err(format!("IR '{path}' has no samples"));
        }
        let frames = inter.len() / nch;
        let channels = (0..nch.min(2))
            .map(|c| (0..frames).map(|i| inter[i * nch + c]).collect())
            .collect();
        Ok(Self {
            rate: spec.sample_rate,
            channels,
        })
    }
}

struct Fdn {
    lines: Vec<Vec<f32>>,
    pos: [usize; LINES],
    len: [usize; LINES],
    gain: [f32; LINES],
    lp: [f32; LINES],
    damp_a: f32,
    diff: Vec<Vec<f32>>,
    diff_pos: [usize; 4],
}

impl Fdn {
    fn new(rate: u32) -> Self {
        let s = rate as f64 / 48_000.0;
        let mut len = [0; LINES];
        for (l, &d) in len.iter_mut().zip(&LENGTHS_48K) {
            *l = ((d as f64 * s).round() as usize).max(8);
        }
        let diff: Vec<Vec<f32>> = DIFFUSERS_48K
            .iter()
            .map(|&d| vec![0.0; ((d as f64 * s).round() as usize).max(2)])
            .collect();
        Self {
            lines: len.iter().map(|&l| vec![0.0; l]).collect(),
            pos: [0; LINES],
            len,
            gain: [0.0; LINES],
            lp: [0.0; LINES],
            damp_a: 0.0,
            diff,
            diff_pos: [0; 4],
        }
    }

    fn gains_for(&self, rt60: f32, rate: u32) -> [f32; LINES] {
        let mut g = [0.0; LINES];
        for (g, &d) in g.iter_mut().zip(&self.len) {
            *g = 10f64.powf(-3.0 * d as f64 / (f64::from(rate) * f64::from(rt60))) as f32;
        }
        g
    }

    fn reset(&mut self) {
        for l in &mut self.lines {
            l.fill(0.0);
        }
        for d in &mut self.diff {
            d.fill(0.0);
        }
        self.lp = [0.0; LINES];
    }

    /// One sample: returns (left, right) wet output.
    #[inline]
    fn tick(&mut self, x: f32, g_step: &[f32; LINES], a_step: f32) -> (f32, f32) {
        // Input diffusion.
        let mut v = x;
        for (buf, p) in self.diff.iter_mut().zip(self.diff_pos.iter_mut()) {
            let d = buf[*p];
            let w = v + DIFFUSER_GAIN * d;
            buf[*p] = w;
            v = d - DIFFUSER_GAIN * w;
            *p += 1;
            if *p == buf.len() {
                *p = 0;
            }
        }
        self.damp_a += a_step;
        let a = self.damp_a;
        let mut o = [0.0f32; LINES];
        for i in 0..LINES {
            let y = self.lines[i][self.pos[i]];
            self.lp[i] = (1.0 - a) * y + a * self.lp[i];
            self.gain[i] += g_step[i];
            o[i] = self.lp[i] * self.gain[i];
        }
        let left = (y_sum(&o, &[1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0]))
            * std::f32::consts::FRAC_1_SQRT_2
            * 0.5;
        let right = (y_sum(&o, &[1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0]))
            * std::f32::consts::FRAC_1_SQRT_2
            * 0.5;
        hadamard8(&mut o);
        for i in 0..LINES {
            let inj = if i % 2 == 0 { v } else { -v };
            self.lines[i][self.pos[i]] = o[i] + inj * 0.5;
            self.pos[i] += 1;
            if self.pos[i] == self.len[i] {
                self.pos[i] = 0;
            }
        }
        (left, right)
    }
}

#[inline]
fn y_sum(o: &[f32; LINES], s: &[f32; LINES]) -> f32 {
    o.iter().zip(s).map(|(a, b)| a * b).sum()
}

/// In-place normalised fast Walsh–Hadamard transform of 8 values (orthogonal, energy preserving).
#[inline]
fn hadamard8(v: &mut [f32; LINES]) {
    let mut h = 1;
    while h < LINES {
        for i in (0..LINES).step_by(2 * h) {
            for j in i..i + h {
                let (a, b) = (v[j], v[j + h]);
                v[j] = a + b;
                v[j + h] = a - b;
            }
        }
        h *= 2;
    }
    let s = 1.0 / (LINES as f32).sqrt();
    for x in v.iter_mut() {
        *x *= s;
    }
}

/// The `reverb` processor (see the module docs).
pub struct Reverb {
    size: Smoothed,
    damping: Smoothed,
    mix: Smoothed,
    predelay_ms: Smoothed,
    ir: Option<ImpulseResponse>,
    rate: u32,
    channels: usize,
    block: usize,
    fdn: Option<Fdn>,
    conv: Vec<PartitionedConvolver>,
    pre: Vec<Vec<f32>>,
    pre_pos: usize,
    wet: Vec<Vec<f32>>,
    mono: Vec<f32>,
}

impl std::fmt::Debug for Reverb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reverb")
            .field("convolution", &self.ir.is_some())
            .finish_non_exhaustive()
    }
}

impl Reverb {
    /// An FDN reverb with the given parameters (see the node's parameter ranges); call `prepare` before use.
    pub fn new(size: f32, damping: f32, mix: f32, predelay_ms: f32) -> Self {
        Self {
            size: Smoothed::new(size, 1),
            damping: Smoothed::new(damping, 1),
            mix: Smoothed::new(mix, 1),
            predelay_ms: Smoothed::new(predelay_ms, 1),
            ir: None,
            rate: 48_000,
            channels: 1,
            block: 480,
            fdn: None,
            conv: Vec::new(),
            pre: Vec::new(),
            pre_pos: 0,
            wet: Vec::new(),
            mono: Vec::new(),
        }
    }

    /// A convolution reverb with `ir` (any rate; resampled in `prepare`).
    pub fn with_ir(ir: ImpulseResponse, mix: f32, predelay_ms: f32) -> Self {
        let mut r = Self::new(0.5, 0.0, mix, predelay_ms);
        r.ir = Some(ir);
        r
    }

    fn pre_len(&self) -> usize {
        (MAX_PREDELAY_MS * self.rate as f32 / 1000.0) as usize + 2
    }
}

impl Processor for Reverb {
    fn name(&self) -> &'static str {
        "reverb"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.rate = cfg.sample_rate;
        self.channels = cfg.channels;
        self.block = cfg.block_frames;
        let ms = |v: f32| Smoothed::with_time(v, 50.0, cfg.sample_rate);
        self.size = ms(self.size.target());
        self.damping = ms(self.damping.target());
        self.mix = Smoothed::with_time(self.mix.target(), 20.0, cfg.sample_rate);
        self.predelay_ms = ms(self.predelay_ms.target());
        self.pre = vec![vec![0.0; self.pre_len()]; cfg.channels];
        self.pre_pos = 0;
        self.wet = vec![vec![0.0; cfg.block_frames]; cfg.channels];
        self.mono = vec![0.0; cfg.block_frames];
        self.conv.clear();
        self.fdn = None;
        if let Some(ir) = &self.ir {
            let chans: Vec<Vec<f32>> = if ir.rate == cfg.sample_rate {
                ir.channels.clone()
            } else {
                ir.channels
                    .iter()
                    .map(|c| super::resample::resample_signal(c, ir.rate, cfg.sample_rate))
                    .collect::<Result<_, _>>()
                    .map_err(|e| EngineError::Prepare {
                        node: "reverb".into(),
                        detail: e.to_string(),
                    })?
            };
            for c in 0..cfg.channels {
                let src = &chans[c.min(chans.len() - 1)];
                self.conv.push(PartitionedConvolver::new(src, cfg.block_frames));
            }
        } else {
            let mut fdn = Fdn::new(cfg.sample_rate);
            fdn.gain = fdn.gains_for(reverb_rt60(self.size.target()), cfg.sample_rate);
            fdn.damp_a = 0.7 * self.damping.target();
            self.fdn = Some(fdn);
        }
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let inp = inputs.port(0);
        let mut out = outputs.port(0);
        let n = inp.frames();
        let chans = inp.channels().min(out.channels()).min(self.channels);
        let plen = self.pre.first().map_or(0, Vec::len);
        if plen == 0 || self.wet.first().map_or(0, Vec::len) < n {
            out.fill_zero();
            return;
        }
        // Pre-delay (per channel, linear-interpolated read, smoothed delay time).
        let rate_ms = self.rate as f32 / 1000.0;
        let start_pos = self.pre_pos;
        let pd0 = self.predelay_ms;
        for c in 0..chans {
            let x = inp.channel(c);
            let line = &mut self.pre[c];
            let wet = &mut self.wet[c];
            let mut pos = start_pos;
            let mut pd = pd0;
            for i in 0..n {
                line[pos] = x[i];
                let d = (pd.next() * rate_ms).clamp(0.0, (plen - 2) as f32);
                let di = d.floor();
                let frac = d - di;
                let r0 = (pos + plen - di as usize) % plen;
                let r1 = (r0 + plen - 1) % plen;
                wet[i] = line[r0] * (1.0 - frac) + line[r1] * frac;
                pos += 1;
                if pos == plen {
                    pos = 0;
                }
            }
        }
        self.predelay_ms.advance(n as u32);
        self.pre_pos = (start_pos + n) % plen;

        if !self.conv.is_empty() {
            for c in 0..chans {
                let (wet, conv) = (&mut self.wet[c], &mut self.conv[c]);
                self.mono[..n].copy_from_slice(&wet[..n]);
                conv.process_block(&self.mono[..n], &mut wet[..n]);
            }
        } else if let Some(fdn) = self.fdn.as_mut() {
            for i in 0..n {
                let mut s = 0.0;
                for c in 0..chans {
                    s += self.wet[c][i];
                }
                self.mono[i] = s / chans.max(1) as f32;
            }
            let size = self.size.advance(n as u32);
            let damp = self.damping.advance(n as u32);
            let target = fdn.gains_for(reverb_rt60(size), self.rate);
            let mut step = [0.0f32; LINES];
            for i in 0..LINES {
                step[i] = (target[i] - fdn.gain[i]) / n as f32;
            }
            let a_step = (0.7 * damp - fdn.damp_a) / n as f32;
            for i in 0..n {
                let (l, r) = fdn.tick(self.mono[i], &step, a_step);
                self.wet[0][i] = l;
                if chans > 1 {
                    self.wet[1][i] = r;
                }
            }
            fdn.gain = target;
            fdn.damp_a = 0.7 * damp;
        }

        let mix0 = self.mix;
        for c in 0..chans {
            let x = inp.channel(c);
            let mut mix = mix0;
            let (wet, y) = (&self.wet[c], out.channel_mut(c));
            for i in 0..n {
                let m = mix.next();
                y[i] = (1.0 - m) * x[i] + m * wet[i];
            }
        }
        self.mix.advance(n as u32);
        for c in chans..out.channels() {
            out.channel_mut(c).fill(0.0);
        }
    }

    fn reset(&mut self) {
        for p in &mut self.pre {
            p.fill(0.0);
        }
        self.pre_pos = 0;
        for c in &mut self.conv {
            c.reset();
        }
        if let Some(f) = self.fdn.as_mut() {
            f.reset();
        }
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        match index {
            0 => self.size.set_target(value),
            1 => self.damping.set_target(value),
            2 => self.mix.set_target(value),
            3 => self.predelay_ms.set_target(value),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hadamard_is_orthogonal() {
        let mut v = [1.0, 2.0, -3.0, 0.5, 0.0, 4.0, -1.0, 2.0];
        let e0: f32 = v.iter().map(|x| x * x).sum();
        hadamard8(&mut v);
        let e1: f32 = v.iter().map(|x| x * x).sum();
        assert!((e0 - e1).abs() < 1e-4);
    }

    #[test]
    fn rt60_mapping_endpoints() {
        assert!((reverb_rt60(0.0) - 0.2).abs() < 1e-6);
        assert!((reverb_rt60(1.0) - 10.0).abs() < 1e-4);
    }
}
