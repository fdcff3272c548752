//! The SRTP/SRTCP replay list (RFC 3711 §3.3.2) as a sliding bitmap.
//!
//! # What
//! [`ReplayWindow`] remembers which packet indices at most `size` below the highest authenticated index
//! were received; [`ReplayWindow::check`] rejects repeats and packets older than the window,
//! [`ReplayWindow::commit`] records an index after its authentication succeeded.
//!
//! # How
//! Bit `k` of the bitmap (word `k / 64`, bit `k % 64`) stands for index `highest − k`. Advancing the
//! highest index by `d` shifts the bitmap by `d` bits. The size is a multiple of 64, at least 64.
//!
//! # Real-time safety
//! The bitmap is allocated at construction; `check`/`commit` do not allocate.

/// Why a packet index was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayVerdict {
    /// The index is new and inside (or ahead of) the window.
    Fresh,
    /// The index was already received.
    Replayed,
    /// The index is older than the window can tell.
    TooOld,
}

/// A sliding replay window.
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    started: bool,
    highest: u64,
    bits: Vec<u64>,
}

impl ReplayWindow {
    /// A window covering `size` indices (rounded up to a multiple of 64, at least 64).
    pub fn new(size: usize) -> Self {
        let words = size.max(64).div_ceil(64);
        Self {
            started: false,
            highest: 0,
            bits: vec![0; words],
        }
    }

    /// Number of indices covered.
    pub fn size(&self) -> u64 {
        self.bits.len() as u64 * 64
    }

    /// Highest committed index, if any.
    pub fn highest(&self) -> Option<u64> {
        self.started.then_some(self.highest)
    }

    /// Classifies `index` without changing the window.
    pub fn check(&self, index: u64) -> ReplayVerdict {
        if !self.started || index > self.highest {
            return ReplayVerdict::Fresh;
        }
        let k = self.highest - index;
        if k >= self.size() {
            return ReplayVerdict::TooOld;
        }
        let k = k as usize;
        if self.bits[k / 64] >> (k % 64) & 1 == 1 {
            ReplayVerdict::Replayed
        } else {
            ReplayVerdict::Fresh
        }
    }

    /// Records `index` as received (call only after `check` said `Fresh` and the packet authenticated).
    pub fn commit(&mut self, index: u64) {
        if !self.started {
            self.started = true;
            self.highest = index;
            self.bits.fill(0);
            self.bits[0] = 1;
            return;
        }
        if index > self.highest {
            self.shift(index - self.highest);
            self.highest = index;
            self.bits[0] |= 1;
        } else {
            let k = self.highest - index;
            if k < self.size() {
                let k = k as usize;
                self.bits[k / 64] |= 1 << (k % 64);
            }
        }
    }

    fn shift(&mut self, d: u64) {
        if d >= self.size() {
            self.bits.fill(0);
            return;
        }
        let ws = (d / 64) as usize;
        let bs = (d % 64) as u32;
        let n = self.bits.len();
        for i in (0..n).rev() {
            let hi = if i >= ws { self.bits[i - ws] } else { 0 };
            let lo = if i > ws { self.bits[i - ws - 1] } else { 0 };
            self.bits[i] = if bs == 0 {
                hi
            } else {
                (hi << bs) | (lo >> (64 - bs))
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_semantics() {
        let mut w = ReplayWindow::new(128);
        assert_eq!(w.check(1000), ReplayVerdict::Fresh);
        w.commit(1000);
        assert_eq!(w.check(1000), ReplayVerdict::Replayed);
        assert_eq!(w.check(999), ReplayVerdict::Fresh);
        w.commit(999);
        w.commit(1070); // shift by 70 crosses a word boundary
        assert_eq!(w.check(1000), ReplayVerdict::Replayed);
        assert_eq!(w.check(999), ReplayVerdict::Replayed);
        assert_eq!(w.check(998), ReplayVerdict::Fresh);
        assert_eq!(w.check(1070 - 128), ReplayVerdict::TooOld);
        assert_eq!(w.check(1070 - 127), ReplayVerdict::Fresh);
        w.commit(5000);
        assert_eq!(w.check(1070), ReplayVerdict::TooOld);
        assert_eq!(w.check(4999), ReplayVerdict::Fresh);
        assert_eq!(ReplayWindow::new(1).size(), 64);
    }

    #[test]
    fn matches_a_set_model() {
        use std::collections::HashSet;
        let mut w = ReplayWindow::new(192);
        let mut seen = HashSet::new();
        let mut x: u64 = 12345;
        let mut top = 500u64;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = x >> 33;
            top += r % 3;
            let idx = top.saturating_sub(r % 250);
            let expect = match w.highest() {
                Some(h) if idx <= h && h - idx >= 192 => ReplayVerdict::TooOld,
                _ if seen.contains(&idx) => ReplayVerdict::Replayed,
                _ => ReplayVerdict::Fresh,
            };
            assert_eq!(w.check(idx), expect, "index {idx}");
            if expect == ReplayVerdict::Fresh {
                w.commit(idx);
                seen.insert(idx);
            }
        }
    }
}
