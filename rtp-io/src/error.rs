//! The error type of the `tutti-rtp` crate.
//!
//! # What
//! [`RtpError`] is the one error enum of the crate: malformed packets, short buffers, authentication and
//! replay failures, capture-file and SDP syntax errors, and I/O errors of the thin drivers.
//!
//! # How
//! Every variant carries only `Copy` data (`&'static str` details, numbers, [`std::io::ErrorKind`]), so
//! building and returning one never allocates and the per-packet path stays real-time safe.
//!
//! # Real-time safety
//! Constructing, copying and displaying into a preallocated sink are allocation-free.

use std::fmt;

/// Everything that can go wrong in RTP/RTCP/SRTP/SDP/pcap handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtpError {
    /// The input ended before a structure was complete.
    Truncated {
        /// Which structure was being read (e.g. `"RTP fixed header"`).
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        actual: usize,
    },
    /// The version field is not 2 (RTP/RTCP) or a file magic is unknown.
    BadVersion {
        /// Which structure.
        what: &'static str,
        /// The value found.
        actual: u32,
    },
    /// A field holds an impossible value.
    Malformed {
        /// Which structure.
        what: &'static str,
        /// What is wrong with it.
        detail: &'static str,
    },
    /// The caller's output buffer is too small.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        actual: usize,
    },
    /// A valid but unsupported feature (link type, crypto suite, …).
    Unsupported {
        /// Which feature.
        what: &'static str,
        /// Its numeric value, when it has one (0 otherwise).
        value: u64,
    },
    /// An SRTP/SRTCP authentication tag did not verify.
    AuthFailed {
        /// `"SRTP"` or `"SRTCP"`.
        what: &'static str,
    },
    /// An SRTP/SRTCP packet index was already seen or is too old for the replay window.
    Replayed {
        /// `"SRTP"` or `"SRTCP"`.
        what: &'static str,
        /// The packet index (48-bit SRTP index or 31-bit SRTCP index).
        index: u64,
    },
    /// A syntax error in a text format (SDP, `a=crypto`).
    Syntax {
        /// Which format/field.
        what: &'static str,
        /// 1-based line number (0 when not line oriented).
        line: usize,
        /// What is wrong.
        detail: &'static str,
    },
    /// An I/O error in a driver (pcap file, UDP socket).
    Io {
        /// What the driver was doing.
        context: &'static str,
        /// The operating system's error kind.
        kind: std::io::ErrorKind,
    },
}

impl RtpError {
    /// Shorthand for [`RtpError::Truncated`].
    pub const fn truncated(what: &'static str, needed: usize, actual: usize) -> Self {
        Self::Truncated { what, needed, actual }
    }

    /// Shorthand for [`RtpError::Malformed`].
    pub const fn malformed(what: &'static str, detail: &'static str) -> Self {
        Self::Malformed { what, detail }
    }

    /// Wraps an [`std::io::Error`] (keeping only its kind, so the error stays `Copy`).
    pub fn io(context: &'static str, e: &std::io::Error) -> Self {
        Self::Io {
            context,
            kind: e.kind(),
        }
    }
}

impl fmt::Display for RtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { what, needed, actual } => {
                write!(f, "{what} truncated: need {needed} bytes, have {actual}")
            }
            Self::BadVersion { what, actual } => write!(f, "{what}: unsupported version/magic {actual:#x}"),
            Self::Malformed { what, detail } => write!(f, "malformed {what}: {detail}"),
            Self::BufferTooSmall { needed, actual } => {
                write!(f, "output buffer too small: need {needed} bytes, have {actual}")
            }
            Self::Unsupported { what, value } => write!(f, "unsupported {what} ({value})"),
            Self::AuthFailed { what } => write!(f, "{what} authentication failed"),
            Self::Replayed { what, index } => write!(f, "{what} replayed or too old (index {index})"),
            Self::Syntax { what, line, detail } => {
                if *line > 0 {
                    write!(f, "{what} syntax error at line {line}: {detail}")
                } else {
                    write!(f, "{what} syntax error: {detail}")
                }
            }
            Self::Io { context, kind } => write!(f, "I/O error while {context}: {kind}"),
        }
    }
}

impl std::error::Error for RtpError {}
