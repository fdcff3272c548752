//! Operating-system services of the scheduler: a monotonic clock, absolute-time sleeps, real-time priority.
//!
//! # What
//! [`now_ns`] reads the monotonic clock; [`sleep_until_ns`] sleeps until an absolute time on that clock, so
//! that periodic wake-ups do not drift by the time spent working (POSIX `clock_nanosleep` with
//! `TIMER_ABSTIME`); [`set_realtime_priority`] asks for `SCHED_FIFO` (POSIX `sched_setscheduler`).
//!
//! # How
//! On Linux these are direct `libc` calls on `CLOCK_MONOTONIC`; elsewhere the clock is `Instant` since
//! first use and sleeping is `thread::sleep` for the remaining time, and priority is not changed.
//!
//! # Real-time safety
//! `now_ns` is a vDSO read on Linux (no system call). Sleeping and changing priority are system calls;
//! the scheduler only makes them between ticks, never inside one.
#![allow(unsafe_code)]

/// Nanoseconds on the monotonic clock.
#[cfg(target_os = "linux")]
pub(crate) fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux, so the call
    // cannot fail and only writes `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sleeps until `t` (nanoseconds on the clock of [`now_ns`]); returns at once when `t` has passed.
#[cfg(target_os = "linux")]
pub(crate) fn sleep_until_ns(t: u64) {
    let ts = libc::timespec {
        tv_sec: (t / 1_000_000_000) as libc::time_t,
        tv_nsec: (t % 1_000_000_000) as _,
    };
    loop {
        // SAFETY: `ts` is a valid timespec and the remainder pointer may be null with TIMER_ABSTIME.
        let r = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        // Interrupted by a signal: sleep again towards the same absolute time.
        if r != libc::EINTR {
            break;
        }
    }
}

/// Switches the calling thread to `SCHED_FIFO` at `priority`; the error says why not.
#[cfg(target_os = "linux")]
pub(crate) fn set_realtime_priority(priority: i32) -> Result<(), String> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: `param` is a valid sched_param; pid 0 means the calling thread.
    let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error().to_string())
    }
}

/// CPU time consumed by the calling thread, when the platform reports it.
///
/// Useful to measure processing cost on a loaded machine, where wall-clock time also counts the time
/// other processes ran.
#[cfg(target_os = "linux")]
pub fn thread_cpu_time() -> Option<std::time::Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (r == 0).then(|| std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// CPU time consumed by the calling thread (not available on this platform).
#[cfg(not(target_os = "linux"))]
pub fn thread_cpu_time() -> Option<std::time::Duration> {
    None
}

#[cfg(not(target_os = "linux"))]
fn base() -> std::time::Instant {
    static BASE: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *BASE.get_or_init(std::time::Instant::now)
}

/// Nanoseconds on the monotonic clock.
#[cfg(not(target_os = "linux"))]
pub(crate) fn now_ns() -> u64 {
    base().elapsed().as_nanos() as u64
}

/// Sleeps until `t` (nanoseconds on the clock of [`now_ns`]).
#[cfg(not(target_os = "linux"))]
pub(crate) fn sleep_until_ns(t: u64) {
    let now = now_ns();
    if t > now {
        std::thread::sleep(std::time::Duration::from_nanos(t - now));
    }
}

/// Real-time priority is only implemented on Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn set_realtime_priority(_priority: i32) -> Result<(), String> {
    Err("SCHED_FIFO is not supported on this platform".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_monotonic_and_sleep_reaches_its_target() {
        let a = now_ns();
        let target = a + 2_000_000;
        sleep_until_ns(target);
        let b = now_ns();
        assert!(b >= target, "woke {} ns early", target - b);
        sleep_until_ns(a); // in the past: returns at once
        assert!(now_ns() >= b);
    }
}
