//! Building blocks shared by the effect nodes: LFOs, delay lines, oversampling, the BS.1770 true-peak
//! interpolator and level conversions.
//!
//! # What
//! - [`Lfo`]: a phase-accumulating low-frequency oscillator with sox's sine and triangle shapes;
//! - [`DelayLine`]: an `f64` ring buffer with integer, linear and quadratic (sox) fractional reads;
//! - [`Oversampler`]: polyphase FIR up- and down-sampling by 4 or 8 (Kaiser-windowed sinc);
//! - [`lanes8`]: the phaser's and resonator's 8-lane planar SIMD kernels (shared lane machinery, with
//!   the all-pass and resonator recursions in their own submodules);
//! - [`TRUE_PEAK_TAPS`]: the ITU-R BS.1770-5 Annex 2 interpolation filter (4 phases × 12 taps).
//!
//! # How
//! Kaiser window design follows Kaiser's formulas (β from the stop-band attenuation, length from the
//! transition width; Oppenheim & Schafer, *Discrete-Time Signal Processing*, §7.5.3).
//!
//! # Real-time safety
//! Constructors allocate (called from `prepare`); every per-sample method is arithmetic on preallocated
//! buffers.

mod delay_line;
pub(crate) mod lanes8;
mod lfo;
mod oversample;
mod params;

pub(crate) use delay_line::DelayLine;
pub(crate) use lfo::{Lfo, LfoShape, LFO_SHAPES};
pub(crate) use oversample::Oversampler;
pub(crate) use params::ParamSet;

/// dB → linear amplitude.
#[inline]
pub(crate) fn db_to_lin(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// Linear amplitude → dB, floored at −200 dB for zero.
#[inline]
pub(crate) fn lin_to_db(x: f64) -> f64 {
    20.0 * x.abs().max(1e-10).log10()
}

/// Replaces values in the denormal range by zero (keeps feedback tails cheap on every CPU).
#[inline]
pub(crate) fn flush(x: f64) -> f64 {
    if x.abs() < 1e-30 {
        0.0
    } else {
        x
    }
}

/// Smoothing time of continuous parameters, in milliseconds.
pub(crate) const SMOOTH_MS: f32 = 20.0;

/// The ITU-R BS.1770-5 Annex 2 true-peak interpolation filter: phase `p` (0..4) of 12 taps; tap 0
/// multiplies the newest sample `x[n]`. The 48-tap prototype is symmetric about 23.5, so phase `p`
/// estimates the signal at time `n − 5.875 + p/4`: the four phases cover the interval between `x[n−6]` and
/// `x[n−5]` at 1/8, 3/8, 5/8 and 7/8 of a sample.
pub(crate) const TRUE_PEAK_TAPS: [[f64; 12]; 4] = [
    [
        0.0017089843750,
        0.0109863281250,
        -0.0196533203125,
        0.0332031250000,
        -0.0594482421875,
        0.1373291015625,
        0.9721679687500,
        -0.1022949218750,
        0.0476074218750,
        -0.0266113281250,
        0.0148925781250,
        -0.0083007812500,
    ],
    [
        -0.0291748046875,
        0.0292968750000,
        -0.0517578125000,
        0.0891113281250,
        -0.1665039062500,
        0.4650878906250,
        0.7797851562500,
        -0.2003173828125,
        0.1015625000000,
        -0.0582275390625,
        0.0330810546875,
        -0.0189208984375,
    ],
    [
        -0.0189208984375,
        0.0330810546875,
        -0.0582275390625,
        0.1015625000000,
        -0.2003173828125,
        0.7797851562500,
        0.4650878906250,
        -0.1665039062500,
        0.0891113281250,
        -0.0517578125000,
        0.0292968750000,
        -0.0291748046875,
    ],
    [
        -0.0083007812500,
        0.0148925781250,
        -0.0266113281250,
        0.0476074218750,
        -0.1022949218750,
        0.9721679687500,
        0.1373291015625,
        -0.0594482421875,
        0.0332031250000,
        -0.0196533203125,
        0.0109863281250,
        0.0017089843750,
    ],
];

/// Zeroth-order modified Bessel function of the first kind (power series), for the Kaiser window.
pub(crate) fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..200 {
        term *= q / (k as f64 * k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Windowed-sinc low-pass FIR of `len` taps, cut-off `fc` as a fraction of the sample rate (0..0.5),
/// Kaiser window with parameter `beta`, DC gain `gain`.
pub(crate) fn kaiser_lowpass(len: usize, fc: f64, beta: f64, gain: f64) -> Vec<f64> {
    let mid = (len - 1) as f64 / 2.0;
    let i0b = bessel_i0(beta);
    let mut h: Vec<f64> = (0..len)
        .map(|i| {
            let t = i as f64 - mid;
            let sinc = if t == 0.0 {
                2.0 * fc
            } else {
                (2.0 * std::f64::consts::PI * fc * t).sin() / (std::f64::consts::PI * t)
            };
            let r = if mid > 0.0 { t / mid } else { 0.0 };
            let w = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0b;
            sinc * w
        })
        .collect();
    let sum: f64 = h.iter().sum();
    for v in &mut h {
        *v *= gain / sum;
    }
    h
}

/// Parses a comma-separated list of numbers (construction options such as `freqs=220,330`).
pub(crate) fn parse_list(text: &str) -> Result<Vec<f64>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<f64>().map_err(|_| format!("'{s}' is not a number")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bessel_matches_known_values() {
        // I0(1) = 1.2660658777520082, I0(5) = 27.239871823604442 (Abramowitz & Stegun table 9.8).
        assert!((bessel_i0(1.0) - 1.266_065_877_752_008_2).abs() < 1e-12);
        assert!((bessel_i0(5.0) - 27.239_871_823_604_442).abs() < 1e-9);
    }

    #[test]
    fn true_peak_phases_are_mirrored() {
        for k in 0..12 {
            assert_eq!(TRUE_PEAK_TAPS[0][k], TRUE_PEAK_TAPS[3][11 - k]);
            assert_eq!(TRUE_PEAK_TAPS[1][k], TRUE_PEAK_TAPS[2][11 - k]);
        }
    }

    #[test]
    fn parse_list_reports_bad_items() {
        assert_eq!(parse_list("220, 330,440").unwrap(), vec![220.0, 330.0, 440.0]);
        assert!(parse_list("220,x").unwrap_err().contains("'x'"));
    }
}

/// Up to two input channels and the matching output channels of one block, for frame-major loops.
pub(crate) struct Io<'a> {
    /// Input channels (unused slots are empty).
    pub(crate) ins: [&'a [f32]; 2],
    /// Output channels (unused slots are empty).
    pub(crate) outs: [&'a mut [f32]; 2],
    /// Channels to process (≤ 2).
    pub(crate) channels: usize,
    /// Frames in the block.
    pub(crate) frames: usize,
}

/// Splits port 0's input and output into per-channel slices.
pub(crate) fn split_io<'a>(
    input: tutti_engine::AudioRef<'a>,
    out: &'a mut tutti_engine::AudioMut<'_>,
) -> Io<'a> {
    let frames = out.frames();
    let channels = input.channels().min(out.channels()).min(2);
    let ins = [
        if channels > 0 { input.channel(0) } else { &[][..] },
        if channels > 1 { input.channel(1) } else { &[][..] },
    ];
    let mut it = out.channels_mut();
    let o0 = it.next().unwrap_or_default();
    let o1 = it.next().unwrap_or_default();
    Io {
        ins,
        outs: [o0, o1],
        channels,
        frames,
    }
}
