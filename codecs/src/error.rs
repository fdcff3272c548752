//! Errors of the codecs crate.

use std::fmt;

/// Everything that can go wrong when building or running a codec.
///
/// Variants carry only `Copy` data so that returning one on the real-time path never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// The caller's output buffer is too small.
    BufferTooSmall {
        /// Bytes or samples needed.
        expected: usize,
        /// Bytes or samples given.
        actual: usize,
    },
    /// The input length is not acceptable (e.g. not a whole frame).
    BadLength {
        /// What was expected (a description).
        expected: &'static str,
        /// Length given.
        actual: usize,
    },
    /// A payload that cannot be decoded.
    Malformed {
        /// What was wrong.
        detail: &'static str,
    },
    /// A configuration the codec does not support (rate, channels, bitrate…).
    Unsupported {
        /// Which setting.
        what: &'static str,
        /// The value asked for.
        actual: i64,
    },
    /// An unknown codec name.
    UnknownCodec,
    /// A malformed Ogg / Ogg Opus file (RFC 3533, RFC 7845).
    Ogg {
        /// What was wrong.
        detail: &'static str,
        /// Byte offset in the file where it was found.
        offset: usize,
    },
    /// An error reported by an underlying library (e.g. libopus), with its code.
    Library {
        /// Which library.
        library: &'static str,
        /// Its error code.
        code: i32,
    },
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall { expected, actual } => {
                write!(f, "buffer too small: need {expected}, got {actual}")
            }
            Self::BadLength { expected, actual } => write!(f, "bad length {actual}: expected {expected}"),
            Self::Malformed { detail } => write!(f, "malformed payload: {detail}"),
            Self::Unsupported { what, actual } => write!(f, "unsupported {what}: {actual}"),
            Self::UnknownCodec => write!(f, "unknown codec"),
            Self::Ogg { detail, offset } => write!(f, "bad Ogg Opus data at byte {offset}: {detail}"),
            Self::Library { library, code } => write!(f, "{library} error {code}"),
        }
    }
}

impl std::error::Error for CodecError {}
