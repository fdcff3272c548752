//! What every C entry point shares: opaque handles (create, run a call on one, free), pointer and string
//! arguments, and the datagram buffers of the sans-IO conference and translator.
//!
//! # What
//! [`Handle`] is an opaque C handle that a panic poisons; [`with_handle`] runs one call on it, [`create`]
//! hands a new one out through a `T **out` and [`free`] takes one back. [`opt_str`] / [`c_str`] read C
//! strings, [`check_ptr`] / [`out_ok`] check pointers, [`datagram`] and [`mtu_buffer`] borrow the byte
//! buffers of `*_receive` and `*_poll_transmit`.
//!
//! # How
//! Every call runs inside [`guard`] (an error or a panic becomes a [`TuttiStatus`] and the thread's last
//! error); a call on a handle also runs its closure under its own `catch_unwind`, so that a panic marks
//! that handle poisoned and every later call on it returns `TUTTI_STATUS_POISONED`. Pointers are checked
//! for null, alignment and a byte size that fits `isize` before they are dereferenced.
//!
//! # Real-time safety
//! The success paths allocate nothing, take no lock and make no system call; errors allocate their
//! message, creating allocates the handle.
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::error::{guard, panic_message, EmbedError, TuttiStatus};
use crate::conference::MTU;

/// An opaque C handle that a panic inside a call on it poisons.
pub(crate) trait Handle {
    /// The name of the handle argument in error messages (`"engine"`, `"conference"`, …).
    const ARG: &'static str;
    /// The poisoned flag.
    fn poisoned(&mut self) -> &mut bool;
}

/// Runs `f` on the handle behind `p`: a null `p` is `TUTTI_STATUS_NULL_POINTER`, a poisoned handle
/// `TUTTI_STATUS_POISONED`, and a panic in `f` poisons the handle and returns `TUTTI_STATUS_PANIC`.
///
/// # Safety
/// `p` is null or a live handle from [`create`], not used by another thread during the call.
pub(crate) unsafe fn with_handle<H: Handle>(
    p: *mut H,
    f: impl FnOnce(&mut H) -> Result<(), EmbedError>,
) -> TuttiStatus {
    guard(|| {
        // SAFETY: null or a live, exclusively used handle by the caller's contract.
        let h = unsafe { p.as_mut() }.ok_or(EmbedError::NullPointer { arg: H::ARG })?;
        if *h.poisoned() {
            return Err(EmbedError::Poisoned);
        }
        match catch_unwind(AssertUnwindSafe(|| f(&mut *h))) {
            Ok(r) => r,
            Err(p) => {
                *h.poisoned() = true;
                Err(EmbedError::Panic {
                    message: panic_message(p.as_ref()),
                })
            }
        }
    })
}

/// Creates a handle with `build` and writes it to `*out` (NULL there when anything fails).
///
/// `out` is checked (null, alignment) and cleared before `build` runs.
pub(crate) fn create<H>(out: *mut *mut H, build: impl FnOnce() -> Result<H, EmbedError>) -> TuttiStatus {
    guard(|| {
        out_ok(out, "out")?;
        // SAFETY: checked non-null and aligned; by the caller's contract writable storage for a pointer.
        // It is cleared first so that a failure leaves NULL there.
        unsafe { out.write(std::ptr::null_mut()) };
        let h = Box::new(build()?);
        // SAFETY: as above.
        unsafe { out.write(Box::into_raw(h)) };
        Ok(())
    })
}

/// Frees a handle from [`create`] (NULL is ignored). Dropping may run destructors of user-supplied
/// processing nodes; a panic there must not unwind into C.
///
/// # Safety
/// `p` is NULL or a handle from [`create`] that is not used afterwards.
pub(crate) unsafe fn free<H>(p: *mut H) {
    if p.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: from `Box::into_raw` in `create`, given back exactly once by the caller.
        drop(unsafe { Box::from_raw(p) });
    }));
}

/// Reads an optional C string.
///
/// # Safety
/// `p` is null or a NUL-terminated string alive for `'a`.
pub(crate) unsafe fn opt_str<'a>(p: *const c_char, arg: &'static str) -> Result<Option<&'a str>, EmbedError> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null and NUL-terminated by the caller's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map(Some)
        .map_err(|_| EmbedError::Utf8 { arg })
}

/// Reads a required C string argument.
///
/// # Safety
/// `p` is null or points at a NUL-terminated string that stays valid for `'a`.
pub(crate) unsafe fn c_str<'a>(p: *const c_char, arg: &'static str) -> Result<&'a str, EmbedError> {
    // SAFETY: forwarded from the caller's contract.
    unsafe { opt_str(p, arg) }?.ok_or(EmbedError::NullPointer { arg })
}

/// Checks a pointer to `len` elements of `T`: non-null, aligned, and at most `isize::MAX` bytes.
pub(crate) fn check_ptr<T>(p: *const T, len: usize, arg: &'static str) -> Result<(), EmbedError> {
    if p.is_null() {
        return Err(EmbedError::NullPointer { arg });
    }
    if !p.is_aligned() {
        return Err(EmbedError::Argument {
            detail: format!("{arg}: misaligned pointer"),
        });
    }
    if len
        .checked_mul(std::mem::size_of::<T>())
        .map_or(true, |b| b > isize::MAX as usize)
    {
        return Err(EmbedError::Argument {
            detail: format!("{arg}: {len} elements is too large"),
        });
    }
    Ok(())
}

/// Checks an out-pointer (or an in-pointer, cast) for one `T`.
pub(crate) fn out_ok<T>(p: *mut T, arg: &'static str) -> Result<(), EmbedError> {
    check_ptr(p.cast_const(), 1, arg)
}

/// Checks `out` and writes `v` to it.
///
/// # Safety
/// `out` is null or points at storage for one `T` writable during the call.
pub(crate) unsafe fn write_out<T>(out: *mut T, arg: &'static str, v: T) -> Result<(), EmbedError> {
    out_ok(out, arg)?;
    // SAFETY: checked non-null and aligned; writable by the caller's contract.
    unsafe { out.write(v) };
    Ok(())
}

/// The datagram of a `*_receive` call (`data`, `len` bytes).
///
/// # Safety
/// `data` is null or points at `len` bytes readable for `'a`.
pub(crate) unsafe fn datagram<'a>(data: *const u8, len: usize) -> Result<&'a [u8], EmbedError> {
    if data.is_null() {
        return Err(EmbedError::NullPointer { arg: "data" });
    }
    if len > isize::MAX as usize {
        return Err(EmbedError::Argument {
            detail: "len: too large".into(),
        });
    }
    // SAFETY: non-null (u8 needs no alignment); `len` readable bytes by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// The first [`MTU`] bytes of the output buffer of a `*_poll_transmit` call (`capacity` must be at
/// least the MTU).
///
/// # Safety
/// `out` is null or points at `capacity` bytes writable for `'a` and used by nobody else meanwhile.
pub(crate) unsafe fn mtu_buffer<'a>(out: *mut u8, capacity: usize) -> Result<&'a mut [u8], EmbedError> {
    if out.is_null() {
        return Err(EmbedError::NullPointer { arg: "out" });
    }
    if capacity < MTU {
        return Err(EmbedError::BufferTooSmall {
            needed: MTU,
            capacity,
        });
    }
    // SAFETY: non-null; `capacity` (≥ MTU) writable bytes by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(out, MTU) })
}

/// A payload type argument: -1 (any negative) for none, else 0..=127.
pub(crate) fn payload_type(v: i32, arg: &str) -> Result<Option<u8>, EmbedError> {
    if v < 0 {
        return Ok(None);
    }
    u8::try_from(v)
        .ok()
        .filter(|p| *p < 128)
        .map(Some)
        .ok_or_else(|| EmbedError::Argument {
            detail: format!("{arg} {v}: use 0..=127 or -1"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dummy {
        poisoned: bool,
        calls: u32,
    }

    impl Handle for Dummy {
        const ARG: &'static str = "dummy";
        fn poisoned(&mut self) -> &mut bool {
            &mut self.poisoned
        }
    }

    #[test]
    fn handles_are_created_checked_poisoned_and_freed() {
        let mut h = std::ptr::null_mut::<Dummy>();
        assert_eq!(
            create(&mut h, || Err(EmbedError::NoFarEnd)),
            TuttiStatus::NoFarEnd
        );
        assert!(h.is_null());
        assert_eq!(
            create::<Dummy>(std::ptr::null_mut(), || unreachable!()),
            TuttiStatus::NullPointer
        );
        let made = create(&mut h, || {
            Ok(Dummy {
                poisoned: false,
                calls: 0,
            })
        });
        assert_eq!(made, TuttiStatus::Ok);
        assert!(!h.is_null());
        // SAFETY: `h` is live and used by this thread only until it is freed.
        unsafe {
            let count = |d: &mut Dummy| {
                d.calls += 1;
                Ok(())
            };
            assert_eq!(with_handle(h, count), TuttiStatus::Ok);
            assert_eq!((*h).calls, 1);
            assert_eq!(
                with_handle(std::ptr::null_mut::<Dummy>(), count),
                TuttiStatus::NullPointer
            );
            assert_eq!(with_handle(h, |_| panic!("injected")), TuttiStatus::Panic);
            assert_eq!(with_handle(h, count), TuttiStatus::Poisoned);
            assert_eq!((*h).calls, 1);
            free(h);
            free(std::ptr::null_mut::<Dummy>());
        }
    }

    #[test]
    fn arguments_are_checked() {
        // SAFETY: null pointers and a live NUL-terminated string.
        unsafe {
            assert_eq!(opt_str(std::ptr::null(), "s"), Ok(None));
            assert_eq!(
                c_str(std::ptr::null(), "s"),
                Err(EmbedError::NullPointer { arg: "s" })
            );
            assert_eq!(c_str(c"pcmu".as_ptr(), "s"), Ok("pcmu"));
            assert_eq!(c_str(c"\xff".as_ptr(), "s"), Err(EmbedError::Utf8 { arg: "s" }));
            assert_eq!(
                datagram(std::ptr::null(), 0),
                Err(EmbedError::NullPointer { arg: "data" })
            );
            let mut small = [0u8; 10];
            assert_eq!(
                mtu_buffer(small.as_mut_ptr(), small.len()),
                Err(EmbedError::BufferTooSmall {
                    needed: MTU,
                    capacity: 10
                })
            );
        }
        let words = [0u32; 2];
        let odd = words.as_ptr().cast::<u8>().wrapping_add(1).cast::<u32>();
        assert!(matches!(check_ptr(odd, 1, "p"), Err(EmbedError::Argument { .. })));
        assert!(matches!(
            check_ptr(words.as_ptr(), usize::MAX, "p"),
            Err(EmbedError::Argument { .. })
        ));
        assert_eq!(check_ptr(words.as_ptr(), 2, "p"), Ok(()));
        assert_eq!(payload_type(-1, "pt"), Ok(None));
        assert_eq!(payload_type(127, "pt"), Ok(Some(127)));
        assert!(matches!(
            payload_type(128, "pt"),
            Err(EmbedError::Argument { .. })
        ));
    }
}
