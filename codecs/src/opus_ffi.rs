//! The only `unsafe` in this crate: bindings to the system libopus and owning handles around them.
//!
//! # What
//! `extern "C"` declarations of the libopus 1.x API we use (`opus.h`, `opus_defines.h`) and two owning
//! handle types, [`RawEncoder`] and [`RawDecoder`], whose methods are safe: they check every length
//! before passing pointers to C and free the state on drop.
//!
//! # How
//! Linked against the library found by pkg-config in `build.rs`. The `*_ctl` functions are variadic in
//! C; every request we issue takes exactly one `opus_int32` (setters) or one `opus_int32 *` (getters),
//! or none (`OPUS_RESET_STATE`), which is what the variadic declarations below pass.
//!
//! # Real-time safety
//! `opus_encode`, `opus_decode` and the `*_ctl` calls use only the state allocated at creation and
//! the stack (libopus never calls `malloc` after `*_create`); creation and drop allocate/free.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_uchar};
use std::ptr::NonNull;

use crate::CodecError;

#[repr(C)]
pub(crate) struct OpusEncoderC {
    _private: [u8; 0],
}

#[repr(C)]
pub(crate) struct OpusDecoderC {
    _private: [u8; 0],
}

pub(crate) const OPUS_OK: c_int = 0;
pub(crate) const OPUS_APPLICATION_VOIP: c_int = 2048;
pub(crate) const OPUS_APPLICATION_AUDIO: c_int = 2049;
pub(crate) const OPUS_APPLICATION_RESTRICTED_LOWDELAY: c_int = 2051;
pub(crate) const OPUS_AUTO: c_int = -1000;
pub(crate) const OPUS_SET_BITRATE_REQUEST: c_int = 4002;
pub(crate) const OPUS_GET_BITRATE_REQUEST: c_int = 4003;
pub(crate) const OPUS_SET_VBR_REQUEST: c_int = 4006;
pub(crate) const OPUS_SET_COMPLEXITY_REQUEST: c_int = 4010;
pub(crate) const OPUS_SET_INBAND_FEC_REQUEST: c_int = 4012;
pub(crate) const OPUS_SET_PACKET_LOSS_PERC_REQUEST: c_int = 4014;
pub(crate) const OPUS_SET_DTX_REQUEST: c_int = 4016;
pub(crate) const OPUS_SET_SIGNAL_REQUEST: c_int = 4024;
pub(crate) const OPUS_GET_LOOKAHEAD_REQUEST: c_int = 4027;
pub(crate) const OPUS_RESET_STATE: c_int = 4028;
pub(crate) const OPUS_GET_IN_DTX_REQUEST: c_int = 4049;

#[link(name = "opus")]
extern "C" {
    fn opus_encoder_create(
        fs: i32,
        channels: c_int,
        application: c_int,
        error: *mut c_int,
    ) -> *mut OpusEncoderC;
    fn opus_encoder_destroy(st: *mut OpusEncoderC);
    fn opus_encode(
        st: *mut OpusEncoderC,
        pcm: *const i16,
        frame_size: c_int,
        data: *mut c_uchar,
        max_data_bytes: i32,
    ) -> i32;
    fn opus_encoder_ctl(st: *mut OpusEncoderC, request: c_int, ...) -> c_int;
    fn opus_decoder_create(fs: i32, channels: c_int, error: *mut c_int) -> *mut OpusDecoderC;
    fn opus_decoder_destroy(st: *mut OpusDecoderC);
    fn opus_decode(
        st: *mut OpusDecoderC,
        data: *const c_uchar,
        len: i32,
        pcm: *mut i16,
        frame_size: c_int,
        decode_fec: c_int,
    ) -> c_int;
    fn opus_decoder_ctl(st: *mut OpusDecoderC, request: c_int, ...) -> c_int;
    fn opus_packet_get_nb_samples(packet: *const c_uchar, len: i32, fs: i32) -> c_int;
    fn opus_packet_get_nb_channels(packet: *const c_uchar) -> c_int;
    fn opus_get_version_string() -> *const std::ffi::c_char;
}

fn lib_err(code: c_int) -> CodecError {
    CodecError::Library {
        library: "libopus",
        code,
    }
}

/// An owned libopus encoder.
pub(crate) struct RawEncoder {
    ptr: NonNull<OpusEncoderC>,
    channels: usize,
}

// SAFETY: an OpusEncoder is a plain heap block without thread affinity; `&mut self` methods serialise
// all access, so moving it to another thread is sound.
unsafe impl Send for RawEncoder {}

impl RawEncoder {
    pub(crate) fn new(rate: u32, channels: usize, application: c_int) -> Result<Self, CodecError> {
        let mut err: c_int = 0;
        // SAFETY: plain values and a valid pointer to `err`; libopus validates rate/channels/application.
        let p = unsafe { opus_encoder_create(rate as i32, channels as c_int, application, &mut err) };
        match NonNull::new(p) {
            Some(ptr) if err == OPUS_OK => Ok(Self { ptr, channels }),
            _ => Err(lib_err(err)),
        }
    }

    /// A setter request taking one `opus_int32`.
    pub(crate) fn set(&mut self, request: c_int, value: i32) -> Result<(), CodecError> {
        // SAFETY: `ptr` is a live encoder; every setter request we use reads exactly one opus_int32.
        let r = unsafe { opus_encoder_ctl(self.ptr.as_ptr(), request, value) };
        if r == OPUS_OK {
            Ok(())
        } else {
            Err(lib_err(r))
        }
    }

    /// A getter request writing one `opus_int32`.
    pub(crate) fn get(&mut self, request: c_int) -> Result<i32, CodecError> {
        let mut v: i32 = 0;
        // SAFETY: `ptr` is live; getter requests write exactly one opus_int32 through the pointer.
        let r = unsafe { opus_encoder_ctl(self.ptr.as_ptr(), request, &mut v as *mut i32) };
        if r == OPUS_OK {
            Ok(v)
        } else {
            Err(lib_err(r))
        }
    }

    pub(crate) fn reset(&mut self) {
        // SAFETY: `ptr` is live; OPUS_RESET_STATE takes no argument.
        unsafe { opus_encoder_ctl(self.ptr.as_ptr(), OPUS_RESET_STATE) };
    }

    /// Encodes interleaved `pcm` (`pcm.len() / channels` samples per channel, a valid Opus frame size).
    pub(crate) fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        let frame = pcm.len() / self.channels;
        debug_assert_eq!(frame * self.channels, pcm.len());
        let max = out.len().min(i32::MAX as usize) as i32;
        // SAFETY: `pcm` holds `frame * channels` samples and `out` holds at least `max` bytes; libopus
        // reads/writes only within those bounds.
        let r = unsafe {
            opus_encode(
                self.ptr.as_ptr(),
                pcm.as_ptr(),
                frame as c_int,
                out.as_mut_ptr(),
                max,
            )
        };
        if r < 0 {
            Err(lib_err(r))
        } else {
            Ok(r as usize)
        }
    }
}

impl Drop for RawEncoder {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from opus_encoder_create and is destroyed exactly once.
        unsafe { opus_encoder_destroy(self.ptr.as_ptr()) }
    }
}

/// An owned libopus decoder.
pub(crate) struct RawDecoder {
    ptr: NonNull<OpusDecoderC>,
    channels: usize,
}

// SAFETY: as for `RawEncoder`.
unsafe impl Send for RawDecoder {}

impl RawDecoder {
    pub(crate) fn new(rate: u32, channels: usize) -> Result<Self, CodecError> {
        let mut err: c_int = 0;
        // SAFETY: plain values and a valid pointer to `err`.
        let p = unsafe { opus_decoder_create(rate as i32, channels as c_int, &mut err) };
        match NonNull::new(p) {
            Some(ptr) if err == OPUS_OK => Ok(Self { ptr, channels }),
            _ => Err(lib_err(err)),
        }
    }

    pub(crate) fn reset(&mut self) {
        // SAFETY: `ptr` is live; OPUS_RESET_STATE takes no argument.
        unsafe { opus_decoder_ctl(self.ptr.as_ptr(), OPUS_RESET_STATE) };
    }

    /// Decodes `packet` (`None` = packet lost, PLC) into `out`; `fec` decodes the in-band FEC of
    /// `packet` for the lost frame before it. Returns samples per channel.
    pub(crate) fn decode(
        &mut self,
        packet: Option<&[u8]>,
        out: &mut [i16],
        fec: bool,
    ) -> Result<usize, CodecError> {
        let frame = out.len() / self.channels;
        let (data, len) = match packet {
            Some(p) => (p.as_ptr(), p.len().min(i32::MAX as usize) as i32),
            None => (std::ptr::null(), 0),
        };
        // SAFETY: `data` is null (PLC) or points to `len` readable bytes; `out` holds
        // `frame * channels` samples, which bounds what libopus writes.
        let r = unsafe {
            opus_decode(
                self.ptr.as_ptr(),
                data,
                len,
                out.as_mut_ptr(),
                frame as c_int,
                c_int::from(fec),
            )
        };
        if r < 0 {
            Err(lib_err(r))
        } else {
            Ok(r as usize)
        }
    }
}

impl Drop for RawDecoder {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from opus_decoder_create and is destroyed exactly once.
        unsafe { opus_decoder_destroy(self.ptr.as_ptr()) }
    }
}

/// Samples per channel at `rate` that `packet` decodes to (RFC 6716 §3 TOC parsing by libopus).
pub(crate) fn packet_samples(packet: &[u8], rate: u32) -> Result<usize, CodecError> {
    if packet.is_empty() {
        return Err(CodecError::Malformed {
            detail: "empty Opus packet",
        });
    }
    // SAFETY: `packet` is non-empty and `len` is its length; libopus reads only within it.
    let r = unsafe {
        opus_packet_get_nb_samples(
            packet.as_ptr(),
            packet.len().min(i32::MAX as usize) as i32,
            rate as i32,
        )
    };
    if r < 0 {
        Err(CodecError::Malformed {
            detail: "invalid Opus packet (TOC / frame count)",
        })
    } else {
        Ok(r as usize)
    }
}

/// Channels coded in `packet` (from its TOC byte).
pub(crate) fn packet_channels(packet: &[u8]) -> Result<usize, CodecError> {
    if packet.is_empty() {
        return Err(CodecError::Malformed {
            detail: "empty Opus packet",
        });
    }
    // SAFETY: reads only the first byte, which exists.
    let r = unsafe { opus_packet_get_nb_channels(packet.as_ptr()) };
    if r < 0 {
        Err(CodecError::Malformed {
            detail: "invalid Opus TOC",
        })
    } else {
        Ok(r as usize)
    }
}

/// The libopus version string (e.g. `libopus 1.3.1`).
pub(crate) fn version() -> &'static str {
    // SAFETY: libopus returns a pointer to a static NUL-terminated string.
    let s = unsafe { std::ffi::CStr::from_ptr(opus_get_version_string()) };
    s.to_str().unwrap_or("libopus (non-UTF-8 version)")
}
