//! Speech material of `tutti eval`: recorded prompts and a synthetic second talker.
//!
//! # What
//! - [`Prompts`]: Debian's `asterisk-core-sounds-en-g722` (the Allison voice, 64 kbit/s G.722, 358 prompts),
//!   decoded at 16 kHz with Tutti's own G.722 decoder (byte-exact with ffmpeg, see `codecs/`). Talkers are
//!   prompts joined with short pauses, starting at a seeded prompt.
//! - [`espeak`]: a second, different talker from `espeak-ng` (Debian package), resampled from its 22.05 kHz
//!   to 16 kHz.
//!
//! # How
//! Speech is scaled to an active level (mean power of the 10 ms frames within 40 dB of the loudest, a
//! simplification of ITU-T P.56) of −26 dBFS, the usual telephony test level.
//!
//! # Real-time safety
//! Offline only: file and process I/O.

use std::path::{Path, PathBuf};
use std::process::Command;

use tutti_codecs::{Decoder, G722Decoder, G722Mode};
use tutti_effects::voice::scene::active_level;

use super::EvalError;

/// Where Debian installs the wideband Allison prompts.
pub const G722_DIR: &str = "/usr/share/asterisk/sounds/en_US_f_Allison";

/// Sample rate of all eval scenes, Hz.
pub const RATE: u32 = 16000;

/// Sentences spoken by the synthetic talker (Harvard sentences, IEEE 1969).
const SENTENCES: &[&str] = &[
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
];

/// The prompt files, sorted, for seeded selection.
#[derive(Debug, Clone)]
pub struct Prompts {
    files: Vec<PathBuf>,
}

impl Prompts {
    /// Lists the prompts; an error names the Debian package when they are missing.
    pub fn open() -> Result<Self, EvalError> {
        let missing = |detail: String| EvalError::Material {
            what: G722_DIR.into(),
            detail: format!(
                "{detail}: install Debian package asterisk-core-sounds-en-g722 (scripts/setup.sh)"
            ),
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(G722_DIR)
            .map_err(|e| missing(e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "g722"))
            .collect();
        files.sort();
        if files.len() < 40 {
            return Err(missing(format!("only {} prompts", files.len())));
        }
        Ok(Self { files })
    }

    /// About `seconds` of one talker: prompts `first`, `first + step`, … joined with 200 ms pauses, at an
    /// active level of `level_dbfs`.
    pub fn talker(
        &self,
        first: usize,
        step: usize,
        seconds: f64,
        level_dbfs: f64,
    ) -> Result<Vec<f32>, EvalError> {
        let target = (seconds * f64::from(RATE)) as usize;
        let mut out = Vec::with_capacity(target + RATE as usize * 5);
        let mut i = first;
        while out.len() < target {
            let f = &self.files[i % self.files.len()];
            out.extend(decode_g722(f)?);
            out.extend(std::iter::repeat(0.0).take(RATE as usize / 5));
            i += step.max(1);
        }
        out.truncate(target);
        Ok(set_level(out, level_dbfs))
    }
}

/// Scales `x` to an active level of `level_dbfs` (silence stays silence).
pub fn set_level(mut x: Vec<f32>, level_dbfs: f64) -> Vec<f32> {
    let lvl = active_level(&x, RATE);
    if lvl > 0.0 {
        let g = (10f64.powf(level_dbfs / 10.0) / lvl).sqrt() as f32;
        x.iter_mut().for_each(|v| *v *= g);
    }
    x
}

/// Decodes one raw G.722 file at 64 kbit/s into 16 kHz samples.
fn decode_g722(path: &Path) -> Result<Vec<f32>, EvalError> {
    let bytes = std::fs::read(path).map_err(|e| EvalError::Material {
        what: path.display().to_string(),
        detail: e.to_string(),
    })?;
    let mut dec = G722Decoder::new(G722Mode::Kbps64);
    let mut pcm = vec![0i16; bytes.len() * 2];
    let n = dec.decode(&bytes, &mut pcm).map_err(|e| EvalError::Material {
        what: path.display().to_string(),
        detail: e.to_string(),
    })?;
    Ok(pcm[..n].iter().map(|&s| f32::from(s) / 32768.0).collect())
}

/// About `seconds` of espeak-ng speech (voice `en-us+m3`, sentences in a seeded order) at 16 kHz and an
/// active level of `level_dbfs`. `scratch` is a directory for espeak-ng's WAV file.
pub fn espeak(seconds: f64, seed: u64, level_dbfs: f64, scratch: &Path) -> Result<Vec<f32>, EvalError> {
    let target = (seconds * f64::from(RATE)) as usize;
    let wav = scratch.join(format!("espeak-{seed}.wav"));
    let mut text = String::new();
    let mut k = seed as usize;
    // Enough sentences for the duration (about 2.5 s each), a 0.3 s gap between them.
    for _ in 0..((seconds / 2.0).ceil() as usize + 1) {
        text.push_str(SENTENCES[k % SENTENCES.len()]);
        text.push(' ');
        k += 3;
    }
    let status = Command::new("espeak-ng")
        .args(["-v", "en-us+m3", "-s", "165", "-g", "6", "-w"])
        .arg(&wav)
        .arg(&text)
        .output()
        .map_err(|e| EvalError::Material {
            what: "espeak-ng".into(),
            detail: format!("{e}: install Debian package espeak-ng (scripts/setup.sh)"),
        })?;
    if !status.status.success() {
        return Err(EvalError::Material {
            what: "espeak-ng".into(),
            detail: String::from_utf8_lossy(&status.stderr).trim().to_string(),
        });
    }
    let audio = crate::wav::read_wav(&wav).map_err(|e| EvalError::Material {
        what: "espeak-ng output".into(),
        detail: e.to_string(),
    })?;
    let _ = std::fs::remove_file(&wav);
    let mono = audio.channels.into_iter().next().unwrap_or_default();
    let mut x = resample(&mono, audio.sample_rate, RATE);
    // Loop if espeak spoke faster than expected.
    while x.len() < target && !x.is_empty() {
        let again = x.clone();
        x.extend(again);
    }
    x.truncate(target);
    Ok(set_level(x, level_dbfs))
}

/// Band-limited resampling (Hann-windowed sinc, 32 zero crossings, cut-off at the lower Nyquist).
pub fn resample(x: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to {
        return x.to_vec();
    }
    let ratio = f64::from(from) / f64::from(to);
    let cutoff = (f64::from(to) / f64::from(from)).min(1.0);
    let half = 32.0 / cutoff;
    let n_out = (x.len() as f64 / ratio).floor() as usize;
    (0..n_out)
        .map(|i| {
            let t = i as f64 * ratio;
            let lo = (t - half).ceil().max(0.0) as usize;
            let hi = ((t + half).floor() as usize).min(x.len().saturating_sub(1));
            let mut acc = 0.0;
            for (k, &v) in x.iter().enumerate().take(hi + 1).skip(lo) {
                let d = (k as f64 - t) * cutoff;
                let sinc = if d.abs() < 1e-12 {
                    1.0
                } else {
                    (std::f64::consts::PI * d).sin() / (std::f64::consts::PI * d)
                };
                let w = 0.5 * (1.0 + (std::f64::consts::PI * (k as f64 - t) / half).cos());
                acc += f64::from(v) * sinc * w * cutoff;
            }
            acc as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_keeps_a_tone_in_band() {
        // 1 kHz at 22.05 kHz → 16 kHz: same frequency and amplitude.
        let x: Vec<f32> = (0..22050)
            .map(|i| (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 22050.0).sin() as f32)
            .collect();
        let y = resample(&x, 22050, 16000);
        assert_eq!(y.len(), 16000);
        for i in (1000..15000).step_by(97) {
            let e = (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 16000.0).sin() as f32;
            assert!((y[i] - e).abs() < 2e-3, "{i}: {} vs {e}", y[i]);
        }
    }
}
