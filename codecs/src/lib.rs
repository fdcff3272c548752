//! # tutti-codecs
//!
//! Audio codecs for Tutti's transport wing: the [`Encoder`]/[`Decoder`] traits and one module per codec.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod codec;
mod error;

pub use codec::{CodecInfo, Decoder, Encoder};
pub use error::CodecError;
