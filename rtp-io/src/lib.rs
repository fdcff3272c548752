//! # tutti-rtp
//!
//! Sans-IO RTP transport for Tutti: packets and `Instant`s in, packets, frames and events out.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
