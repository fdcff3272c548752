//! SRTP and SRTCP protect/unprotect (RFC 3711, RFC 7714) in caller buffers.
//!
//! # What
//! [`SrtpContext`] holds the session keys of one direction-agnostic crypto context and per-SSRC state
//! (sender rollover counter, receiver ROC estimate and replay window, SRTCP indices). It protects and
//! unprotects packets in place: [`SrtpContext::protect_rtp`], [`SrtpContext::unprotect_rtp`],
//! [`SrtpContext::protect_rtcp`], [`SrtpContext::unprotect_rtcp`]. Rejected packets are counted in
//! [`SrtpStats`].
//!
//! # How
//! * AES-CM (RFC 3711 §4.1.1): IV = `k_s·2¹⁶ ⊕ SSRC·2⁶⁴ ⊕ i·2¹⁶` with `i = ROC·2¹⁶ + SEQ` (SRTCP: the
//!   31-bit SRTCP index); HMAC-SHA1 (§4.2) over the authenticated portion ‖ ROC (SRTCP: ‖ E‖index),
//!   truncated to 80 or 32 bits, compared in constant time.
//! * AES-GCM (RFC 7714 §8–9): 12-byte IV = `salt ⊕ (0⁴ ‖ SSRC ‖ ROC ‖ SEQ)` (SRTCP:
//!   `0⁴ ‖ SSRC ‖ 0⁴ ‖ index`), AAD = RTP header (SRTCP: first 8 bytes ‖ E‖index), 16-byte tag.
//! * ROC estimation (RFC 3711 Appendix A) from the highest authenticated sequence number `s_l`; the
//!   context is updated only after authentication (§3.3).
//! * Replay protection (§3.3.2) with a [`ReplayWindow`] of configurable size (≥ 64) per SSRC.
//!   Ciphers: RustCrypto `aes`/`ctr`, `hmac`/`sha1`, `aes-gcm`; no hand-written cryptography.
//!
//! # Real-time safety
//! The stream table and replay windows are allocated at construction; protect/unprotect do not
//! allocate (the keyed AES and HMAC states are cloned on the stack per packet).

use aes::cipher::{InnerIvInit, KeyInit, StreamCipher};
use aes::Aes128;
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::error::RtpError;
use crate::rtp_packet::rtp_header_len;
use crate::srtp_keys::{SrtpProfile, SrtpSessionKeys};
use crate::srtp_replay::{ReplayVerdict, ReplayWindow};

type HmacSha1 = Hmac<Sha1>;

/// Largest unencrypted (E = 0) GCM SRTCP packet accepted: its AAD is assembled on the stack.
const MAX_UNENCRYPTED_GCM_SRTCP: usize = 1504;
type Aes128Ctr = ctr::Ctr128BE<Aes128>;

/// Settings of an [`SrtpContext`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpConfig {
    /// Replay window size in packets (≥ 64; rounded up to a multiple of 64). libsrtp uses 128.
    pub replay_window: usize,
    /// Most SSRCs tracked (streams are preallocated).
    pub max_streams: usize,
}

impl Default for SrtpConfig {
    fn default() -> Self {
        Self {
            replay_window: 128,
            max_streams: 16,
        }
    }
}

/// Counters of an [`SrtpContext`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SrtpStats {
    /// RTP packets protected.
    pub rtp_protected: u64,
    /// RTP packets unprotected successfully.
    pub rtp_unprotected: u64,
    /// RTCP packets protected.
    pub rtcp_protected: u64,
    /// RTCP packets unprotected successfully.
    pub rtcp_unprotected: u64,
    /// Packets whose tag did not verify.
    pub auth_failures: u64,
    /// Packets rejected as replays or too old.
    pub replays: u64,
    /// Packets too short or otherwise malformed.
    pub malformed: u64,
    /// Packets of a new SSRC refused because the stream table was full.
    pub no_stream: u64,
}

#[derive(Clone)]
struct Keys {
    aes: Aes128,
    gcm: Aes128Gcm,
    hmac: HmacSha1,
    salt: [u8; 14],
}

impl Keys {
    fn new(key: &[u8; 16], salt: &[u8; 14], auth: &[u8; 20]) -> Self {
        Self {
            aes: Aes128::new(key.into()),
            gcm: Aes128Gcm::new(key.into()),
            hmac: <HmacSha1 as Mac>::new_from_slice(auth).expect("HMAC accepts keys of any length"),
            salt: *salt,
        }
    }

    /// RFC 3711 §4.1.1 counter-mode IV.
    fn cm_iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= s;
        }
        iv
    }

    fn ctr(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        let iv = self.cm_iv(ssrc, index);
        let core =
            ctr::CtrCore::<Aes128, ctr::flavors::Ctr128BE>::inner_iv_init(self.aes.clone(), &iv.into());
        let mut c = Aes128Ctr::from_core(core);
        c.apply_keystream(data);
    }

    fn tag(&self, parts: [&[u8]; 2]) -> [u8; 20] {
        let mut m = self.hmac.clone();
        m.update(parts[0]);
        m.update(parts[1]);
        m.finalize().into_bytes().into()
    }

    /// RFC 7714 12-byte IV from a 10-byte block (`SSRC ‖ ROC ‖ SEQ` or `SSRC ‖ 0 ‖ index`).
    fn gcm_iv(&self, ssrc: u32, mid: u32, low: u32, low_len: usize) -> [u8; 12] {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[6..10].copy_from_slice(&mid.to_be_bytes());
        if low_len == 2 {
            iv[10..12].copy_from_slice(&(low as u16).to_be_bytes());
        } else {
            // SRTCP: 0x0000 ‖ SSRC ‖ 0x0000 ‖ index(32): the index spans bytes 8..12.
            iv[6..8].fill(0);
            iv[8..12].copy_from_slice(&low.to_be_bytes());
        }
        for (b, s) in iv.iter_mut().zip(&self.salt[..12]) {
            *b ^= s;
        }
        iv
    }
}

#[derive(Debug, Clone)]
struct Stream {
    ssrc: u32,
    in_use: bool,
    tx_started: bool,
    tx_roc: u32,
    tx_seq: u16,
    rx_started: bool,
    rx_roc: u32,
    rx_seq: u16,
    rx_window: ReplayWindow,
    tx_rtcp_index: u32,
    rx_rtcp_window: ReplayWindow,
}

/// An SRTP/SRTCP crypto context (see the module docs).
#[derive(Clone)]
pub struct SrtpContext {
    profile: SrtpProfile,
    rtp: Keys,
    rtcp: Keys,
    streams: Vec<Stream>,
    stats: SrtpStats,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpContext")
            .field("profile", &self.profile)
            .field("stats", &self.stats)
            .finish()
    }
}

impl SrtpContext {
    /// A context from a master key and salt (RFC 3711 key derivation, KDR 0).
    ///
    /// # Errors
    /// [`RtpError::Malformed`] for key/salt lengths that do not fit the profile.
    pub fn new(
        profile: SrtpProfile,
        master_key: &[u8],
        master_salt: &[u8],
        config: SrtpConfig,
    ) -> Result<Self, RtpError> {
        let keys = SrtpSessionKeys::derive(profile, master_key, master_salt)?;
        Ok(Self::with_session_keys(profile, &keys, config))
    }

    /// A context from already derived session keys (e.g. the RFC 7714 test vectors).
    pub fn with_session_keys(profile: SrtpProfile, keys: &SrtpSessionKeys, config: SrtpConfig) -> Self {
        let window = config.replay_window.max(64);
        let stream = Stream {
            ssrc: 0,
            in_use: false,
            tx_started: false,
            tx_roc: 0,
            tx_seq: 0,
            rx_started: false,
            rx_roc: 0,
            rx_seq: 0,
            rx_window: ReplayWindow::new(window),
            tx_rtcp_index: 0,
            rx_rtcp_window: ReplayWindow::new(window),
        };
        Self {
            profile,
            rtp: Keys::new(&keys.rtp_key, &keys.rtp_salt, &keys.rtp_auth),
            rtcp: Keys::new(&keys.rtcp_key, &keys.rtcp_salt, &keys.rtcp_auth),
            streams: vec![stream; config.max_streams.max(1)],
            stats: SrtpStats::default(),
        }
    }

    /// The protection profile.
    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// Counters.
    pub fn stats(&self) -> SrtpStats {
        self.stats
    }

    fn stream(&mut self, ssrc: u32) -> Option<usize> {
        if let Some(i) = self.streams.iter().position(|s| s.in_use && s.ssrc == ssrc) {
            return Some(i);
        }
        let i = self.streams.iter().position(|s| !s.in_use)?;
        let s = &mut self.streams[i];
        s.in_use = true;
        s.ssrc = ssrc;
        Some(i)
    }

    fn stream_or_count(&mut self, ssrc: u32) -> Result<usize, RtpError> {
        self.stream(ssrc).ok_or_else(|| {
            self.stats.no_stream += 1;
            RtpError::Unsupported {
                what: "SRTP streams beyond max_streams",
                value: u64::from(ssrc),
            }
        })
    }

    /// Sets the sender rollover counter of `ssrc` (for a stream joined mid-way, RFC 3711 §3.3.1).
    pub fn set_tx_roc(&mut self, ssrc: u32, roc: u32) -> Result<(), RtpError> {
        let i = self.stream_or_count(ssrc)?;
        self.streams[i].tx_roc = roc;
        Ok(())
    }

    /// Sets the SRTCP index the next protected RTCP packet of `ssrc` uses.
    pub fn set_tx_rtcp_index(&mut self, ssrc: u32, index: u32) -> Result<(), RtpError> {
        let i = self.stream_or_count(ssrc)?;
        self.streams[i].tx_rtcp_index = index & 0x7fff_ffff;
        Ok(())
    }

    fn malformed(&mut self, e: RtpError) -> RtpError {
        self.stats.malformed += 1;
        e
    }

    /// Protects the RTP packet in `buf[..len]` in place and appends the tag; returns the SRTP length.
    /// `buf` needs `len + profile.rtp_overhead()` bytes.
    ///
    /// # Errors
    /// [`RtpError::BufferTooSmall`], a malformed RTP header, or a full stream table.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, RtpError> {
        let tag_len = self.profile.rtp_tag_len();
        if buf.len() < len + tag_len || len > buf.len() {
            return Err(RtpError::BufferTooSmall {
                needed: len + tag_len,
                actual: buf.len(),
            });
        }
        let hl = rtp_header_len(&buf[..len]).map_err(|e| self.malformed(e))?;
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        let i = self.stream_or_count(ssrc)?;
        let st = &mut self.streams[i];
        if !st.tx_started {
            st.tx_started = true;
            st.tx_seq = seq;
        } else if seq < st.tx_seq && st.tx_seq - seq > 0x8000 {
            st.tx_roc = st.tx_roc.wrapping_add(1);
            st.tx_seq = seq;
        } else if seq > st.tx_seq && seq - st.tx_seq <= 0x8000 {
            st.tx_seq = seq;
        }
        // A retransmission from before the last wrap belongs to the previous ROC.
        let roc = if seq > st.tx_seq && seq - st.tx_seq > 0x8000 {
            st.tx_roc.wrapping_sub(1)
        } else {
            st.tx_roc
        };
        let index = (u64::from(roc) << 16) | u64::from(seq);
        if self.profile.is_aead() {
            let iv = self.rtp.gcm_iv(ssrc, roc, u32::from(seq), 2);
            let (head, rest) = buf.split_at_mut(hl);
            let tag = self
                .rtp
                .gcm
                .encrypt_in_place_detached(Nonce::from_slice(&iv), head, &mut rest[..len - hl])
                .map_err(|_| RtpError::malformed("SRTP packet", "too long for AES-GCM"))?;
            buf[len..len + 16].copy_from_slice(&tag);
        } else {
            self.rtp.ctr(ssrc, index, &mut buf[hl..len]);
            let t = self.rtp.tag([&buf[..len], &roc.to_be_bytes()]);
            buf[len..len + tag_len].copy_from_slice(&t[..tag_len]);
        }
        self.stats.rtp_protected += 1;
        Ok(len + tag_len)
    }

    /// Unprotects the SRTP packet `buf[..len]` in place; returns the length of the plain RTP packet.
    ///
    /// # Errors
    /// [`RtpError::Truncated`]/[`RtpError::BadVersion`] (malformed), [`RtpError::Replayed`],
    /// [`RtpError::AuthFailed`], or a full stream table. Every rejection is counted in [`SrtpStats`];
    /// the buffer content is unspecified after an error.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, RtpError> {
        let tag_len = self.profile.rtp_tag_len();
        if len > buf.len() {
            return Err(self.malformed(RtpError::truncated("SRTP packet", len, buf.len())));
        }
        let hl = rtp_header_len(&buf[..len]).map_err(|e| self.malformed(e))?;
        if len < hl + tag_len {
            return Err(self.malformed(RtpError::truncated("SRTP packet", hl + tag_len, len)));
        }
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        let i = self.stream_or_count(ssrc)?;
        let st = &self.streams[i];
        // RFC 3711 Appendix A: guess the ROC from the highest authenticated sequence number.
        let (roc, s_l) = if st.rx_started {
            (i64::from(st.rx_roc), i64::from(st.rx_seq))
        } else {
            (0, i64::from(seq))
        };
        let q = i64::from(seq);
        let v = if s_l < 32768 {
            if q - s_l > 32768 {
                roc - 1
            } else {
                roc
            }
        } else if s_l - 32768 > q {
            roc + 1
        } else {
            roc
        };
        if !(0..=i64::from(u32::MAX)).contains(&v) {
            self.stats.replays += 1;
            return Err(RtpError::Replayed {
                what: "SRTP",
                index: u64::from(seq),
            });
        }
        let v = v as u32;
        let index = (u64::from(v) << 16) | u64::from(seq);
        if st.rx_window.check(index) != ReplayVerdict::Fresh {
            self.stats.replays += 1;
            return Err(RtpError::Replayed { what: "SRTP", index });
        }
        let plain_len = len - tag_len;
        if self.profile.is_aead() {
            let iv = self.rtp.gcm_iv(ssrc, v, u32::from(seq), 2);
            let (head, rest) = buf.split_at_mut(hl);
            let (ct, tag) = rest[..len - hl].split_at_mut(plain_len - hl);
            if self
                .rtp
                .gcm
                .decrypt_in_place_detached(Nonce::from_slice(&iv), head, ct, Tag::from_slice(tag))
                .is_err()
            {
                self.stats.auth_failures += 1;
                return Err(RtpError::AuthFailed { what: "SRTP" });
            }
        } else {
            let t = self.rtp.tag([&buf[..plain_len], &v.to_be_bytes()]);
            if !bool::from(t[..tag_len].ct_eq(&buf[plain_len..len])) {
                self.stats.auth_failures += 1;
                return Err(RtpError::AuthFailed { what: "SRTP" });
            }
            self.rtp.ctr(ssrc, index, &mut buf[hl..plain_len]);
        }
        let st = &mut self.streams[i];
        st.rx_window.commit(index);
        let highest = (u64::from(st.rx_roc) << 16) | u64::from(st.rx_seq);
        if !st.rx_started || index > highest {
            st.rx_started = true;
            st.rx_roc = v;
            st.rx_seq = seq;
        }
        self.stats.rtp_unprotected += 1;
        Ok(plain_len)
    }

    /// Protects the RTCP compound packet in `buf[..len]` in place (encrypted, E = 1), appending the
    /// E‖SRTCP-index word and the tag; returns the SRTCP length. `buf` needs
    /// `len + profile.rtcp_overhead()` bytes.
    ///
    /// # Errors
    /// [`RtpError::BufferTooSmall`], a packet shorter than 8 bytes, or a full stream table.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, RtpError> {
        let tag_len = self.profile.rtcp_tag_len();
        let total = len + 4 + tag_len;
        if buf.len() < total || len > buf.len() {
            return Err(RtpError::BufferTooSmall {
                needed: total,
                actual: buf.len(),
            });
        }
        if len < 8 || buf[0] >> 6 != 2 {
            return Err(self.malformed(RtpError::truncated("RTCP packet", 8, len)));
        }
        let ssrc = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let i = self.stream_or_count(ssrc)?;
        let st = &mut self.streams[i];
        let index = st.tx_rtcp_index;
        st.tx_rtcp_index = (index + 1) & 0x7fff_ffff;
        let e_index = (0x8000_0000 | index).to_be_bytes();
        if self.profile.is_aead() {
            let iv = self.rtcp.gcm_iv(ssrc, 0, index, 4);
            let mut aad = [0u8; 12];
            aad[..8].copy_from_slice(&buf[..8]);
            aad[8..].copy_from_slice(&e_index);
            let tag = self
                .rtcp
                .gcm
                .encrypt_in_place_detached(Nonce::from_slice(&iv), &aad, &mut buf[8..len])
                .map_err(|_| RtpError::malformed("SRTCP packet", "too long for AES-GCM"))?;
            buf[len..len + 16].copy_from_slice(&tag);
            buf[len + 16..len + 20].copy_from_slice(&e_index);
        } else {
            self.rtcp.ctr(ssrc, u64::from(index), &mut buf[8..len]);
            buf[len..len + 4].copy_from_slice(&e_index);
            let t = self.rtcp.tag([&buf[..len + 4], &[]]);
            buf[len + 4..total].copy_from_slice(&t[..tag_len]);
        }
        self.stats.rtcp_protected += 1;
        Ok(total)
    }

    /// Unprotects the SRTCP packet `buf[..len]` in place; returns the plain RTCP length.
    ///
    /// # Errors
    /// As for [`SrtpContext::unprotect_rtp`].
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, RtpError> {
        let tag_len = self.profile.rtcp_tag_len();
        if len > buf.len() {
            return Err(self.malformed(RtpError::truncated("SRTCP packet", len, buf.len())));
        }
        if len < 8 + 4 + tag_len || buf[0] >> 6 != 2 {
            return Err(self.malformed(RtpError::truncated("SRTCP packet", 8 + 4 + tag_len, len)));
        }
        let ssrc = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let (plain_len, ei_at) = if self.profile.is_aead() {
            (len - 4 - tag_len, len - 4)
        } else {
            (len - 4 - tag_len, len - tag_len - 4)
        };
        let ei = u32::from_be_bytes([buf[ei_at], buf[ei_at + 1], buf[ei_at + 2], buf[ei_at + 3]]);
        let encrypted = ei & 0x8000_0000 != 0;
        let index = ei & 0x7fff_ffff;
        let i = self.stream_or_count(ssrc)?;
        if self.streams[i].rx_rtcp_window.check(u64::from(index)) != ReplayVerdict::Fresh {
            self.stats.replays += 1;
            return Err(RtpError::Replayed {
                what: "SRTCP",
                index: u64::from(index),
            });
        }
        if self.profile.is_aead() {
            let iv = self.rtcp.gcm_iv(ssrc, 0, index, 4);
            let mut aad = [0u8; 12];
            aad[..8].copy_from_slice(&buf[..8]);
            aad[8..].copy_from_slice(&ei.to_be_bytes());
            let ok = if encrypted {
                let (body, tag) = buf[8..len - 4].split_at_mut(plain_len - 8);
                self.rtcp
                    .gcm
                    .decrypt_in_place_detached(Nonce::from_slice(&iv), &aad, body, Tag::from_slice(tag))
                    .is_ok()
            } else if plain_len + 4 <= MAX_UNENCRYPTED_GCM_SRTCP {
                // E = 0 (RFC 7714 §9.2): the whole packet ‖ E‖index is AAD and nothing is encrypted.
                let mut aad = [0u8; MAX_UNENCRYPTED_GCM_SRTCP];
                aad[..plain_len].copy_from_slice(&buf[..plain_len]);
                aad[plain_len..plain_len + 4].copy_from_slice(&ei.to_be_bytes());
                let tag = *Tag::from_slice(&buf[plain_len..plain_len + 16]);
                self.rtcp
                    .gcm
                    .decrypt_in_place_detached(Nonce::from_slice(&iv), &aad[..plain_len + 4], &mut [], &tag)
                    .is_ok()
            } else {
                false
            };
            if !ok {
                self.stats.auth_failures += 1;
                return Err(RtpError::AuthFailed { what: "SRTCP" });
            }
        } else {
            let t = self.rtcp.tag([&buf[..len - tag_len], &[]]);
            if !bool::from(t[..tag_len].ct_eq(&buf[len - tag_len..len])) {
                self.stats.auth_failures += 1;
                return Err(RtpError::AuthFailed { what: "SRTCP" });
            }
            if encrypted {
                self.rtcp.ctr(ssrc, u64::from(index), &mut buf[8..plain_len]);
            }
        }
        self.streams[i].rx_rtcp_window.commit(u64::from(index));
        self.stats.rtcp_unprotected += 1;
        Ok(plain_len)
    }
}
