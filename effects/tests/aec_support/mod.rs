//! Shared helpers of the AEC behaviour tests: real speech from Debian's Asterisk prompts, running the
//! `aec` node over a scene, SpeexDSP's echo canceller through FFI, and metrics.
#![allow(dead_code, unsafe_code)]

use std::path::Path;
use std::process::Command;

use tutti_effects::voice::scene::{active_level, Scene};
use tutti_engine::{render_offline, Processor, StreamConfig};

const G722_DIR: &str = "/usr/share/asterisk/sounds/en_US_f_Allison";
const WAV_DIR: &str = "/usr/share/asterisk/sounds/en";

/// Decodes one file with ffmpeg into mono f32 at `rate`.
fn ffmpeg_decode(args: &[&str], path: &Path, rate: u32) -> Vec<f32> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error"])
        .args(args)
        .arg("-i")
        .arg(path)
        .args([
            "-f",
            "s16le",
            "-acodec",
            "pcm_s16le",
            "-ac",
            "1",
            "-ar",
            &rate.to_string(),
            "-",
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!("ffmpeg is needed to decode test speech (scripts/setup.sh installs it): {e}")
        });
    assert!(
        out.status.success(),
        "ffmpeg failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect()
}

/// About `seconds` of speech at `rate` Hz: Asterisk prompts (G.722 at 16 kHz and above, 8 kHz WAV for
/// 8 kHz) number `first`, `first + 2`, … in sorted order, joined with 150 ms pauses, scaled to an active
/// level of −20 dBFS. Panics with a clear message when the Debian packages are missing.
pub fn speech(rate: u32, first: usize, seconds: f64) -> Vec<f32> {
    let (dir, ext, pkg) = if rate == 8000 {
        (WAV_DIR, "wav", "asterisk-core-sounds-en-wav")
    } else {
        (G722_DIR, "g722", "asterisk-core-sounds-en-g722")
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir} missing ({e}): install Debian package {pkg} (scripts/setup.sh)"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    assert!(files.len() > 40, "too few prompts in {dir}: install {pkg}");
    let target = (seconds * f64::from(rate)) as usize;
    let mut out = Vec::with_capacity(target + rate as usize * 5);
    let mut i = first;
    while out.len() < target {
        let f = &files[i % files.len()];
        let s = if ext == "g722" {
            ffmpeg_decode(&["-f", "g722"], f, rate)
        } else {
            ffmpeg_decode(&[], f, rate)
        };
        out.extend_from_slice(&s);
        out.extend(std::iter::repeat(0.0).take(rate as usize * 15 / 100));
        i += 2;
    }
    out.truncate(target);
    let lvl = active_level(&out, rate);
    let g = (10f64.powf(-2.0) / lvl).sqrt() as f32;
    out.iter_mut().for_each(|v| *v *= g);
    out
}

/// Options of the `aec` node for a test run.
#[derive(Clone, Copy)]
pub struct AecOpts {
    pub tail_ms: f32,
    pub suppression: &'static str,
    pub cng: bool,
}

impl Default for AecOpts {
    fn default() -> Self {
        Self {
            tail_ms: 250.0,
            suppression: "moderate",
            cng: false,
        }
    }
}

/// Result of running the node: output aligned to the input (latency removed) and the final meters.
pub struct AecRun {
    pub out: Vec<f32>,
    pub meters: Vec<(&'static str, f64)>,
}

impl AecRun {
    pub fn meter(&self, name: &str) -> f64 {
        self.meters
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .expect("meter exists")
    }
}

/// Builds the `aec` node through the registry.
pub fn build_aec(o: &AecOpts) -> Box<dyn Processor> {
    let ty = tutti_effects::node_types()
        .into_iter()
        .find(|t| t.name == "aec")
        .expect("aec is registered");
    let pairs = vec![
        ("tail_ms".to_string(), o.tail_ms.to_string()),
        ("suppression".to_string(), o.suppression.to_string()),
        ("cng".to_string(), if o.cng { "on" } else { "off" }.to_string()),
    ];
    ty.build(&pairs).expect("valid arguments")
}

/// Runs the node over the scene (10 ms blocks) and removes its latency.
pub fn run_aec(scene: &Scene, rate: u32, o: &AecOpts) -> AecRun {
    let mut p = build_aec(o);
    let cfg = StreamConfig::new(rate, 1, 10.0).expect("10 ms blocks");
    let res = render_offline(
        p.as_mut(),
        &cfg,
        &[vec![scene.mic.clone()], vec![scene.far.clone()]],
    )
    .expect("render");
    let lat = p.latency();
    let mut out = res[0][0][lat..].to_vec();
    out.resize(scene.mic.len(), 0.0);
    let meters = p.meters().expect("aec has meters").snapshot();
    AecRun { out, meters }
}

// ---------------------------------------------------------------------------------------------------
// SpeexDSP through FFI.

mod ffi {
    use std::os::raw::{c_int, c_void};
    #[link(name = "speexdsp")]
    extern "C" {
        pub fn speex_echo_state_init(frame_size: c_int, filter_length: c_int) -> *mut c_void;
        pub fn speex_echo_state_destroy(st: *mut c_void);
        pub fn speex_echo_cancellation(st: *mut c_void, rec: *const i16, play: *const i16, out: *mut i16);
        pub fn speex_echo_ctl(st: *mut c_void, request: c_int, ptr: *mut c_void) -> c_int;
        pub fn speex_preprocess_state_init(frame_size: c_int, sampling_rate: c_int) -> *mut c_void;
        pub fn speex_preprocess_state_destroy(st: *mut c_void);
        pub fn speex_preprocess_ctl(st: *mut c_void, request: c_int, ptr: *mut c_void) -> c_int;
        pub fn speex_preprocess_run(st: *mut c_void, x: *mut i16) -> c_int;
    }
    pub const SPEEX_ECHO_SET_SAMPLING_RATE: c_int = 24;
    pub const SPEEX_PREPROCESS_SET_DENOISE: c_int = 0;
    pub const SPEEX_PREPROCESS_SET_ECHO_STATE: c_int = 24;
}

/// SpeexDSP's MDF echo canceller, optionally followed by its preprocessor's residual echo suppression
/// (denoise off, so that only echo suppression acts).
pub struct Speex {
    echo: *mut std::os::raw::c_void,
    pre: *mut std::os::raw::c_void,
    frame: usize,
}

impl Speex {
    pub fn new(rate: u32, frame: usize, tail_samples: usize, with_preprocess: bool) -> Self {
        // SAFETY: plain constructor calls with valid sizes; the returned pointers are checked below and
        // owned by this struct until `drop`.
        unsafe {
            let echo = ffi::speex_echo_state_init(frame as i32, tail_samples as i32);
            assert!(!echo.is_null(), "speex_echo_state_init failed");
            let mut r = rate as i32;
            ffi::speex_echo_ctl(
                echo,
                ffi::SPEEX_ECHO_SET_SAMPLING_RATE,
                (&mut r as *mut i32).cast(),
            );
            let mut pre = std::ptr::null_mut();
            if with_preprocess {
                pre = ffi::speex_preprocess_state_init(frame as i32, rate as i32);
                assert!(!pre.is_null(), "speex_preprocess_state_init failed");
                let mut off: i32 = 0;
                ffi::speex_preprocess_ctl(
                    pre,
                    ffi::SPEEX_PREPROCESS_SET_DENOISE,
                    (&mut off as *mut i32).cast(),
                );
                ffi::speex_preprocess_ctl(pre, ffi::SPEEX_PREPROCESS_SET_ECHO_STATE, echo);
            }
            Self { echo, pre, frame }
        }
    }

    /// Processes one frame of 16-bit samples.
    pub fn frame(&mut self, mic: &[i16], far: &[i16], out: &mut [i16]) {
        assert!(mic.len() == self.frame && far.len() == self.frame && out.len() == self.frame);
        // SAFETY: the three buffers hold exactly `frame` samples as the state was created for; the states
        // are valid until drop.
        unsafe {
            ffi::speex_echo_cancellation(self.echo, mic.as_ptr(), far.as_ptr(), out.as_mut_ptr());
            if !self.pre.is_null() {
                ffi::speex_preprocess_run(self.pre, out.as_mut_ptr());
            }
        }
    }

    /// Runs over whole f32 signals.
    pub fn run(rate: u32, tail_samples: usize, with_preprocess: bool, mic: &[f32], far: &[f32]) -> Vec<f32> {
        let n = rate as usize / 100;
        let mut s = Speex::new(rate, n, tail_samples, with_preprocess);
        let q = |v: &f32| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
        let mut out = Vec::with_capacity(mic.len());
        let mut o = vec![0i16; n];
        for (m, f) in mic.chunks_exact(n).zip(far.chunks_exact(n)) {
            let mi: Vec<i16> = m.iter().map(q).collect();
            let fi: Vec<i16> = f.iter().map(q).collect();
            s.frame(&mi, &fi, &mut o);
            out.extend(o.iter().map(|&v| f32::from(v) / 32768.0));
        }
        out.resize(mic.len(), 0.0);
        out
    }
}

impl Drop for Speex {
    fn drop(&mut self) {
        // SAFETY: both states were created by the matching init functions and are destroyed once.
        unsafe {
            if !self.pre.is_null() {
                ffi::speex_preprocess_state_destroy(self.pre);
            }
            ffi::speex_echo_state_destroy(self.echo);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Metrics.

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
}

/// ERLE in dB over `[from, to)` seconds: echo energy over output energy (far-end single talk).
pub fn erle_db(echo: &[f32], out: &[f32], rate: u32, from: f64, to: f64) -> f64 {
    let a = ((from * f64::from(rate)) as usize).min(echo.len());
    let b = ((to * f64::from(rate)) as usize).min(echo.len());
    10.0 * (energy(&echo[a..b]) / energy(&out[a..b]).max(1e-20)).log10()
}

/// ERLE per window of `win_s` seconds, counting only windows where the echo is active (within 30 dB of
/// the loudest window).
pub fn erle_track(echo: &[f32], out: &[f32], rate: u32, win_s: f64) -> Vec<(f64, f64)> {
    let w = (win_s * f64::from(rate)) as usize;
    let max = echo.chunks(w).map(energy).fold(0.0, f64::max);
    echo.chunks(w)
        .zip(out.chunks(w))
        .enumerate()
        .filter(|(_, (e, _))| energy(e) > max * 1e-3)
        .map(|(i, (e, o))| {
            (
                i as f64 * win_s,
                10.0 * (energy(e) / energy(o).max(1e-20)).log10(),
            )
        })
        .collect()
}

/// First time (s) after `from` at which the windowed ERLE reaches `db` and stays there for the next
/// `hold` active windows.
pub fn time_to_erle(track: &[(f64, f64)], from: f64, db: f64, hold: usize) -> Option<f64> {
    let t: Vec<_> = track.iter().filter(|(s, _)| *s >= from).collect();
    (0..t.len())
        .find(|&i| t[i..].iter().take(hold + 1).all(|(_, e)| *e >= db))
        .map(|i| t[i].0 - from)
}

/// Pearson correlation of `a` and `b` over `[from, to)` seconds.
pub fn correlation(a: &[f32], b: &[f32], rate: u32, from: f64, to: f64) -> f64 {
    let s = (from * f64::from(rate)) as usize;
    let e = ((to * f64::from(rate)) as usize).min(a.len()).min(b.len());
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for i in s..e {
        let (x, y) = (f64::from(a[i]), f64::from(b[i]));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa * bb).sqrt().max(1e-30)
}

/// Segmental SNR (dB) of `out` against the reference `clean` over 10 ms frames where `clean` is active
/// (within 40 dB of its loudest frame), each frame's SNR clamped to [−10, 35] dB (as in P. C. Loizou,
/// "Speech Enhancement", 2nd ed., §11.1).
pub fn seg_snr(clean: &[f32], out: &[f32], rate: u32, from: f64, to: f64) -> f64 {
    let n = rate as usize / 100;
    let s = (from * f64::from(rate)) as usize / n;
    let e = ((to * f64::from(rate)) as usize).min(clean.len()) / n;
    let max = (s..e)
        .map(|f| energy(&clean[f * n..(f + 1) * n]))
        .fold(0.0, f64::max);
    let mut acc = 0.0;
    let mut count = 0;
    for f in s..e {
        let c = &clean[f * n..(f + 1) * n];
        let o = &out[f * n..(f + 1) * n];
        let ec = energy(c);
        if ec < max * 1e-4 {
            continue;
        }
        let noise: f64 = c
            .iter()
            .zip(o)
            .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
            .sum();
        acc += (10.0 * (ec / noise.max(1e-20)).log10()).clamp(-10.0, 35.0);
        count += 1;
    }
    acc / count.max(1) as f64
}
