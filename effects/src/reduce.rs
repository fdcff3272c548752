//! Vectorisable sums for the per-block energies and spectrum totals of the nodes.
//!
//! # What
//! [`sum`]: `Σ x[i]`; [`dot`]: `Σ a[i]·b[i]` (an energy with `a = b`).
//!
//! # How
//! Eight interleaved partial sums, added at the end: a plain `iter().sum()` must keep the sequential
//! order of the additions, so it stays scalar and waits on the latency of every addition. The result
//! differs from the sequential sum by float rounding only.
//!
//! # Real-time safety
//! Arithmetic on the given slices only.

/// `Σ x[i]` in eight partial sums.
#[inline]
pub(crate) fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    let tail: f32 = chunks.remainder().iter().sum();
    acc.iter().sum::<f32>() + tail
}

/// `Σ a[i]·b[i]` over the common length, in eight partial sums.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_adds_every_element() {
        let xs: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
        assert_eq!(sum(&xs), 333.0);
        assert_eq!(sum(&xs[..5]), 5.0);
        assert_eq!(sum(&[]), 0.0);
    }

    #[test]
    fn sum_and_dot_equal_the_sequential_sums() {
        for n in [0usize, 1, 7, 8, 9, 160, 1023] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 13 % 17) as f32 - 8.0) / 8.0).collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
            let got = dot(&a, &b);
            assert!(
                (f64::from(got) - want).abs() <= 1e-5 * (1.0 + want.abs()),
                "n {n}: {got} vs {want}"
            );
            let want: f64 = a.iter().map(|&x| f64::from(x)).sum();
            let got = sum(&a);
            assert!(
                (f64::from(got) - want).abs() <= 1e-5 * (1.0 + want.abs()),
                "sum n {n}: {got} vs {want}"
            );
        }
    }
}
