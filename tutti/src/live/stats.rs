//! Live-stream statistics shared between the audio callbacks and the control thread.
//!
//! # What
//! Counters for xruns (input-ring overruns, output underruns, stream errors reported by the backend),
//! callback load (time spent in the output callback over the buffer's duration: average and peak) and the
//! round-trip latency estimated on every output callback from what is queued between the microphone and
//! the loudspeaker (input device buffer, ring fill, re-chunker backlog, graph latency, output buffer,
//! plus the device latencies cpal reports through its stream timestamps).
//!
//! # How
//! Relaxed atomics: each field has one writer (a callback) and is read by the control thread.
//!
//! # Real-time safety
//! Atomic loads, stores, adds and `fetch_max` only (lock-free on every supported target).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Counters written by the callbacks (see the module docs).
#[derive(Debug, Default)]
pub struct LiveStats {
    pub(crate) in_callbacks: AtomicU64,
    pub(crate) out_callbacks: AtomicU64,
    pub(crate) overruns: AtomicU64,
    pub(crate) underruns: AtomicU64,
    pub(crate) stream_errors: AtomicU64,
    pub(crate) busy_ns: AtomicU64,
    pub(crate) budget_ns: AtomicU64,
    pub(crate) peak_load_ppm: AtomicU64,
    pub(crate) latency_frames_sum: AtomicU64,
    pub(crate) latency_count: AtomicU64,
    pub(crate) latency_frames_max: AtomicU64,
    pub(crate) in_buffer_frames: AtomicU64,
    pub(crate) out_buffer_frames: AtomicU64,
    pub(crate) in_device_ns: AtomicU64,
    pub(crate) out_device_ns: AtomicU64,
    /// First backend error message (written by the backends' error callbacks, never the audio callbacks).
    first_error: Mutex<Option<String>>,
}

/// A snapshot of [`LiveStats`].
#[derive(Debug, Clone, PartialEq)]
pub struct StatsSnapshot {
    /// Input callbacks so far.
    pub input_callbacks: u64,
    /// Output callbacks so far.
    pub output_callbacks: u64,
    /// Input callbacks that found the ring full (samples dropped).
    pub input_overruns: u64,
    /// Engine blocks that found too little input in the ring (processed from silence).
    pub output_underruns: u64,
    /// Errors reported by the audio backend (JACK server xruns, ALSA stream errors), counted once.
    pub stream_errors: u64,
    /// Average callback load: time in the output callback over the audio duration it produced.
    pub load_avg: f64,
    /// Peak callback load of a single output callback.
    pub load_peak: f64,
    /// Average estimated round-trip latency in frames.
    pub latency_avg_frames: f64,
    /// Largest estimated round-trip latency in frames.
    pub latency_max_frames: u64,
    /// Last input device buffer size in frames.
    pub input_buffer_frames: u64,
    /// Last output device buffer size in frames.
    pub output_buffer_frames: u64,
}

impl StatsSnapshot {
    /// All xruns: overruns + underruns + backend stream errors.
    pub fn xruns(&self) -> u64 {
        self.input_overruns + self.output_underruns + self.stream_errors
    }
}

impl LiveStats {
    /// Records one output callback that produced `frames` frames at `rate` Hz in `busy_ns` nanoseconds.
    pub(crate) fn record_output(&self, frames: usize, rate: u32, busy_ns: u64) {
        let budget = (frames as u64 * 1_000_000_000) / u64::from(rate.max(1));
        self.out_callbacks.fetch_add(1, Relaxed);
        self.busy_ns.fetch_add(busy_ns, Relaxed);
        self.budget_ns.fetch_add(budget, Relaxed);
        if budget > 0 {
            self.peak_load_ppm
                .fetch_max(busy_ns.saturating_mul(1_000_000) / budget, Relaxed);
        }
        self.out_buffer_frames.store(frames as u64, Relaxed);
    }

    /// Records one latency estimate in frames.
    pub(crate) fn record_latency(&self, frames: u64) {
        self.latency_frames_sum.fetch_add(frames, Relaxed);
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_frames_max.fetch_max(frames, Relaxed);
    }

    /// Keeps the first backend error message. Called from error callbacks only (not real-time code).
    pub(crate) fn note_error(&self, msg: String) {
        if let Ok(mut e) = self.first_error.lock() {
            e.get_or_insert(msg);
        }
    }

    /// The first backend error message, if any.
    pub fn first_error(&self) -> Option<String> {
        self.first_error.lock().ok().and_then(|e| e.clone())
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let busy = self.busy_ns.load(Relaxed) as f64;
        let budget = self.budget_ns.load(Relaxed) as f64;
        let n = self.latency_count.load(Relaxed);
        StatsSnapshot {
            input_callbacks: self.in_callbacks.load(Relaxed),
            output_callbacks: self.out_callbacks.load(Relaxed),
            input_overruns: self.overruns.load(Relaxed),
            output_underruns: self.underruns.load(Relaxed),
            stream_errors: self.stream_errors.load(Relaxed),
            load_avg: if budget > 0.0 { busy / budget } else { 0.0 },
            load_peak: self.peak_load_ppm.load(Relaxed) as f64 / 1e6,
            latency_avg_frames: if n > 0 {
                self.latency_frames_sum.load(Relaxed) as f64 / n as f64
            } else {
                0.0
            },
            latency_max_frames: self.latency_frames_max.load(Relaxed),
            input_buffer_frames: self.in_buffer_frames.load(Relaxed),
            output_buffer_frames: self.out_buffer_frames.load(Relaxed),
        }
    }

    /// Device latencies reported by the backend's timestamps (capture→callback, callback→playback), ns.
    pub fn device_latency_ns(&self) -> (u64, u64) {
        (self.in_device_ns.load(Relaxed), self.out_device_ns.load(Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_is_busy_time_over_audio_time() {
        let s = LiveStats::default();
        // 480 frames at 48 kHz = 10 ms; 2 ms busy = 0.2, then 5 ms busy = 0.5.
        s.record_output(480, 48_000, 2_000_000);
        s.record_output(480, 48_000, 5_000_000);
        let snap = s.snapshot();
        assert!((snap.load_avg - 0.35).abs() < 1e-9);
        assert!((snap.load_peak - 0.5).abs() < 1e-9);
        s.record_latency(100);
        s.record_latency(300);
        let snap = s.snapshot();
        assert_eq!(snap.latency_max_frames, 300);
        assert!((snap.latency_avg_frames - 200.0).abs() < 1e-9);
    }
}
