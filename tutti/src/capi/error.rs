//! Errors of the embedding API, their C status codes, the thread-local last-error message and the panic
//! guard every C entry point runs in.
//!
//! # What
//! [`EmbedError`] is the error of the Rust embedding API ([`super::Engine`], the conference wrapper);
//! [`TuttiStatus`] is its C face (`TUTTI_STATUS_*`). A failing C call stores its message in a
//! thread-local buffer that `tutti_last_error()` returns.
//!
//! # How
//! [`guard`] runs a closure under [`std::panic::catch_unwind`]: `Ok` → `TUTTI_STATUS_OK`, an error →
//! its status with the message stored, a panic → `TUTTI_STATUS_PANIC` with the panic message stored, so
//! no unwind ever crosses the C boundary.
//!
//! # Real-time safety
//! The success path allocates nothing; storing an error message allocates (errors are the host's bug or a
//! setup problem, not a steady state).

use std::any::Any;
use std::cell::RefCell;
use std::ffi::c_char;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Everything the embedding API can refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmbedError {
    /// A null pointer where a value was required.
    NullPointer {
        /// The argument's name.
        arg: &'static str,
    },
    /// A string argument that is not UTF-8.
    Utf8 {
        /// The argument's name.
        arg: &'static str,
    },
    /// Another invalid argument (misaligned or overlapping buffers, a size overflow…).
    Argument {
        /// What is wrong.
        detail: String,
    },
    /// A chain spec or graph file that does not parse or build.
    Spec {
        /// What is wrong, quoting the offending part.
        detail: String,
    },
    /// An unsupported sample rate, channel count or block size.
    Config {
        /// What is wrong.
        detail: String,
    },
    /// A buffer that is not a whole number of engine blocks (or frames).
    Frames {
        /// Which buffer.
        what: &'static str,
        /// Its length in samples.
        samples: usize,
        /// Channels it is interleaved with.
        channels: usize,
        /// The engine's block length in frames.
        block_frames: usize,
    },
    /// Far-end frames pushed to an engine without a far-end input.
    NoFarEnd,
    /// A `node.name` whose node (or meter) does not exist.
    UnknownName {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
    /// A parameter that is unknown or out of range.
    Param {
        /// What is wrong.
        detail: String,
    },
    /// An index past the end of a list.
    Index {
        /// The index asked for.
        index: usize,
        /// The length of the list.
        count: usize,
    },
    /// An output buffer too small for the result.
    BufferTooSmall {
        /// Elements needed.
        needed: usize,
        /// Elements offered.
        capacity: usize,
    },
    /// A conference operation failed.
    Conference {
        /// What is wrong.
        detail: String,
    },
    /// A datagram was not accepted; it was counted in the leg's statistics and dropped.
    Dropped {
        /// Why.
        reason: &'static str,
    },
    /// No such leg (never added, or removed).
    NoSuchLeg {
        /// The leg id asked for.
        leg: u64,
    },
    /// The handle was used after a call on it panicked; only freeing it is allowed.
    Poisoned,
    /// A panic inside the library, caught at the C boundary.
    Panic {
        /// The panic message.
        message: String,
    },
}

impl fmt::Display for EmbedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NullPointer { arg } => write!(f, "{arg}: null pointer"),
            Self::Utf8 { arg } => write!(f, "{arg}: not valid UTF-8"),
            Self::Argument { detail } | Self::Spec { detail } | Self::Config { detail } => {
                f.write_str(detail)
            }
            Self::Frames {
                what,
                samples,
                channels,
                block_frames,
            } => write!(
                f,
                "{what}: {samples} samples is not a whole number of {block_frames}-frame blocks of \
                 {channels} channel(s)"
            ),
            Self::NoFarEnd => {
                f.write_str("far-end frames pushed, but no node of the engine takes a far-end input")
            }
            Self::UnknownName { name, known } => {
                write!(f, "'{name}': unknown name (known: {})", known.join(", "))
            }
            Self::Param { detail } => write!(f, "parameter: {detail}"),
            Self::Index { index, count } => write!(f, "index {index} out of range (count {count})"),
            Self::BufferTooSmall { needed, capacity } => {
                write!(f, "buffer too small: {needed} needed, {capacity} given")
            }
            Self::Conference { detail } => write!(f, "conference: {detail}"),
            Self::Dropped { reason } => write!(f, "datagram dropped: {reason}"),
            Self::NoSuchLeg { leg } => write!(f, "no such leg: {leg:#x}"),
            Self::Poisoned => f.write_str("handle unusable after an earlier internal panic; free it"),
            Self::Panic { message } => write!(f, "internal panic: {message}"),
        }
    }
}

impl std::error::Error for EmbedError {}

/// Result of every fallible C function (`TUTTI_STATUS_OK` is 0).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TuttiStatus {
    /// Success.
    Ok = 0,
    /// A required pointer argument was null.
    NullPointer = 1,
    /// A string argument was not UTF-8.
    InvalidUtf8 = 2,
    /// Another invalid argument (misaligned or overlapping buffers, size overflow).
    InvalidArgument = 3,
    /// The chain spec or graph file is invalid.
    InvalidSpec = 4,
    /// Unsupported sample rate, channel count or block size.
    UnsupportedConfig = 5,
    /// A buffer was not a whole number of blocks.
    BadFrameCount = 6,
    /// Far-end frames were pushed to an engine without a far-end input.
    NoFarEnd = 7,
    /// Unknown node, meter or leg name.
    UnknownName = 8,
    /// Unknown parameter or value out of range.
    BadParam = 9,
    /// Index out of range.
    IndexOutOfRange = 10,
    /// The output buffer is too small.
    BufferTooSmall = 11,
    /// A conference operation failed.
    Conference = 12,
    /// The handle is unusable after an internal panic (free it).
    Poisoned = 13,
    /// An internal panic was caught.
    Panic = 14,
    /// A datagram was malformed or not accepted (counted in the leg's statistics and dropped).
    Dropped = 15,
    /// No such conference leg.
    NoSuchLeg = 16,
}

impl EmbedError {
    /// The C status code of this error.
    pub fn status(&self) -> TuttiStatus {
        match self {
            Self::NullPointer { .. } => TuttiStatus::NullPointer,
            Self::Utf8 { .. } => TuttiStatus::InvalidUtf8,
            Self::Argument { .. } => TuttiStatus::InvalidArgument,
            Self::Spec { .. } => TuttiStatus::InvalidSpec,
            Self::Config { .. } => TuttiStatus::UnsupportedConfig,
            Self::Frames { .. } => TuttiStatus::BadFrameCount,
            Self::NoFarEnd => TuttiStatus::NoFarEnd,
            Self::UnknownName { .. } => TuttiStatus::UnknownName,
            Self::Param { .. } => TuttiStatus::BadParam,
            Self::Index { .. } => TuttiStatus::IndexOutOfRange,
            Self::BufferTooSmall { .. } => TuttiStatus::BufferTooSmall,
            Self::Conference { .. } => TuttiStatus::Conference,
            Self::Poisoned => TuttiStatus::Poisoned,
            Self::Panic { .. } => TuttiStatus::Panic,
            Self::Dropped { .. } => TuttiStatus::Dropped,
            Self::NoSuchLeg { .. } => TuttiStatus::NoSuchLeg,
        }
    }
}

impl TuttiStatus {
    /// Every status, in code order.
    pub const ALL: [TuttiStatus; 17] = [
        Self::Ok,
        Self::NullPointer,
        Self::InvalidUtf8,
        Self::InvalidArgument,
        Self::InvalidSpec,
        Self::UnsupportedConfig,
        Self::BadFrameCount,
        Self::NoFarEnd,
        Self::UnknownName,
        Self::BadParam,
        Self::IndexOutOfRange,
        Self::BufferTooSmall,
        Self::Conference,
        Self::Poisoned,
        Self::Panic,
        Self::Dropped,
        Self::NoSuchLeg,
    ];

    /// The status with code `code`, if any.
    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| *s as i32 == code)
    }

    /// The status's name as a NUL-terminated static string (`"TUTTI_STATUS_OK"`, …).
    pub fn name(self) -> &'static std::ffi::CStr {
        match self {
            Self::Ok => c"TUTTI_STATUS_OK",
            Self::NullPointer => c"TUTTI_STATUS_NULL_POINTER",
            Self::InvalidUtf8 => c"TUTTI_STATUS_INVALID_UTF8",
            Self::InvalidArgument => c"TUTTI_STATUS_INVALID_ARGUMENT",
            Self::InvalidSpec => c"TUTTI_STATUS_INVALID_SPEC",
            Self::UnsupportedConfig => c"TUTTI_STATUS_UNSUPPORTED_CONFIG",
            Self::BadFrameCount => c"TUTTI_STATUS_BAD_FRAME_COUNT",
            Self::NoFarEnd => c"TUTTI_STATUS_NO_FAR_END",
            Self::UnknownName => c"TUTTI_STATUS_UNKNOWN_NAME",
            Self::BadParam => c"TUTTI_STATUS_BAD_PARAM",
            Self::IndexOutOfRange => c"TUTTI_STATUS_INDEX_OUT_OF_RANGE",
            Self::BufferTooSmall => c"TUTTI_STATUS_BUFFER_TOO_SMALL",
            Self::Conference => c"TUTTI_STATUS_CONFERENCE",
            Self::Poisoned => c"TUTTI_STATUS_POISONED",
            Self::Panic => c"TUTTI_STATUS_PANIC",
            Self::Dropped => c"TUTTI_STATUS_DROPPED",
            Self::NoSuchLeg => c"TUTTI_STATUS_NO_SUCH_LEG",
        }
    }
}

thread_local! {
    /// The last error message, NUL-terminated, in a buffer whose capacity is kept between errors.
    static LAST_ERROR: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Bytes kept for error messages, so that short messages (e.g. a dropped datagram's) are stored without
/// allocating once the buffer exists.
const MESSAGE_CAPACITY: usize = 512;

/// Stores `msg` as this thread's last error (interior NULs become spaces). Allocates only the first time
/// on a thread, or for a message longer than 512 bytes.
pub(crate) fn set_last_error(msg: &dyn fmt::Display) {
    use std::io::Write;
    // `try_with`: nothing to store into while the thread is being torn down.
    let _ = LAST_ERROR.try_with(|e| {
        let mut buf = e.borrow_mut();
        buf.clear();
        buf.reserve(MESSAGE_CAPACITY);
        let _ = write!(buf, "{msg}");
        for b in buf.iter_mut().filter(|b| **b == 0) {
            *b = b' ';
        }
        buf.push(0);
    });
}

/// Pointer to this thread's last error message (valid until the next failing call on this thread).
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|e| {
            let buf = e.borrow();
            if buf.is_empty() {
                c"".as_ptr()
            } else {
                buf.as_ptr().cast()
            }
        })
        .unwrap_or(c"".as_ptr())
}

/// The message of a caught panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_string())
}

/// Runs `f`, turning its error or panic into a status and the thread's last error.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), EmbedError>) -> TuttiStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => TuttiStatus::Ok,
        Ok(Err(e)) => {
            set_last_error(&e);
            e.status()
        }
        Err(payload) => {
            let e = EmbedError::Panic {
                message: panic_message(payload.as_ref()),
            };
            set_last_error(&e);
            e.status()
        }
    }
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use super::*;

    fn last() -> String {
        // SAFETY: `last_error_ptr` points at this thread's NUL-terminated message, alive until the next
        // failing call on this thread; it is copied at once.
        unsafe { std::ffi::CStr::from_ptr(last_error_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn panics_become_a_status_and_a_message() {
        assert_eq!(guard(|| Ok(())), TuttiStatus::Ok);
        assert_eq!(guard(|| Err(EmbedError::NoFarEnd)), TuttiStatus::NoFarEnd);
        assert!(last().contains("far-end"));
        let s = guard(|| {
            let v: Vec<u8> = Vec::new();
            let i = std::hint::black_box(3);
            let _ = v[i];
            Ok(())
        });
        assert_eq!(s, TuttiStatus::Panic);
        assert!(
            last().contains("internal panic") && last().contains("index out of bounds"),
            "{}",
            last()
        );
        assert_eq!(guard(|| panic!("boom {}", 7)), TuttiStatus::Panic);
        assert!(last().contains("boom 7"));
        set_last_error(&"a\0b");
        assert_eq!(last(), "a b");
        assert_eq!(TuttiStatus::Panic.name().to_str().unwrap(), "TUTTI_STATUS_PANIC");
        for (i, s) in TuttiStatus::ALL.iter().enumerate() {
            assert_eq!(TuttiStatus::from_code(i as i32), Some(*s));
        }
        assert_eq!(TuttiStatus::from_code(17), None);
        assert_eq!(TuttiStatus::from_code(-1), None);
    }
}
