//! Shared FFT plans and constant tables for nodes that run many times in one process.
//!
//! # What
//! [`real_fft`] hands out the forward and inverse real FFT plans of a length, and [`table`] a constant
//! table (a window, a reciprocal autocorrelation) under a name and the numbers it depends on. Every instance
//! that asks for the same plan or table gets the same `Arc`.
//!
//! # How
//! A process-wide `realfft::RealFftPlanner` (which caches its plans by length) and a map of tables, each
//! behind a mutex taken only while a node is built or prepared. A media server runs hundreds of voice
//! chains per core; with one copy of each twiddle table and window instead of one per leg, those tables
//! stay in cache across legs and each leg's tick touches only its own state (per-leg cache footprint is
//! what bounds a conference tick once the arithmetic is vectorised).
//!
//! # Real-time safety
//! Called from constructors and `prepare` only (they lock and may allocate); the plans and tables they
//! return are immutable and used without locks on the real-time path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// A forward and an inverse real FFT plan of length `n`.
pub(crate) type RealFftPair = (Arc<dyn RealToComplex<f32>>, Arc<dyn ComplexToReal<f32>>);

fn planner() -> &'static Mutex<RealFftPlanner<f32>> {
    static PLANNER: OnceLock<Mutex<RealFftPlanner<f32>>> = OnceLock::new();
    PLANNER.get_or_init(|| Mutex::new(RealFftPlanner::new()))
}

/// The shared forward and inverse real FFT plans of length `n` (see the module docs).
pub(crate) fn real_fft(n: usize) -> RealFftPair {
    // A poisoned lock only means another thread panicked while planning; the planner's cache is still a
    // valid map of finished plans.
    let mut p = planner()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    (p.plan_fft_forward(n), p.plan_fft_inverse(n))
}

/// The shared table `name` with the shape `key` (every number the table depends on), made by `make` the
/// first time it is asked for.
pub(crate) fn table(name: &'static str, key: [usize; 2], make: impl FnOnce() -> Vec<f32>) -> Arc<[f32]> {
    type Tables = HashMap<(&'static str, [usize; 2]), Arc<[f32]>>;
    static TABLES: OnceLock<Mutex<Tables>> = OnceLock::new();
    let mut t = TABLES
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    t.entry((name, key)).or_insert_with(|| make().into()).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_length_shares_plans_and_tables() {
        let (f1, i1) = real_fft(320);
        let (f2, i2) = real_fft(320);
        assert!(Arc::ptr_eq(&f1, &f2) && Arc::ptr_eq(&i1, &i2));
        assert_eq!(f1.len(), 320);
        let (f3, _) = real_fft(640);
        assert_eq!(f3.len(), 640);
        let mut calls = 0;
        let a = table("test-ramp", [4, 0], || {
            calls += 1;
            vec![0.0, 1.0, 2.0, 3.0]
        });
        let b = table("test-ramp", [4, 0], || {
            calls += 1;
            vec![9.0; 4]
        });
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!((&*a, calls), (&[0.0, 1.0, 2.0, 3.0][..], 1));
        assert_eq!(table("test-ramp", [2, 0], || vec![5.0; 2]).len(), 2);
    }
}
