//! `pan3d`: binaural placement of a source by azimuth and elevation.
//!
//! # What
//! Mono or stereo input (stereo is summed to mono) comes out as a binaural stereo pair. Directions use the
//! SOFA convention: `azimuth` in degrees counter-clockwise from the front (+90° = left, −90° = right),
//! `elevation` in degrees up. With `sofa=PATH` the source is rendered with the HRTF set of that SOFA file;
//! without it, with a spherical-head ITD/ILD model. Movement is click-free; latency is zero.
//!
//! # How
//! * **SOFA mode.** In `prepare` the file is read through libmysofa ([`SofaHrtf`]) at the stream rate and
//!   HRIR pairs are taken on a grid of 5° azimuth × 10° elevation (−40°…90°). A direction's filter is the
//!   **bilinear interpolation** (in azimuth and elevation) of the four surrounding grid filters; on a grid
//!   node it is that node's filter, which for MIT KEMAR at elevations 0…20° is the measured HRIR itself
//!   (those rows are measured every 5°). Convolution is direct (time-domain FIR). When the direction
//!   changes, the block is rendered with the old and the new filter and cross-faded linearly (one block).
//! * **Model mode.** Interaural time difference from Woodworth's formula `ITD = (a/c)(θ + sin θ)` with the
//!   lateral angle `θ = asin(sin az · cos el)`, head radius `a` = 8.75 cm, `c` = 343 m/s (0.656 ms at 90°),
//!   applied as a fractional delay (cubic Lagrange) of the far ear (the shelves' own low-frequency group
//!   delays are compensated, so the rendered low-frequency ITD is Woodworth's; latency 8 samples);
//!   interaural level difference from Brown &
//!   Duda's one-pole/one-zero head-shadow filter (IEEE Trans. Speech Audio Proc. 6(5), 1998):
//!   `H(s) = (1 + α s/(2ω₀)) / (1 + s/(2ω₀))`, `ω₀ = c/a`, `α(φ) = 1.05 + 0.95·cos(φ·180°/150°)` where φ is
//!   the angle between the source and the ear's axis, discretised by the bilinear transform.
//! * Directions are smoothed over 50 ms (azimuth along the shorter way round); the model's delays and
//!   shadow coefficients follow per sample.
//!
//! # Real-time safety
//! Grid, filters, histories and delay lines are allocated in `prepare`; `process` only interpolates,
//! convolves and filters.

use tutti_engine::{EngineError, Inputs, NodeArgs, Outputs, ParamInfo, Processor, Smoothed, StreamConfig};

use super::sofa::SofaHrtf;
use crate::reduce::dot;

const HEAD_RADIUS: f64 = 0.0875;
const SPEED_OF_SOUND: f64 = 343.0;
const AZ_STEP: f32 = 5.0;
const EL_MIN: f32 = -40.0;
const EL_STEP: f32 = 10.0;
const EL_ROWS: usize = 14;
const AZ_COLS: usize = 72;
/// Total delay of the near ear in model mode, in samples (room for the shelves' negative group delay).
pub(crate) const MODEL_DELAY: f64 = 8.0;

static PARAMS: &[ParamInfo] = &[
    ParamInfo::new(
        "azimuth",
        "deg",
        -180.0,
        180.0,
        0.0,
        "direction, counter-clockwise (+90 = left)",
    ),
    ParamInfo::new(
        "elevation",
        "deg",
        -90.0,
        90.0,
        0.0,
        "direction above the horizontal plane",
    ),
];

/// The `pan3d` node type.
pub(crate) const TYPE: tutti_engine::NodeType = tutti_engine::NodeType {
    name: "pan3d",
    description: "binaural panning: SOFA HRTFs (sofa=PATH) or a Woodworth ITD + head-shadow model",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[(
        "sofa",
        "SOFA HRTF file (e.g. /usr/share/libmysofa/MIT_KEMAR_normal_pinna.sofa)",
    )],
    create,
    stage: None,
};

fn create(args: &NodeArgs) -> Result<Box<dyn Processor>, EngineError> {
    let sofa = args.option("sofa").map(str::to_string);
    if let Some(p) = &sofa {
        if !std::path::Path::new(p).is_file() {
            return Err(args.error("sofa", format!("SOFA file '{p}' not found")));
        }
    }
    Ok(Box::new(Pan3d::new(
        sofa,
        args.get("azimuth"),
        args.get("elevation"),
    )))
}

/// Woodworth's interaural time difference in seconds for a source at `azimuth`/`elevation` (degrees,
/// SOFA convention): positive when the left ear leads (source on the left).
pub fn woodworth_itd(azimuth: f32, elevation: f32) -> f64 {
    let (az, el) = (f64::from(azimuth).to_radians(), f64::from(elevation).to_radians());
    let theta = (az.sin() * el.cos()).clamp(-1.0, 1.0).asin();
    HEAD_RADIUS / SPEED_OF_SOUND * (theta + theta.sin())
}

/// Brown–Duda head-shadow α for the angle `phi` (radians) between source and ear axis.
fn shadow_alpha(phi: f64) -> f64 {
    1.05 + 0.95 * (phi * 180.0 / 150.0).cos()
}

struct Grid {
    len: usize,
    /// `[row][col]` → left then right filter (`2·len`), each stored time-reversed.
    filters: Vec<f32>,
}

impl Grid {
    fn node(&self, row: usize, col: usize) -> &[f32] {
        let i = (row * AZ_COLS + col) * 2 * self.len;
        &self.filters[i..i + 2 * self.len]
    }

    /// Bilinear interpolation into `out` (`2·len`).
    fn lookup(&self, az: f32, el: f32, out: &mut [f32]) {
        let a = az.rem_euclid(360.0) / AZ_STEP;
        let c0 = (a.floor() as usize) % AZ_COLS;
        let c1 = (c0 + 1) % AZ_COLS;
        let fa = a - a.floor();
        let e = ((el - EL_MIN) / EL_STEP).clamp(0.0, (EL_ROWS - 1) as f32);
        let r0 = (e.floor() as usize).min(EL_ROWS - 1);
        let r1 = (r0 + 1).min(EL_ROWS - 1);
        let fe = e - r0 as f32;
        let w = [(1.0 - fa) * (1.0 - fe), fa * (1.0 - fe), (1.0 - fa) * fe, fa * fe];
        let nodes = [
            self.node(r0, c0),
            self.node(r0, c1),
            self.node(r1, c0),
            self.node(r1, c1),
        ];
        out.fill(0.0);
        for (wi, n) in w.iter().zip(nodes) {
            if *wi == 0.0 {
                continue;
            }
            for (o, v) in out.iter_mut().zip(n) {
                *o += wi * v;
            }
        }
    }
}

/// First-order IIR state and coefficients.
#[derive(Clone, Copy, Default)]
struct Shelf {
    b0: f64,
    b1: f64,
    a1: f64,
    x1: f64,
    y1: f64,
}

impl Shelf {
    /// Group delay at DC, in samples, of the shelf with `alpha`: `b1/(b0+b1) − a1/(1+a1)`.
    fn dc_group_delay(alpha: f64, rate: f64) -> f64 {
        let mut s = Shelf::default();
        s.set(alpha, rate);
        s.b1 / (s.b0 + s.b1) - s.a1 / (1.0 + s.a1)
    }

    fn set(&mut self, alpha: f64, rate: f64) {
        let k = 2.0 * rate;
        let w = 2.0 * SPEED_OF_SOUND / HEAD_RADIUS;
        let a0 = 1.0 + k / w;
        self.b0 = (1.0 + alpha * k / w) / a0;
        self.b1 = (1.0 - alpha * k / w) / a0;
        self.a1 = (1.0 - k / w) / a0;
    }

    #[inline]
    fn tick(&mut self, x: f64) -> f64 {
        let y = self.b0 * x + self.b1 * self.x1 - self.a1 * self.y1;
        self.x1 = x;
        self.y1 = y;
        y
    }
}

/// The `pan3d` processor (see the module docs).
pub struct Pan3d {
    sofa: Option<String>,
    az: Smoothed,
    el: Smoothed,
    rate: u32,
    grid: Option<Grid>,
    cur: Vec<f32>,
    next: Vec<f32>,
    cur_dir: (f32, f32),
    /// Mono input history: `len − 1` past samples followed by the block.
    hist: Vec<f32>,
    // Model mode.
    delay: [Vec<f32>; 2],
    dpos: usize,
    shelf: [Shelf; 2],
    mono: Vec<f32>,
}

impl std::fmt::Debug for Pan3d {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pan3d")
            .field("sofa", &self.sofa)
            .finish_non_exhaustive()
    }
}

impl Pan3d {
    /// A panner using the SOFA file `sofa` (or the ITD/ILD model when `None`) at the given direction.
    pub fn new(sofa: Option<String>, azimuth: f32, elevation: f32) -> Self {
        Self {
            sofa,
            az: Smoothed::new(azimuth, 1),
            el: Smoothed::new(elevation, 1),
            rate: 48_000,
            grid: None,
            cur: Vec::new(),
            next: Vec::new(),
            cur_dir: (azimuth, elevation),
            hist: Vec::new(),
            delay: [Vec::new(), Vec::new()],
            dpos: 0,
            shelf: [Shelf::default(); 2],
            mono: Vec::new(),
        }
    }

    /// `out[i] = Σ_k h[k]·x[i − k]` with `h` stored time-reversed (`hr[j] = h[len − 1 − j]`), so each
    /// output is a forward dot product with the history window.
    fn fir_block(hist: &[f32], hr: &[f32], out: &mut [f32]) {
        let len = hr.len();
        for (i, o) in out.iter_mut().enumerate() {
            *o = dot(&hist[i..i + len], hr);
        }
    }

    /// Per-ear pure delays (samples) and shadow αs. The shelves' own low-frequency group delays are
    /// subtracted from the pure delays, so the total interaural delay at low frequencies is Woodworth's
    /// ITD and the near ear's total delay is [`MODEL_DELAY`] samples.
    fn model_params(az: f32, el: f32, rate: f64) -> (f64, f64, f64, f64) {
        let itd = woodworth_itd(az, el) * rate;
        let (azr, elr) = (f64::from(az).to_radians(), f64::from(el).to_radians());
        let y = azr.sin() * elr.cos();
        let (phi_l, phi_r) = (y.clamp(-1.0, 1.0).acos(), (-y).clamp(-1.0, 1.0).acos());
        let (al, ar) = (shadow_alpha(phi_l), shadow_alpha(phi_r));
        // Left ear delayed when the source is on the right (itd < 0) and vice versa.
        let dl = MODEL_DELAY + (-itd).max(0.0) - Shelf::dc_group_delay(al, rate);
        let dr = MODEL_DELAY + itd.max(0.0) - Shelf::dc_group_delay(ar, rate);
        (dl, dr, al, ar)
    }
}

#[inline]
fn lagrange3(buf: &[f32], pos: usize, d: f64) -> f32 {
    // Read `d` samples (≥ 1 … len − 3) behind write position `pos` with cubic Lagrange interpolation.
    let len = buf.len();
    let di = d.floor() as usize;
    let f = d - di as f64;
    // Points at delays di−1, di, di+1, di+2 (fraction f between di and di+1).
    let idx = |k: usize| buf[(pos + len * 2 - k) % len];
    let (xm1, x0, x1, x2) = (idx(di.saturating_sub(1)), idx(di), idx(di + 1), idx(di + 2));
    let (xm1, x0, x1, x2) = (f64::from(xm1), f64::from(x0), f64::from(x1), f64::from(x2));
    let c = -f * (f - 1.0) * (f - 2.0) / 6.0 * xm1 + (f + 1.0) * (f - 1.0) * (f - 2.0) / 2.0 * x0
        - (f + 1.0) * f * (f - 2.0) / 2.0 * x1
        + (f + 1.0) * f * (f - 1.0) / 6.0 * x2;
    c as f32
}

impl Processor for Pan3d {
    fn name(&self) -> &'static str {
        "pan3d"
    }

    fn output_channels(&self, _port: usize, _cfg: &StreamConfig) -> usize {
        2
    }

    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.rate = cfg.sample_rate;
        let (az, el) = (self.az.target(), self.el.target());
        self.az = Smoothed::with_time(az, 50.0, cfg.sample_rate);
        self.el = Smoothed::with_time(el, 50.0, cfg.sample_rate);
        self.mono = vec![0.0; cfg.block_frames];
        self.grid = None;
        if let Some(path) = &self.sofa {
            let mut s = SofaHrtf::open(path, cfg.sample_rate).map_err(|e| EngineError::Prepare {
                node: "pan3d".into(),
                detail: e,
            })?;
            let mut raw = Vec::with_capacity(EL_ROWS * AZ_COLS);
            let mut len = 0;
            for r in 0..EL_ROWS {
                for c in 0..AZ_COLS {
                    let f = s.filter(c as f32 * AZ_STEP, EL_MIN + r as f32 * EL_STEP);
                    len = len.max(f.0.len()).max(f.1.len());
                    raw.push(f);
                }
            }
            let mut filters = vec![0.0f32; EL_ROWS * AZ_COLS * 2 * len];
            for (i, (l, r)) in raw.iter().enumerate() {
                let base = i * 2 * len;
                // Time-reversed and zero-padded at the front, for forward dot products.
                for (k, v) in l.iter().enumerate() {
                    filters[base + len - 1 - k] = *v;
                }
                for (k, v) in r.iter().enumerate() {
                    filters[base + 2 * len - 1 - k] = *v;
                }
            }
            let grid = Grid { len, filters };
            self.cur = vec![0.0; 2 * len];
            self.next = vec![0.0; 2 * len];
            grid.lookup(az, el, &mut self.cur);
            self.cur_dir = (az, el);
            self.hist = vec![0.0; len - 1 + cfg.block_frames];
            self.grid = Some(grid);
        } else {
            let max_d = (woodworth_itd(90.0, 0.0) * f64::from(cfg.sample_rate)).ceil() as usize
                + 2 * MODEL_DELAY as usize
                + 16;
            self.delay = [vec![0.0; max_d], vec![0.0; max_d]];
            self.dpos = 0;
            let (_, _, al, ar) = Self::model_params(az, el, f64::from(cfg.sample_rate));
            self.shelf = [Shelf::default(); 2];
            self.shelf[0].set(al, f64::from(cfg.sample_rate));
            self.shelf[1].set(ar, f64::from(cfg.sample_rate));
        }
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let inp = inputs.port(0);
        let mut out = outputs.port(0);
        let n = inp.frames();
        if self.mono.len() < n || out.channels() < 2 {
            out.fill_zero();
            return;
        }
        let ch = inp.channels().max(1);
        for i in 0..n {
            let mut s = 0.0;
            for c in 0..ch {
                s += inp.channel(c)[i];
            }
            self.mono[i] = s / ch as f32;
        }
        let rate = f64::from(self.rate);
        if let Some(grid) = &self.grid {
            let len = grid.len;
            self.hist.copy_within(n.., 0);
            let hl = self.hist.len();
            self.hist[hl - n..].copy_from_slice(&self.mono[..n]);
            let az = self.az.advance(n as u32);
            let el = self.el.advance(n as u32);
            let moving = (az, el) != self.cur_dir;
            let mut chans = out.channels_mut();
            let (Some(l), Some(r)) = (chans.next(), chans.next()) else {
                return;
            };
            Self::fir_block(&self.hist, &self.cur[..len], l);
            Self::fir_block(&self.hist, &self.cur[len..], r);
            if moving {
                grid.lookup(az, el, &mut self.next);
                for i in 0..n {
                    let g = (i + 1) as f32 / n as f32;
                    let x = &self.hist[i..i + len];
                    let (tl, tr) = (dot(x, &self.next[..len]), dot(x, &self.next[len..]));
                    l[i] += g * (tl - l[i]);
                    r[i] += g * (tr - r[i]);
                }
                std::mem::swap(&mut self.cur, &mut self.next);
                self.cur_dir = (az, el);
            }
        } else {
            let len = self.delay[0].len();
            let mut chans = out.channels_mut();
            let (Some(l), Some(r)) = (chans.next(), chans.next()) else {
                return;
            };
            for i in 0..n {
                let az = self.az.next();
                let el = self.el.next();
                let (dl, dr, al, ar) = Self::model_params(az, el, rate);
                self.shelf[0].set(al, rate);
                self.shelf[1].set(ar, rate);
                let x = self.mono[i];
                for (e, (d, o)) in [(dl, &mut l[i]), (dr, &mut r[i])].into_iter().enumerate() {
                    let line = &mut self.delay[e];
                    line[self.dpos] = x;
                    let v = lagrange3(line, self.dpos, d.max(1.0));
                    *o = self.shelf[e].tick(f64::from(v)) as f32;
                }
                self.dpos = (self.dpos + 1) % len;
            }
        }
    }

    fn reset(&mut self) {
        self.hist.fill(0.0);
        for d in &mut self.delay {
            d.fill(0.0);
        }
        for s in &mut self.shelf {
            s.x1 = 0.0;
            s.y1 = 0.0;
        }
    }

    fn latency(&self) -> usize {
        // Model mode: the near ear's low-frequency delay; SOFA mode is a plain FIR.
        if self.grid.is_none() {
            MODEL_DELAY as usize
        } else {
            0
        }
    }

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        match index {
            0 => {
                // Shorter way round: keep the azimuth unwrapped.
                let cur = self.az.current();
                let d = (value - cur + 180.0).rem_euclid(360.0) - 180.0;
                self.az.set_target(cur + d);
            }
            1 => self.el.set_target(value),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn woodworth_at_ninety_degrees() {
        let t = woodworth_itd(90.0, 0.0);
        assert!((t - 0.0875 / 343.0 * (std::f64::consts::FRAC_PI_2 + 1.0)).abs() < 1e-12);
        assert!(woodworth_itd(-90.0, 0.0) < 0.0);
        assert!(woodworth_itd(0.0, 0.0).abs() < 1e-15);
    }
}
