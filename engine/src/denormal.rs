//! Flush-to-zero / denormals-are-zero on entry to the real-time side.
//!
//! # What
//! [`DenormalGuard::new`] switches the current thread's floating-point unit to flush denormal results to
//! zero (FTZ) and treat denormal inputs as zero (DAZ); dropping the guard restores the previous mode.
//! Decaying filter and reverb tails otherwise enter the denormal range, where x86 arithmetic can be ~100×
//! slower (web-audio-api-rs#194, rustortion#251). The mode must be set on *every* entry to the real-time
//! side, not once (PortAudio#427): other code on the thread may change it.
//!
//! # How
//! * x86_64: bits 15 (FTZ) and 6 (DAZ) of MXCSR, read with `stmxcsr` and written with `ldmxcsr`
//!   (Intel SDM vol. 1 §10.2.3).
//! * aarch64: bit 24 (FZ) of FPCR (Arm ARM, FPCR), which flushes both inputs and outputs.
//! * elsewhere: nothing.
//!
//! Changing the floating-point environment is formally outside what Rust's semantics describe
//! (rust-lang/rust#136469); the compiler does not constant-fold across these opaque `asm!` blocks, and
//! the only effect of the mode is on denormal values, which audio code treats as zero anyway.
//!
//! # Real-time safety
//! Two register moves; no allocation, lock or system call.
#![allow(unsafe_code)]

/// Sets FTZ/DAZ for the current thread while alive; restores the previous mode on drop.
#[derive(Debug)]
#[must_use = "the previous mode is restored when the guard is dropped"]
pub struct DenormalGuard {
    #[allow(dead_code)]
    previous: u64,
}

impl DenormalGuard {
    /// Switches the current thread to flush denormals to zero.
    #[inline]
    pub fn new() -> Self {
        let previous = read();
        write(previous | FLAGS);
        Self { previous }
    }
}

impl Default for DenormalGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for DenormalGuard {
    #[inline]
    fn drop(&mut self) {
        write(self.previous);
    }
}

/// Switches the current thread to flush denormals to zero, without restoring (for threads the engine
/// owns, such as scheduler workers).
#[inline]
pub fn enable_flush_to_zero() {
    write(read() | FLAGS);
}

/// True when the current thread flushes denormals to zero (false on platforms without the mode).
pub fn flush_to_zero_enabled() -> bool {
    FLAGS != 0 && read() & FLAGS == FLAGS
}

#[cfg(target_arch = "x86_64")]
const FLAGS: u64 = (1 << 15) | (1 << 6);

#[cfg(target_arch = "x86_64")]
#[inline]
fn read() -> u64 {
    let mut csr: u32 = 0;
    // SAFETY: `stmxcsr` stores the 32-bit MXCSR to the given address, which points at a live, aligned u32
    // local; SSE is part of the x86_64 baseline.
    unsafe { core::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags)) };
    u64::from(csr)
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn write(v: u64) {
    let csr = v as u32;
    // SAFETY: `ldmxcsr` loads MXCSR from a live, aligned u32; the value is one read from MXCSR with only the
    // FTZ/DAZ bits changed, so no reserved bit is set (which would fault) and exception masks stay as
    // they were.
    unsafe { core::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, preserves_flags, readonly)) };
}

#[cfg(target_arch = "aarch64")]
const FLAGS: u64 = 1 << 24;

#[cfg(target_arch = "aarch64")]
#[inline]
fn read() -> u64 {
    let v: u64;
    // SAFETY: reading FPCR has no side effects and is permitted at EL0.
    unsafe { core::arch::asm!("mrs {}, fpcr", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

#[cfg(target_arch = "aarch64")]
#[inline]
fn write(v: u64) {
    // SAFETY: writing FPCR at EL0 is permitted; the value is one read from FPCR with only FZ changed.
    unsafe { core::arch::asm!("msr fpcr, {}", in(reg) v, options(nomem, nostack, preserves_flags)) };
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const FLAGS: u64 = 0;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn read() -> u64 {
    0
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn write(_v: u64) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn guard_flushes_denormals_and_restores() {
        let tiny = std::hint::black_box(f32::MIN_POSITIVE);
        let before = flush_to_zero_enabled();
        assert!(!before, "test threads start without FTZ");
        // Without FTZ, halving the smallest normal gives a denormal.
        assert!(std::hint::black_box(tiny) / std::hint::black_box(2.0) > 0.0);
        {
            let _g = DenormalGuard::new();
            assert!(flush_to_zero_enabled());
            let r = std::hint::black_box(tiny) / std::hint::black_box(2.0);
            assert_eq!(r, 0.0, "FTZ flushes the denormal result");
        }
        assert!(!flush_to_zero_enabled());
    }
}
