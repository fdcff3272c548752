//! A fixed-bucket, lock-free latency histogram.
//!
//! # What
//! [`Histogram`] counts durations in nanoseconds in log-linear buckets (8 per power of two, so a bucket is
//! at most 12.5 % wide), from 0 to about 18 minutes; the exact maximum, count and sum are kept beside it.
//! One thread records; any thread reads a [`HistogramSummary`] with p50/p99/p99.9/max.
//!
//! # How
//! The bucketing is the HdrHistogram scheme with 3 significant bits (Tene, HdrHistogram, 2012): a value
//! `v ≥ 8` with highest set bit `e` goes to bucket `(e − 2)·8 + (bits e−1..e−3 of v)`; smaller values get a
//! bucket each. A quantile is reported as the upper edge of the bucket where the cumulative count reaches
//! it (capped at the exact maximum), so it never under-states a latency.
//!
//! # Real-time safety
//! All buckets are allocated by [`Histogram::new`]. [`Histogram::record`] does three relaxed loads and
//! stores (single writer: no read-modify-write bus lock), no allocation, no lock.

use std::sync::atomic::{AtomicU64, Ordering};

const SUB_BITS: u32 = 3;
const SUB: u64 = 1 << SUB_BITS;
const MAX_EXP: u32 = 40;
const BUCKETS: usize = ((MAX_EXP - SUB_BITS + 2) as usize) * SUB as usize;

/// Durations in nanoseconds, counted in fixed log-linear buckets (see the module docs).
#[derive(Debug)]
pub(crate) struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum: AtomicU64,
    max: AtomicU64,
}

/// Percentiles of a fixed-bucket latency histogram (8 log-linear buckets per octave, ≤ 12.5 % wide; each
/// percentile is the upper edge of its bucket, capped at the exact maximum), in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HistogramSummary {
    /// Number of recorded values.
    pub count: u64,
    /// Mean.
    pub mean_ns: f64,
    /// Median (upper edge of its bucket).
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Largest value, exact.
    pub max_ns: u64,
}

fn bucket_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros();
    if e > MAX_EXP {
        return BUCKETS - 1;
    }
    let sub = (v >> (e - SUB_BITS)) & (SUB - 1);
    ((e - SUB_BITS + 1) as u64 * SUB + sub) as usize
}

/// Largest value that falls in bucket `i`.
fn upper_edge(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let e = (i / SUB) as u32 + SUB_BITS - 1;
    let sub = i % SUB;
    let lo = (1u64 << e) | (sub << (e - SUB_BITS));
    lo + (1u64 << (e - SUB_BITS)) - 1
}

impl Histogram {
    pub fn new() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    /// Records one duration (single writer only).
    #[inline]
    pub fn record(&self, ns: u64) {
        let b = &self.buckets[bucket_of(ns)];
        b.store(b.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        self.count
            .store(self.count.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        self.sum.store(
            self.sum.load(Ordering::Relaxed).saturating_add(ns),
            Ordering::Relaxed,
        );
        if ns > self.max.load(Ordering::Relaxed) {
            self.max.store(ns, Ordering::Relaxed);
        }
    }

    /// Percentiles of what has been recorded so far (control side).
    pub fn summary(&self) -> HistogramSummary {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        let max = self.max.load(Ordering::Relaxed);
        if total == 0 {
            return HistogramSummary::default();
        }
        let quantile = |q: f64| -> u64 {
            let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
            let mut acc = 0;
            for (i, &c) in counts.iter().enumerate() {
                acc += c;
                if acc >= rank {
                    return upper_edge(i).min(max);
                }
            }
            max
        };
        HistogramSummary {
            count: total,
            mean_ns: self.sum.load(Ordering::Relaxed) as f64 / total as f64,
            p50_ns: quantile(0.5),
            p99_ns: quantile(0.99),
            p999_ns: quantile(0.999),
            max_ns: max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_narrow() {
        let mut prev = None;
        for v in (0..100_000u64).chain([1 << 30, (1 << 30) + 12345, 1 << 40]) {
            let b = bucket_of(v);
            assert!(upper_edge(b) >= v, "value {v} above its bucket's edge");
            if b > 0 {
                assert!(upper_edge(b - 1) < v, "value {v} fits an earlier bucket");
            }
            if v >= 8 {
                assert!((upper_edge(b) - v) as f64 <= v as f64 * 0.125 + 1.0);
            }
            if let Some(p) = prev {
                assert!(b >= p);
            }
            prev = Some(b);
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn percentiles_of_a_uniform_ramp() {
        let h = Histogram::new();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        let s = h.summary();
        assert_eq!(s.count, 10_000);
        assert_eq!(s.max_ns, 10_000_000);
        assert!((s.mean_ns - 5_000_500.0).abs() < 1.0);
        for (got, want) in [
            (s.p50_ns, 5_000_000.0),
            (s.p99_ns, 9_900_000.0),
            (s.p999_ns, 9_990_000.0),
        ] {
            let got = got as f64;
            assert!(got >= want && got <= want * 1.126, "{got} vs {want}");
        }
    }
}
