//! Shared FFT plans and constant tables for nodes that run many times in one process.
//!
//! # What
//! [`real_fft`] hands out the forward and inverse real FFT plans of a length, [`complex_fft`] the complex
//! ones, and [`table`] a constant table (a window, a reciprocal autocorrelation) under a name and the
//! numbers it depends on. Every instance that asks for the same plan or table gets the same `Arc`.
//!
//! # How
//! Process-wide lists of the plans (made by `realfft::RealFftPlanner` and `rustfft::FftPlanner`) and tables handed out so far, each
//! behind a mutex taken only while a node is built or prepared. A media server runs hundreds of voice
//! chains per core; with one copy of each twiddle table and window instead of one per leg, those tables
//! stay in cache across legs and each leg's tick touches only its own state (per-leg cache footprint is
//! what bounds a conference tick once the arithmetic is vectorised).
//!
//! # Real-time safety
//! Called from constructors and `prepare` only (they lock and may allocate); the plans and tables they
//! return are immutable and used without locks on the real-time path.

use std::sync::{Arc, Mutex, PoisonError};

use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// A forward and an inverse real FFT plan of length `n`.
pub(crate) type RealFftPair = (Arc<dyn RealToComplex<f32>>, Arc<dyn ComplexToReal<f32>>);

// Plain vectors (a handful of lengths per process), not hash maps: a hash map's pointer points into the
// middle of its allocation, which leak checkers such as valgrind report as "possibly lost" at exit.
static PLANS: Mutex<Vec<(usize, RealFftPair)>> = Mutex::new(Vec::new());
type TableKey = (&'static str, [usize; 2]);
static TABLES: Mutex<Vec<(TableKey, Arc<[f32]>)>> = Mutex::new(Vec::new());

/// The shared forward and inverse real FFT plans of length `n` (see the module docs).
pub(crate) fn real_fft(n: usize) -> RealFftPair {
    // A poisoned lock only means another thread panicked while planning; the list holds finished plans.
    let mut plans = PLANS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, pair)) = plans.iter().find(|(len, _)| *len == n) {
        return pair.clone();
    }
    let mut planner = RealFftPlanner::<f32>::new();
    let pair: RealFftPair = (planner.plan_fft_forward(n), planner.plan_fft_inverse(n));
    plans.push((n, pair.clone()));
    pair
}

/// A forward and an inverse complex FFT plan of length `n`.
pub(crate) type ComplexFftPair = (Arc<dyn rustfft::Fft<f32>>, Arc<dyn rustfft::Fft<f32>>);

static COMPLEX_PLANS: Mutex<Vec<(usize, ComplexFftPair)>> = Mutex::new(Vec::new());

/// The shared forward and inverse complex FFT plans of length `n` (made by `rustfft::FftPlanner`; see the
/// module docs).
pub(crate) fn complex_fft(n: usize) -> ComplexFftPair {
    // A poisoned lock only means another thread panicked while planning; the list holds finished plans.
    let mut plans = COMPLEX_PLANS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, pair)) = plans.iter().find(|(len, _)| *len == n) {
        return pair.clone();
    }
    let mut planner = rustfft::FftPlanner::<f32>::new();
    let pair: ComplexFftPair = (planner.plan_fft_forward(n), planner.plan_fft_inverse(n));
    plans.push((n, pair.clone()));
    pair
}

/// The shared table `name` with the shape `key` (every number the table depends on), made by `make` the
/// first time it is asked for.
pub(crate) fn table(name: &'static str, key: [usize; 2], make: impl FnOnce() -> Vec<f32>) -> Arc<[f32]> {
    let mut tables = TABLES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, t)) = tables.iter().find(|(k, _)| *k == (name, key)) {
        return t.clone();
    }
    let t: Arc<[f32]> = make().into();
    tables.push(((name, key), t.clone()));
    t
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
