//! Peer implementations that `tutti eval` runs beside Tutti (cargo feature `peers`).
//!
//! # What
//! - `speex`: SpeexDSP 1.2 (Debian `libspeexdsp-dev`): MDF echo canceller (500 ms tail) + preprocessor
//!   residual echo suppression for `aec`; the preprocessor's denoiser for `ns`; its AGC for `agc`.
//! - `webrtc`: WebRTC audio processing 0.3 (Debian `libwebrtc-audio-processing-dev`, the 2016 APM: legacy
//!   AEC with extended filter and delay-agnostic mode, legacy NS at high, AGC1 adaptive digital) through
//!   a small C++ shim (`webrtc_shim.cpp`, compiled by `build.rs`).
//! - `rnnoise`: RNNoise (J.-M. Valin, arXiv:1709.08243) through the pure-Rust port `nnnoiseless`, at
//!   48 kHz (the scenes are resampled 16 → 48 → 16 kHz around it), for `ns`.
//! - `sonora`: the pure-Rust port of today's WebRTC audio processing module (crate `sonora`): AEC3 for
//!   `aec`, the WebRTC noise suppressor at high for `ns`, AGC2 adaptive digital (with its limiter) for
//!   `agc`. It needs Rust 1.91 (the rest of Tutti 1.89).
//!
//! # How
//! Each peer runs in 10 ms frames with fresh state per scene; the FFI modules are the only `unsafe` code
//! of the crate, each call with a `// SAFETY:` comment.
//!
//! # Real-time safety
//! Offline comparison only.

#[cfg(feature = "peers")]
mod rnnoise;
#[cfg(feature = "peers")]
mod sonora;
#[cfg(feature = "peers")]
mod speex;
#[cfg(feature = "peers")]
mod webrtc;

use super::systems::System;
use super::EvalError;

/// Every peer `tutti eval` knows.
pub const KNOWN: &[&str] = &["speex", "webrtc", "rnnoise", "sonora"];

/// The peers compiled into this build.
#[cfg(feature = "peers")]
pub const AVAILABLE: &[&str] = KNOWN;
/// The peers compiled into this build (none: build with `--features peers`).
#[cfg(not(feature = "peers"))]
pub const AVAILABLE: &[&str] = &[];

/// Creates the peer called `name`; the error names `--peers`.
pub fn create(name: &str) -> Result<Box<dyn System>, EvalError> {
    let flag = |detail: String| EvalError::Flag {
        flag: "--peers".into(),
        detail,
    };
    if !KNOWN.contains(&name) {
        return Err(flag(format!(
            "unknown peer '{name}' (known: {})",
            KNOWN.join(", ")
        )));
    }
    if !AVAILABLE.contains(&name) {
        return Err(flag(format!(
            "peer '{name}' is not in this build (build tutti with --features peers; scripts/setup.sh installs \
             libspeexdsp-dev and libwebrtc-audio-processing-dev)"
        )));
    }
    #[cfg(feature = "peers")]
    {
        Ok(match name {
            "speex" => Box::new(speex::Speex),
            "webrtc" => Box::new(webrtc::WebRtc),
            "sonora" => Box::new(sonora::Sonora),
            _ => Box::new(rnnoise::RnNoise),
        })
    }
    #[cfg(not(feature = "peers"))]
    unreachable!("AVAILABLE is empty without the peers feature")
}
