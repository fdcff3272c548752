//! SRTP protection profiles and session-key derivation (RFC 3711 §4.3, RFC 7714 §11).
//!
//! # What
//! [`SrtpProfile`] names the supported suites (AES_CM_128_HMAC_SHA1_80/_32, AEAD_AES_128_GCM) with
//! their key, salt and tag lengths. [`SrtpSessionKeys::derive`] turns a master key and salt into the
//! six session keys (RTP and RTCP encryption key, salt, authentication key).
//!
//! # How
//! RFC 3711 §4.3.1 with key derivation rate 0: `key_id = label ‖ 0⁴⁸`, `x = key_id ⊕ master_salt`
//! (112 bits; the 96-bit GCM master salt is zero-extended as libsrtp does, RFC 7714 §11), and the
//! session key is the AES-CM keystream under the master key with IV `x · 2¹⁶` (§4.3.3). Labels: 0/1/2
//! RTP encryption/authentication/salt, 3/4/5 the same for RTCP. The AES block cipher and the counter
//! mode come from the RustCrypto `aes` and `ctr` crates.
//!
//! # Real-time safety
//! Derivation runs once per key; it does not allocate.

use aes::cipher::{KeyIvInit, StreamCipher};
use aes::Aes128;

use crate::error::RtpError;

type Aes128Ctr = ctr::Ctr128BE<Aes128>;

/// An SRTP protection profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpProfile {
    /// AES-128 counter mode, HMAC-SHA1 with an 80-bit tag (RFC 3711 default).
    Aes128CmHmacSha1_80,
    /// AES-128 counter mode, HMAC-SHA1 with a 32-bit SRTP tag (SRTCP keeps 80 bits, RFC 4568 §6.2.1).
    Aes128CmHmacSha1_32,
    /// AES-128-GCM with a 16-byte tag (RFC 7714).
    AeadAes128Gcm,
}

impl SrtpProfile {
    /// Master key length in bytes.
    pub const fn master_key_len(self) -> usize {
        16
    }

    /// Master salt length in bytes (14 for AES-CM, 12 for GCM).
    pub const fn master_salt_len(self) -> usize {
        match self {
            Self::AeadAes128Gcm => 12,
            _ => 14,
        }
    }

    /// Authentication tag bytes appended to SRTP packets.
    pub const fn rtp_tag_len(self) -> usize {
        match self {
            Self::Aes128CmHmacSha1_80 => 10,
            Self::Aes128CmHmacSha1_32 => 4,
            Self::AeadAes128Gcm => 16,
        }
    }

    /// Authentication tag bytes appended to SRTCP packets (after the 4-byte E‖index word).
    pub const fn rtcp_tag_len(self) -> usize {
        match self {
            Self::AeadAes128Gcm => 16,
            _ => 10,
        }
    }

    /// Largest growth of an RTP packet by protection.
    pub const fn rtp_overhead(self) -> usize {
        self.rtp_tag_len()
    }

    /// Largest growth of an RTCP packet by protection (index word + tag).
    pub const fn rtcp_overhead(self) -> usize {
        4 + self.rtcp_tag_len()
    }

    /// The SDES / `a=crypto` suite name (RFC 4568 §6.2, RFC 7714 §14.2).
    pub const fn sdes_name(self) -> &'static str {
        match self {
            Self::Aes128CmHmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Self::Aes128CmHmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Self::AeadAes128Gcm => "AEAD_AES_128_GCM",
        }
    }

    /// Looks a suite up by its SDES name.
    pub fn from_sdes_name(name: &str) -> Option<Self> {
        [
            Self::Aes128CmHmacSha1_80,
            Self::Aes128CmHmacSha1_32,
            Self::AeadAes128Gcm,
        ]
        .into_iter()
        .find(|p| p.sdes_name().eq_ignore_ascii_case(name))
    }

    /// True for the AEAD (GCM) profile.
    pub const fn is_aead(self) -> bool {
        matches!(self, Self::AeadAes128Gcm)
    }
}

/// The session keys of one SRTP/SRTCP context.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpSessionKeys {
    /// SRTP encryption key.
    pub rtp_key: [u8; 16],
    /// SRTP session salt (first 12 bytes used with GCM).
    pub rtp_salt: [u8; 14],
    /// SRTP authentication key (unused with GCM).
    pub rtp_auth: [u8; 20],
    /// SRTCP encryption key.
    pub rtcp_key: [u8; 16],
    /// SRTCP session salt.
    pub rtcp_salt: [u8; 14],
    /// SRTCP authentication key.
    pub rtcp_auth: [u8; 20],
}

impl std::fmt::Debug for SrtpSessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SrtpSessionKeys { .. }")
    }
}

/// The AES-CM PRF of RFC 3711 §4.3.3: keystream under `master_key` with IV `(label-mixed salt) · 2¹⁶`.
fn prf(master_key: &[u8; 16], salt14: &[u8; 14], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(salt14);
    // key_id = label ‖ r (48 bits, r = 0 with KDR 0), right-aligned in the 112-bit x: label at byte 7.
    iv[7] ^= label;
    out.fill(0);
    let mut c = Aes128Ctr::new(master_key.into(), &iv.into());
    c.apply_keystream(out);
}

impl SrtpSessionKeys {
    /// Derives the session keys from a master key and salt (key derivation rate 0).
    ///
    /// # Errors
    /// [`RtpError::Malformed`] when the key or salt length does not match the profile.
    pub fn derive(profile: SrtpProfile, master_key: &[u8], master_salt: &[u8]) -> Result<Self, RtpError> {
        let key: &[u8; 16] = master_key
            .try_into()
            .map_err(|_| RtpError::malformed("SRTP master key", "not 16 bytes (AES-128)"))?;
        if master_salt.len() != profile.master_salt_len() {
            return Err(RtpError::malformed(
                "SRTP master salt",
                "length does not match the profile",
            ));
        }
        let mut salt = [0u8; 14];
        salt[..master_salt.len()].copy_from_slice(master_salt);
        let salt_len = profile.master_salt_len();
        let mut k = Self {
            rtp_key: [0; 16],
            rtp_salt: [0; 14],
            rtp_auth: [0; 20],
            rtcp_key: [0; 16],
            rtcp_salt: [0; 14],
            rtcp_auth: [0; 20],
        };
        prf(key, &salt, 0, &mut k.rtp_key);
        prf(key, &salt, 1, &mut k.rtp_auth);
        prf(key, &salt, 2, &mut k.rtp_salt[..salt_len]);
        prf(key, &salt, 3, &mut k.rtcp_key);
        prf(key, &salt, 4, &mut k.rtcp_auth);
        prf(key, &salt, 5, &mut k.rtcp_salt[..salt_len]);
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc3711_b3_key_derivation() {
        let k = SrtpSessionKeys::derive(
            SrtpProfile::Aes128CmHmacSha1_80,
            &hex("E1F97A0D3E018BE0D64FA32C06DE4139"),
            &hex("0EC675AD498AFEEBB6960B3AABE6"),
        )
        .unwrap();
        assert_eq!(k.rtp_key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        assert_eq!(k.rtp_salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        assert_eq!(
            k.rtp_auth.to_vec(),
            hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
        );
    }

    #[test]
    fn lengths_checked_and_names() {
        assert!(SrtpSessionKeys::derive(SrtpProfile::AeadAes128Gcm, &[0; 16], &[0; 14]).is_err());
        assert!(SrtpSessionKeys::derive(SrtpProfile::AeadAes128Gcm, &[0; 16], &[0; 12]).is_ok());
        assert!(SrtpSessionKeys::derive(SrtpProfile::Aes128CmHmacSha1_80, &[0; 15], &[0; 14]).is_err());
        assert_eq!(
            SrtpProfile::from_sdes_name("aes_cm_128_hmac_sha1_32"),
            Some(SrtpProfile::Aes128CmHmacSha1_32)
        );
        assert_eq!(SrtpProfile::from_sdes_name("F8_128_HMAC_SHA1_80"), None);
    }
}
