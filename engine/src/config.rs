//! Stream configuration: sample rate, channel count and the fixed processing block.
//!
//! # What
//! Every processor and graph runs at one [`StreamConfig`]: a sample rate (8, 16, 32, 44.1 or 48 kHz), a
//! channel count (mono or stereo, planar `f32` buffers) and a fixed block length (10 ms by default).
//!
//! # Real-time safety
//! Plain `Copy` data; nothing here allocates.

use crate::EngineError;

/// Sample rates the engine runs at, in Hz.
pub const SUPPORTED_RATES: [u32; 5] = [8000, 16000, 32000, 44100, 48000];

/// Longest block the engine accepts, in frames (100 ms at 48 kHz).
pub const MAX_BLOCK_FRAMES: usize = 4800;

/// The format a processor or graph runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamConfig {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Number of channels of the (main) stream: 1 or 2.
    pub channels: usize,
    /// Frames per processing block.
    pub block_frames: usize,
}

impl StreamConfig {
    /// A configuration with a block of `block_ms` milliseconds.
    ///
    /// Fails when the rate or channel count is unsupported, or when `block_ms` does not give a whole,
    /// non-zero number of frames of at most [`MAX_BLOCK_FRAMES`].
    pub fn new(sample_rate: u32, channels: usize, block_ms: f64) -> Result<Self, EngineError> {
        let frames = f64::from(sample_rate) * block_ms / 1000.0;
        if !(frames.is_finite() && frames >= 1.0 && (frames - frames.round()).abs() < 1e-9) {
            return Err(EngineError::BadBlock {
                detail: format!("{block_ms} ms at {sample_rate} Hz is not a whole number of frames"),
            });
        }
        Self::with_frames(sample_rate, channels, frames.round() as usize)
    }

    /// A configuration with an explicit block length in frames.
    pub fn with_frames(sample_rate: u32, channels: usize, block_frames: usize) -> Result<Self, EngineError> {
        if !SUPPORTED_RATES.contains(&sample_rate) {
            return Err(EngineError::UnsupportedRate { actual: sample_rate });
        }
        if !(1..=2).contains(&channels) {
            return Err(EngineError::UnsupportedChannels { actual: channels });
        }
        if block_frames == 0 || block_frames > MAX_BLOCK_FRAMES {
            return Err(EngineError::BadBlock {
                detail: format!("{block_frames} frames (allowed 1..={MAX_BLOCK_FRAMES})"),
            });
        }
        Ok(Self {
            sample_rate,
            channels,
            block_frames,
        })
    }

    /// The same configuration with another channel count (unchecked beyond 1..=2).
    pub fn with_channels(self, channels: usize) -> Self {
        Self { channels, ..self }
    }

    /// Block duration in seconds.
    pub fn block_seconds(&self) -> f64 {
        self.block_frames as f64 / f64::from(self.sample_rate)
    }

    /// Number of frames in `ms` milliseconds at this rate (rounded to nearest).
    pub fn frames_for_ms(&self, ms: f64) -> usize {
        (f64::from(self.sample_rate) * ms / 1000.0).round().max(0.0) as usize
    }
}

impl Default for StreamConfig {
    /// 48 kHz, mono, 10 ms blocks.
    fn default() -> Self {
        Self {
            sample_rate: 48_000,
            channels: 1,
            block_frames: 480,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_ms_blocks_at_every_rate() {
        for rate in SUPPORTED_RATES {
            let c = StreamConfig::new(rate, 1, 10.0).unwrap();
            assert_eq!(c.block_frames as u32, rate / 100);
        }
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(matches!(
            StreamConfig::new(22050, 1, 20.0),
            Err(EngineError::UnsupportedRate { .. })
        ));
        assert!(matches!(
            StreamConfig::new(48000, 3, 10.0),
            Err(EngineError::UnsupportedChannels { .. })
        ));
        assert!(matches!(
            StreamConfig::new(44100, 1, 0.01),
            Err(EngineError::BadBlock { .. })
        ));
        assert!(matches!(
            StreamConfig::new(8000, 1, 0.0),
            Err(EngineError::BadBlock { .. })
        ));
    }
}
