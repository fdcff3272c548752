//! SDP Security Descriptions: the `a=crypto` attribute (RFC 4568) carrying SRTP master keys.
//!
//! # What
//! [`CryptoAttribute`] parses and formats `a=crypto:<tag> <suite> inline:<key‖salt base64>[|lifetime]
//! [|MKI:len] [session params]` and builds an [`crate::SrtpContext`] from it.
//!
//! # How
//! RFC 4568 §9.1 grammar, first key parameter only. The base64 key is the master key followed by the
//! master salt (30 bytes for AES_CM_128, 28 for AEAD_AES_128_GCM, RFC 7714 §14.2). Lifetimes are kept
//! for information; an MKI (a per-packet key identifier) and a non-zero key derivation rate (`KDR=`)
//! are refused as unsupported because the SRTP context implements neither.
//!
//! # Real-time safety
//! Signalling-time code; allocates.

use base64::Engine;

use crate::error::RtpError;
use crate::srtp::{SrtpConfig, SrtpContext};
use crate::srtp_keys::SrtpProfile;

/// One `a=crypto` line.
#[derive(Clone, PartialEq, Eq)]
pub struct CryptoAttribute {
    /// The tag matching offer and answer.
    pub tag: u32,
    /// The crypto suite.
    pub profile: SrtpProfile,
    /// Master key (16 bytes).
    pub master_key: Vec<u8>,
    /// Master salt (14 or 12 bytes).
    pub master_salt: Vec<u8>,
    /// Key lifetime as written (e.g. `2^31`), if given.
    pub lifetime: Option<String>,
    /// Session parameters after the key parameters (e.g. `UNENCRYPTED_SRTCP`), verbatim.
    pub session_params: Vec<String>,
}

impl std::fmt::Debug for CryptoAttribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CryptoAttribute")
            .field("tag", &self.tag)
            .field("profile", &self.profile)
            .field("lifetime", &self.lifetime)
            .field("session_params", &self.session_params)
            .finish_non_exhaustive()
    }
}

fn syntax(detail: &'static str) -> RtpError {
    RtpError::Syntax {
        what: "a=crypto",
        line: 0,
        detail,
    }
}

impl CryptoAttribute {
    /// Parses the attribute value (with or without the leading `a=crypto:`).
    ///
    /// # Errors
    /// [`RtpError::Syntax`] for malformed lines or keys of the wrong length, [`RtpError::Unsupported`]
    /// for unknown suites, MKIs or a non-zero KDR.
    pub fn parse(value: &str) -> Result<Self, RtpError> {
        let v = value.trim();
        let v = v.strip_prefix("a=").unwrap_or(v);
        let v = v.strip_prefix("crypto:").unwrap_or(v);
        let mut parts = v.split_ascii_whitespace();
        let tag = parts
            .next()
            .and_then(|t| t.parse::<u32>().ok())
            .ok_or(syntax("missing or bad tag"))?;
        let suite = parts.next().ok_or(syntax("missing crypto suite"))?;
        let profile = SrtpProfile::from_sdes_name(suite).ok_or(RtpError::Unsupported {
            what: "SDES crypto suite",
            value: 0,
        })?;
        let key_params = parts.next().ok_or(syntax("missing key parameters"))?;
        let first = key_params.split(';').next().unwrap_or("");
        let inline = first
            .strip_prefix("inline:")
            .ok_or(syntax("key method is not inline:"))?;
        let mut fields = inline.split('|');
        let b64 = fields.next().unwrap_or("");
        let mut lifetime = None;
        for f in fields {
            if f.contains(':') {
                let (mki, len) = f.split_once(':').unwrap_or(("", ""));
                if mki.parse::<u64>().is_err() || len.parse::<u8>().is_err() {
                    return Err(syntax("bad MKI field"));
                }
                return Err(RtpError::Unsupported {
                    what: "SRTP MKI",
                    value: len.parse::<u64>().unwrap_or(0),
                });
            }
            lifetime = Some(f.to_owned());
        }
        let key = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64))
            .map_err(|_| syntax("key is not valid base64"))?;
        let want = profile.master_key_len() + profile.master_salt_len();
        if key.len() != want {
            return Err(syntax("key length does not match the crypto suite"));
        }
        let session_params: Vec<String> = parts.map(str::to_owned).collect();
        for p in &session_params {
            if let Some(kdr) = p.strip_prefix("KDR=") {
                if kdr != "0" {
                    return Err(RtpError::Unsupported {
                        what: "SRTP key derivation rate",
                        value: kdr.parse().unwrap_or(u64::MAX),
                    });
                }
            }
        }
        let (k, s) = key.split_at(profile.master_key_len());
        Ok(Self {
            tag,
            profile,
            master_key: k.to_vec(),
            master_salt: s.to_vec(),
            lifetime,
            session_params,
        })
    }

    /// An attribute (tag 1) from the base64 master key‖salt alone, as a `--srtp-key` option gives it.
    ///
    /// # Errors
    /// As for [`CryptoAttribute::parse`].
    pub fn from_base64_key(profile: SrtpProfile, key_b64: &str) -> Result<Self, RtpError> {
        Self::parse(&format!("1 {} inline:{}", profile.sdes_name(), key_b64.trim()))
    }

    /// A new attribute with the given key material.
    ///
    /// # Errors
    /// [`RtpError::Malformed`] for key or salt lengths that do not fit `profile`.
    pub fn new(
        tag: u32,
        profile: SrtpProfile,
        master_key: &[u8],
        master_salt: &[u8],
    ) -> Result<Self, RtpError> {
        if master_key.len() != profile.master_key_len() || master_salt.len() != profile.master_salt_len() {
            return Err(RtpError::malformed(
                "a=crypto",
                "key or salt length does not match the suite",
            ));
        }
        Ok(Self {
            tag,
            profile,
            master_key: master_key.to_vec(),
            master_salt: master_salt.to_vec(),
            lifetime: None,
            session_params: Vec::new(),
        })
    }

    /// The attribute value (`<tag> <suite> inline:<base64>…`, without `a=crypto:`).
    pub fn to_value(&self) -> String {
        let mut key = self.master_key.clone();
        key.extend_from_slice(&self.master_salt);
        let mut s = format!(
            "{} {} inline:{}",
            self.tag,
            self.profile.sdes_name(),
            base64::engine::general_purpose::STANDARD.encode(&key)
        );
        if let Some(l) = &self.lifetime {
            s.push('|');
            s.push_str(l);
        }
        for p in &self.session_params {
            s.push(' ');
            s.push_str(p);
        }
        s
    }

    /// An SRTP context for these keys.
    ///
    /// # Errors
    /// As for [`SrtpContext::new`].
    pub fn context(&self, config: SrtpConfig) -> Result<SrtpContext, RtpError> {
        SrtpContext::new(self.profile, &self.master_key, &self.master_salt, config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4568_example() {
        // RFC 4568 §4 example line.
        let a = CryptoAttribute::parse(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20",
        )
        .unwrap();
        assert_eq!((a.tag, a.profile), (1, SrtpProfile::Aes128CmHmacSha1_80));
        assert_eq!(a.master_key, b"=-n@%^x!Bjufr9)?");
        assert_eq!(a.master_salt, b",#5h\\`=&]{qiPQ");
        assert_eq!(a.master_salt.len(), 14);
        assert_eq!(a.lifetime.as_deref(), Some("2^20"));
        let again = CryptoAttribute::parse(&a.to_value()).unwrap();
        assert_eq!(again, a);
    }

    #[test]
    fn from_bare_key() {
        let a = CryptoAttribute::from_base64_key(
            SrtpProfile::Aes128CmHmacSha1_80,
            "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        )
        .unwrap();
        assert_eq!(a.master_key.len() + a.master_salt.len(), 30);
        assert!(CryptoAttribute::from_base64_key(
            SrtpProfile::AeadAes128Gcm,
            "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
        )
        .is_err());
    }

    #[test]
    fn refusals() {
        let k = "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
        assert!(matches!(
            CryptoAttribute::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 {k}|2^20|1:4")),
            Err(RtpError::Unsupported { what: "SRTP MKI", .. })
        ));
        assert!(CryptoAttribute::parse(&format!("1 F8_128_HMAC_SHA1_80 {k}")).is_err());
        assert!(CryptoAttribute::parse(&format!("1 AEAD_AES_128_GCM {k}")).is_err()); // 30 bytes, GCM needs 28
        assert!(CryptoAttribute::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 {k} KDR=3")).is_err());
        assert!(CryptoAttribute::parse("x AES_CM_128_HMAC_SHA1_80").is_err());
        assert!(CryptoAttribute::parse("1 AES_CM_128_HMAC_SHA1_80 inline:!!!").is_err());
    }
}
