//! Test-only FFI to Debian's libsrtp2 (package `libsrtp2-dev`), the interoperability oracle for our SRTP.
//!
//! Shared by `tests/srtp_libsrtp.rs` and `benches/benches/rtp.rs` (via `#[path]`). Linking fails with a
//! clear "unable to find library -lsrtp2" error when the library is missing (scripts/setup.sh installs it).
#![allow(unsafe_code, dead_code)]

use std::os::raw::{c_int, c_uint, c_ulong, c_void};

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CryptoPolicy {
    cipher_type: u32,
    cipher_key_len: c_int,
    auth_type: u32,
    auth_key_len: c_int,
    auth_tag_len: c_int,
    sec_serv: c_int,
}

#[repr(C)]
struct Policy {
    ssrc_type: c_int,
    ssrc_value: c_uint,
    rtp: CryptoPolicy,
    rtcp: CryptoPolicy,
    key: *const u8,
    keys: *mut c_void,
    num_master_keys: c_ulong,
    deprecated_ekt: *mut c_void,
    window_size: c_ulong,
    allow_repeat_tx: c_int,
    enc_xtn_hdr: *mut c_int,
    enc_xtn_hdr_count: c_int,
    next: *mut Policy,
}

#[link(name = "srtp2")]
extern "C" {
    fn srtp_init() -> c_int;
    fn srtp_create(session: *mut *mut c_void, policy: *const Policy) -> c_int;
    fn srtp_dealloc(session: *mut c_void) -> c_int;
    fn srtp_protect(ctx: *mut c_void, hdr: *mut c_void, len: *mut c_int) -> c_int;
    fn srtp_unprotect(ctx: *mut c_void, hdr: *mut c_void, len: *mut c_int) -> c_int;
    fn srtp_protect_rtcp(ctx: *mut c_void, hdr: *mut c_void, len: *mut c_int) -> c_int;
    fn srtp_unprotect_rtcp(ctx: *mut c_void, hdr: *mut c_void, len: *mut c_int) -> c_int;
    fn srtp_crypto_policy_set_rtp_default(p: *mut CryptoPolicy);
    fn srtp_crypto_policy_set_rtcp_default(p: *mut CryptoPolicy);
    fn srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(p: *mut CryptoPolicy);
    fn srtp_crypto_policy_set_aes_gcm_128_16_auth(p: *mut CryptoPolicy);
}

/// Suites, mirroring `tutti_rtp::SrtpProfile`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// AES_CM_128_HMAC_SHA1_80.
    Cm80,
    /// AES_CM_128_HMAC_SHA1_32.
    Cm32,
    /// AEAD_AES_128_GCM.
    Gcm,
}

/// A libsrtp2 session (one direction: inbound or outbound).
pub struct LibSrtp {
    ctx: *mut c_void,
    _key: Box<[u8]>,
}

/// libsrtp's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpErr(pub i32);

impl LibSrtp {
    /// Creates a session for any SSRC; `inbound` selects `ssrc_any_inbound` vs `ssrc_any_outbound`.
    /// `key` is master key ‖ master salt.
    pub fn new(suite: Suite, key: &[u8], inbound: bool, window: u64) -> Result<Self, SrtpErr> {
        let key: Box<[u8]> = key.into();
        let mut rtp = CryptoPolicy::default();
        let mut rtcp = CryptoPolicy::default();
        // SAFETY: the policy setters only write the fields of the valid, exclusively borrowed structs.
        unsafe {
            srtp_init();
            match suite {
                Suite::Cm80 => {
                    srtp_crypto_policy_set_rtp_default(&mut rtp);
                    srtp_crypto_policy_set_rtcp_default(&mut rtcp);
                }
                Suite::Cm32 => {
                    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&mut rtp);
                    srtp_crypto_policy_set_rtcp_default(&mut rtcp);
                }
                Suite::Gcm => {
                    srtp_crypto_policy_set_aes_gcm_128_16_auth(&mut rtp);
                    srtp_crypto_policy_set_aes_gcm_128_16_auth(&mut rtcp);
                }
            }
        }
        let policy = Policy {
            ssrc_type: if inbound { 2 } else { 3 },
            ssrc_value: 0,
            rtp,
            rtcp,
            key: key.as_ptr(),
            keys: std::ptr::null_mut(),
            num_master_keys: 0,
            deprecated_ekt: std::ptr::null_mut(),
            window_size: window as c_ulong,
            allow_repeat_tx: 0,
            enc_xtn_hdr: std::ptr::null_mut(),
            enc_xtn_hdr_count: 0,
            next: std::ptr::null_mut(),
        };
        let mut ctx = std::ptr::null_mut();
        // SAFETY: `policy` and the key it points to are alive for the call; libsrtp copies what it keeps.
        let rc = unsafe { srtp_create(&mut ctx, &policy) };
        if rc != 0 {
            return Err(SrtpErr(rc));
        }
        Ok(Self { ctx, _key: key })
    }

    fn call(
        &mut self,
        f: unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_int) -> c_int,
        buf: &mut [u8],
        len: usize,
        grows: bool,
    ) -> Result<usize, SrtpErr> {
        // libsrtp writes at most SRTP_MAX_TRAILER_LEN (16 + 128 MKI) bytes past `len` when protecting.
        assert!(
            !grows || buf.len() >= len + 16,
            "buffer needs room for the trailer"
        );
        let mut l = len as c_int;
        // SAFETY: `buf` is valid for `len` bytes (plus the trailer room checked above when protecting), and
        // `self.ctx` is a live session created by `srtp_create`.
        let rc = unsafe { f(self.ctx, buf.as_mut_ptr().cast(), &mut l) };
        if rc == 0 {
            Ok(l as usize)
        } else {
            Err(SrtpErr(rc))
        }
    }

    /// `srtp_protect` in place.
    pub fn protect(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpErr> {
        self.call(srtp_protect, buf, len, true)
    }

    /// `srtp_unprotect` in place.
    pub fn unprotect(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpErr> {
        self.call(srtp_unprotect, buf, len, false)
    }

    /// `srtp_protect_rtcp` in place.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpErr> {
        self.call(srtp_protect_rtcp, buf, len, true)
    }

    /// `srtp_unprotect_rtcp` in place.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpErr> {
        self.call(srtp_unprotect_rtcp, buf, len, false)
    }
}

impl Drop for LibSrtp {
    fn drop(&mut self) {
        // SAFETY: `ctx` came from `srtp_create` and is deallocated exactly once.
        unsafe {
            srtp_dealloc(self.ctx);
        }
    }
}
