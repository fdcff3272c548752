//! `delay`: a pure delay by a whole or fractional number of samples.
//!
//! # What
//! Delays the signal by `ms` milliseconds exactly, including delays that are not a whole number of samples
//! (25 ms at 44.1 kHz is 1102.5 samples).
//!
//! # How
//! A ring buffer per channel. Whole-sample delays read one sample (bit-exact). Fractional delays use a
//! 32-tap Kaiser-windowed sinc interpolator (β = 8) centred on the delay, whose phase delay is exact over the
//! passband; delays shorter than 16 samples fall back to third-order Lagrange interpolation (Laakso et al.,
//! "Splitting the unit delay", IEEE SP Magazine 1996). A change of `ms` cross-fades from the old to the new
//! read position over 20 ms, so it neither clicks nor sweeps the pitch.
//!
//! The delay is the node's *effect*, not processing latency: `latency()` is 0.
//!
//! # Real-time safety
//! The delay line is allocated in `prepare` for the parameter's maximum; `process` and `set_param` only do
//! arithmetic on preallocated state.

use tutti_engine::{EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, StreamConfig};

const MAX_MS: f32 = 5000.0;
const PARAMS: &[ParamInfo] = &[ParamInfo::new("ms", "ms", 0.0, MAX_MS, 0.0, "delay time")];
const TAPS: usize = 32;
const HALF: usize = TAPS / 2;
const FADE_MS: f64 = 20.0;

/// The `delay` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "delay",
    description: "pure delay, whole or fractional samples (windowed-sinc interpolation)",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: |a: &NodeArgs| Ok(Box::new(Delay::new(a.get("ms")))),
    stage: None,
};

/// How one delay value is read from the line.
#[derive(Debug, Clone, Copy)]
struct Tap {
    /// Whole part of the delay in samples.
    whole: usize,
    /// Interpolation weights for offsets `first..first+len` relative to `whole` (newer samples first).
    kernel: [f32; TAPS],
    /// Offset of `kernel[0]` from `whole` (`kernel[k]` weights sample `whole + k - first_back`).
    back: usize,
    len: usize,
}

impl Tap {
    fn new(delay: f64) -> Self {
        let whole = delay.floor() as usize;
        let frac = delay - whole as f64;
        let mut kernel = [0f32; TAPS];
        if frac < 1e-9 {
            kernel[0] = 1.0;
            return Self {
                whole,
                kernel,
                back: 0,
                len: 1,
            };
        }
        if whole >= HALF {
            // Windowed sinc: taps at delays whole-HALF+1 ..= whole+HALF.
            let i0 = bessel_i0(8.0);
            let mut sum = 0.0;
            let mut k = [0f64; TAPS];
            for (j, kj) in k.iter_mut().enumerate() {
                let d = (whole + j) as f64 - (HALF - 1) as f64; // delay of this tap
                let x = d - delay; // distance from the ideal read point
                let sinc = if x.abs() < 1e-12 {
                    1.0
                } else {
                    (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
                };
                let r = x / HALF as f64;
                let w = if r.abs() >= 1.0 {
                    0.0
                } else {
                    bessel_i0(8.0 * (1.0 - r * r).sqrt()) / i0
                };
                *kj = sinc * w;
                sum += *kj;
            }
            for (dst, v) in kernel.iter_mut().zip(k) {
                *dst = (v / sum) as f32;
            }
            return Self {
                whole,
                kernel,
                back: HALF - 1,
                len: TAPS,
            };
        }
        // Third-order Lagrange on delays whole-1 ..= whole+2 (needs whole >= 1; whole 0 uses 0..=3).
        let base = whole.max(1) - 1;
        let mut w = [0f64; 4];
        for (j, wj) in w.iter_mut().enumerate() {
            let dj = (base + j) as f64;
            *wj = (0..4)
                .filter(|&m| m != j)
                .map(|m| (delay - (base + m) as f64) / (dj - (base + m) as f64))
                .product();
        }
        for (dst, v) in kernel.iter_mut().zip(w) {
            *dst = v as f32;
        }
        Self {
            whole,
            kernel,
            back: whole - base,
            len: 4,
        }
    }
}

/// Modified Bessel function of the first kind, order 0 (series).
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, q) = (1.0, 1.0, x * x / 4.0);
    for k in 1..50 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// A fractional delay line (see the module docs).
#[derive(Debug, Clone)]
pub struct Delay {
    ms: f32,
    rate: f64,
    lines: Vec<Vec<f32>>,
    mask: usize,
    write: usize,
    current: Tap,
    next: Option<Tap>,
    fade_pos: usize,
    fade_len: usize,
}

impl Delay {
    /// A delay of `ms` milliseconds.
    pub fn new(ms: f32) -> Self {
        Self {
            ms,
            rate: 48_000.0,
            lines: Vec::new(),
            mask: 0,
            write: 0,
            current: Tap::new(0.0),
            next: None,
            fade_pos: 0,
            fade_len: 1,
        }
    }

    fn tap_for(&self, ms: f32) -> Tap {
        Tap::new(f64::from(ms) * self.rate / 1000.0)
    }

    #[inline]
    fn read(line: &[f32], mask: usize, newest: usize, tap: &Tap) -> f32 {
        // `newest` is the index of the sample just written (delay 0).
        let mut acc = 0.0;
        let start = tap.whole as isize - tap.back as isize;
        for k in 0..tap.len {
            let d = (start + k as isize) as usize;
            acc += tap.kernel[k] * line[newest.wrapping_sub(d) & mask];
        }
        acc
    }
}

impl Processor for Delay {
    fn name(&self) -> &'static str {
        "delay"
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.rate = f64::from(cfg.sample_rate);
        let need = (f64::from(MAX_MS) * self.rate / 1000.0).ceil() as usize + TAPS + 2;
        let size = need.next_power_of_two();
        self.lines = vec![vec![0.0; size]; cfg.channels];
        self.mask = size - 1;
        self.write = 0;
        self.current = self.tap_for(self.ms);
        self.next = None;
        self.fade_len = (FADE_MS * self.rate / 1000.0) as usize;
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let input = inputs.port(0);
        let mut out = outputs.port(0);
        let frames = input.frames();
        let channels = input.channels().min(self.lines.len());
        let w0 = self.write;
        let fade0 = self.fade_pos;
        for c in 0..channels {
            let line = &mut self.lines[c];
            let src = input.channel(c);
            let dst = out.channel_mut(c);
            let mut w = w0;
            let mut fade = fade0;
            for i in 0..frames {
                line[w & self.mask] = src[i];
                let y0 = Self::read(line, self.mask, w, &self.current);
                dst[i] = match &self.next {
                    Some(n) => {
                        let a = fade as f32 / self.fade_len as f32;
                        fade += 1;
                        let y1 = Self::read(line, self.mask, w, n);
                        y0 + a * (y1 - y0)
                    }
                    None => y0,
                };
                w = w.wrapping_add(1);
            }
        }
        self.write = w0.wrapping_add(frames);
        if let Some(n) = self.next {
            self.fade_pos += frames;
            if self.fade_pos >= self.fade_len {
                self.current = n;
                self.next = None;
                self.fade_pos = 0;
            }
        }
    }

    fn reset(&mut self) {
        for l in &mut self.lines {
            l.fill(0.0);
        }
        if let Some(n) = self.next.take() {
            self.current = n;
        }
        self.fade_pos = 0;
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        if index == 0 && value != self.ms {
            self.ms = value;
            if let Some(n) = self.next.take() {
                // A change during a fade: continue from where the fade was heading.
                self.current = n;
            }
            self.next = Some(self.tap_for(value));
            self.fade_pos = 0;
        }
    }
}
