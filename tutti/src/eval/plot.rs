//! PNG plots of `tutti eval` (plotters' bitmap backend, no text so no font dependency).
//!
//! # What
//! - [`lines`]: curves over time (ERLE per system, output level per system), one colour per system
//!   (the report lists the colours), light grid lines every second and every 10 dB.
//! - [`spectrogram`]: magnitude STFT (512-point Hann, hop 128 at 16 kHz, 0–8 kHz bottom to top, −110 to
//!   −10 dBFS mapped black → blue → red → yellow → white).
//!
//! # How
//! Images are drawn to a temporary name and renamed into place, like every Tutti output file.
//!
//! # Real-time safety
//! Offline only.

use std::path::Path;

use plotters::prelude::*;
use realfft::RealFftPlanner;

use super::EvalError;

/// Colour of a system's curves, as RGB: tutti blue, speex red, webrtc green, rnnoise purple, sonora
/// brown, input grey, anything else orange.
pub fn colour(system: &str) -> (u8, u8, u8) {
    match system {
        "tutti" => (31, 119, 180),
        "speex" => (214, 39, 40),
        "webrtc" => (44, 160, 44),
        "rnnoise" => (148, 103, 189),
        "sonora" => (140, 86, 75),
        "input" => (127, 127, 127),
        _ => (255, 127, 14),
    }
}

fn err(path: &Path, e: impl std::fmt::Display) -> EvalError {
    EvalError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

fn tmp_of(path: &Path) -> std::path::PathBuf {
    let mut t = path.as_os_str().to_owned();
    t.push(".tmp.png");
    t.into()
}

/// Draws `series` (`(system name, points)`; a `None` value breaks the line) over `0..t_max` s and
/// `y_range`, into `path`.
pub fn lines(
    path: &Path,
    series: &[(String, Vec<(f64, Option<f64>)>)],
    t_max: f64,
    y_range: (f64, f64),
) -> Result<(), EvalError> {
    let tmp = tmp_of(path);
    {
        let root = BitMapBackend::new(&tmp, (900, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(path, e))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .build_cartesian_2d(0f64..t_max.max(1e-3), y_range.0..y_range.1)
            .map_err(|e| err(path, e))?;
        let grid = RGBColor(220, 220, 220);
        let mut t = 0.0;
        while t <= t_max {
            chart
                .draw_series(LineSeries::new([(t, y_range.0), (t, y_range.1)], &grid))
                .map_err(|e| err(path, e))?;
            t += 1.0;
        }
        let mut y = (y_range.0 / 10.0).ceil() * 10.0;
        while y <= y_range.1 {
            let c = if y == 0.0 { RGBColor(120, 120, 120) } else { grid };
            chart
                .draw_series(LineSeries::new([(0.0, y), (t_max, y)], &c))
                .map_err(|e| err(path, e))?;
            y += 10.0;
        }
        for (name, pts) in series {
            let (r, g, b) = colour(name);
            let style = RGBColor(r, g, b).stroke_width(2);
            let mut run: Vec<(f64, f64)> = Vec::new();
            for &(t, v) in pts.iter().chain(std::iter::once(&(f64::NAN, None))) {
                match v {
                    Some(v) => run.push((t, v.clamp(y_range.0, y_range.1))),
                    None => {
                        if run.len() > 1 {
                            chart
                                .draw_series(LineSeries::new(run.clone(), style))
                                .map_err(|e| err(path, e))?;
                        }
                        run.clear();
                    }
                }
            }
        }
        root.present().map_err(|e| err(path, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| err(path, e))
}

fn heat(v: f64) -> RGBColor {
    // 0..1 → black, blue, red, yellow, white.
    let stops = [
        (0.0, 0.0, 0.0),
        (0.0, 0.0, 0.7),
        (0.85, 0.0, 0.1),
        (1.0, 0.9, 0.0),
        (1.0, 1.0, 1.0),
    ];
    let x = v.clamp(0.0, 1.0) * (stops.len() - 1) as f64;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f64;
    let mix = |a: f64, b: f64| ((a + (b - a) * f) * 255.0).round() as u8;
    RGBColor(
        mix(stops[i].0, stops[i + 1].0),
        mix(stops[i].1, stops[i + 1].1),
        mix(stops[i].2, stops[i + 1].2),
    )
}

/// Writes the spectrogram of `x` (16 kHz) to `path`.
pub fn spectrogram(path: &Path, x: &[f32]) -> Result<(), EvalError> {
    const N: usize = 512;
    const HOP: usize = 128;
    let frames = if x.len() >= N { (x.len() - N) / HOP + 1 } else { 1 };
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(N);
    let win: Vec<f64> = (0..N)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N as f64).cos())
        .collect();
    let wsum: f64 = win.iter().sum();
    let mut buf = fft.make_input_vec();
    let mut spec = fft.make_output_vec();
    let bins = N / 2;
    let mut cols: Vec<Vec<f64>> = Vec::with_capacity(frames);
    for f in 0..frames {
        for i in 0..N {
            buf[i] = f64::from(x.get(f * HOP + i).copied().unwrap_or(0.0)) * win[i];
        }
        fft.process(&mut buf, &mut spec)
            .expect("buffers come from the same plan");
        cols.push(
            (0..bins)
                .map(|b| {
                    // dBFS of a sine of that bin's amplitude.
                    let a = 2.0 * spec[b].norm() / wsum;
                    20.0 * a.max(1e-12).log10()
                })
                .collect(),
        );
    }
    let width = frames.min(1600) as u32;
    let height = bins as u32;
    let tmp = tmp_of(path);
    {
        let root = BitMapBackend::new(&tmp, (width, height)).into_drawing_area();
        root.fill(&BLACK).map_err(|e| err(path, e))?;
        for px in 0..width as usize {
            let col = &cols[px * frames / width as usize];
            for (b, &v) in col.iter().enumerate() {
                let y = (bins - 1 - b) as i32;
                root.draw_pixel((px as i32, y), &heat((v + 110.0) / 100.0))
                    .map_err(|e| err(path, e))?;
            }
        }
        root.present().map_err(|e| err(path, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| err(path, e))
}
