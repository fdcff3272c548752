//! # tutti-codecs
//!
//! Audio codecs for Tutti's transport wing: the [`Encoder`]/[`Decoder`] traits and one module per codec.
//!
//! - G.711 µ-law / A-law ([`G711Encoder`], [`G711Decoder`]) bit-exact with ITU-T G.191, with G.711
//!   Appendix I concealment ([`G711Plc`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod codec;
mod error;
mod g711;
mod g711_plc;

pub use codec::{CodecInfo, Decoder, Encoder};
pub use error::CodecError;
pub use g711::{
    alaw_decode, alaw_encode, decode_slice as g711_decode_slice, encode_slice as g711_encode_slice,
    ulaw_decode, ulaw_encode, G711Decoder, G711Encoder, G711Law,
};
pub use g711_plc::G711Plc;
