//! Encrypted-at-rest recordings.
//!
//! # What
//! Recordings of consented legs (pcap of RTP/RTCP, WAV of decoded audio) are written through
//! [`EncryptedWriter`], which seals them with AES-256-GCM as they are written, so no plaintext ever reaches
//! the disk; `tutti record decrypt` ([`decrypt`]) recovers them. The key (32 bytes) comes from a key file
//! or the `TUTTI_RECORD_KEY` environment variable — never from the command line ([`load_key`]).
//!
//! # How
//! The STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár: "Online Authenticated-Encryption and its
//! Nonce-Reuse Misuse-Resistance", CRYPTO 2015): the plaintext is cut into chunks of `chunk` bytes, chunk
//! `i` is sealed with nonce = 7-byte random prefix ‖ 32-bit big-endian `i` ‖ last-chunk flag, and the file
//! header is the associated data of every chunk. Reordered, dropped, truncated or altered chunks, a changed
//! header and a wrong key all fail authentication.
//!
//! File layout: `"TUTTIREC"`, version (1), algorithm (1 = AES-256-GCM), chunk size (u32 BE), nonce prefix
//! (7 bytes), then chunks of `chunk + 16` bytes (the last one shorter, possibly just its 16-byte tag).
//!
//! # Real-time safety
//! None: file output on the control side (recording threads), never on the real-time path.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};

const MAGIC: &[u8; 8] = b"TUTTIREC";
const VERSION: u8 = 1;
const ALG_AES256GCM: u8 = 1;
const HEADER_LEN: usize = 8 + 1 + 1 + 4 + 7;
const TAG: usize = 16;
/// Default plaintext bytes per chunk.
pub const DEFAULT_CHUNK: usize = 64 * 1024;
/// Environment variable that may hold the recording key (64 hex digits or base64 of 32 bytes).
pub const KEY_ENV: &str = "TUTTI_RECORD_KEY";

/// A 256-bit recording key.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordKey([u8; 32]);

impl fmt::Debug for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecordKey(…)")
    }
}

impl RecordKey {
    /// A key from 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw key bytes.
    pub fn bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Parses 32 raw bytes, 64 hex digits or base64 of 32 bytes (surrounding white space ignored).
    pub fn parse(data: &[u8]) -> Result<Self, String> {
        if data.len() == 32 {
            let mut k = [0u8; 32];
            k.copy_from_slice(data);
            return Ok(Self(k));
        }
        let text = std::str::from_utf8(data)
            .map_err(|_| "not 32 raw bytes, hex or base64".to_string())?
            .trim();
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut k = [0u8; 32];
            for (i, k) in k.iter_mut().enumerate() {
                *k = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
            }
            return Ok(Self(k));
        }
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| "expected 32 raw bytes, 64 hex digits or base64 of 32 bytes".to_string())?;
        let arr: [u8; 32] = raw
            .try_into()
            .map_err(|v: Vec<u8>| format!("key is {} bytes, expected 32", v.len()))?;
        Ok(Self(arr))
    }
}

/// Loads the key from `key_file`, or else from the `TUTTI_RECORD_KEY` environment variable.
/// Errors name the file or the variable.
pub fn load_key(key_file: Option<&Path>) -> Result<RecordKey, String> {
    match key_file {
        Some(p) => {
            let data = std::fs::read(p).map_err(|e| format!("{}: cannot read key: {e}", p.display()))?;
            RecordKey::parse(&data).map_err(|e| format!("{}: {e}", p.display()))
        }
        None => {
            let v = std::env::var(KEY_ENV)
                .map_err(|_| format!("no --key-file given and {KEY_ENV} is not set"))?;
            RecordKey::parse(v.as_bytes()).map_err(|e| format!("{KEY_ENV}: {e}"))
        }
    }
}

fn nonce(prefix: &[u8; 7], index: u32, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..7].copy_from_slice(prefix);
    n[7..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// Encrypts everything written to it into the STREAM format; call [`EncryptedWriter::finish`] at the end
/// (a recording without its final chunk is reported as truncated when decrypted).
pub struct EncryptedWriter<W: Write> {
    inner: W,
    cipher: Aes256Gcm,
    header: [u8; HEADER_LEN],
    prefix: [u8; 7],
    chunk: usize,
    buf: Vec<u8>,
    index: u32,
}

impl<W: Write> fmt::Debug for EncryptedWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedWriter")
            .field("chunk", &self.chunk)
            .field("index", &self.index)
            .finish()
    }
}

impl<W: Write> EncryptedWriter<W> {
    /// Starts an encrypted stream on `inner` with a fresh random nonce prefix.
    pub fn new(inner: W, key: &RecordKey) -> io::Result<Self> {
        let mut prefix = [0u8; 7];
        getrandom::getrandom(&mut prefix).map_err(|e| io::Error::other(e.to_string()))?;
        Self::with_prefix(inner, key, prefix, DEFAULT_CHUNK)
    }

    /// Starts an encrypted stream with an explicit nonce prefix and chunk size (for tests; the prefix must
    /// never repeat under one key).
    pub fn with_prefix(mut inner: W, key: &RecordKey, prefix: [u8; 7], chunk: usize) -> io::Result<Self> {
        let chunk = chunk.clamp(16, 1 << 24);
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(MAGIC);
        header[8] = VERSION;
        header[9] = ALG_AES256GCM;
        header[10..14].copy_from_slice(&(chunk as u32).to_be_bytes());
        header[14..21].copy_from_slice(&prefix);
        inner.write_all(&header)?;
        let cipher = Aes256Gcm::new_from_slice(&key.0).expect("a 32-byte key is valid for AES-256-GCM");
        Ok(Self {
            inner,
            cipher,
            header,
            prefix,
            chunk,
            buf: Vec::with_capacity(chunk + TAG),
            index: 0,
        })
    }

    fn seal(&mut self, last: bool) -> io::Result<()> {
        let n = nonce(&self.prefix, self.index, last);
        self.cipher
            .encrypt_in_place(Nonce::from_slice(&n), &self.header, &mut self.buf)
            .map_err(|_| io::Error::other("encryption failed"))?;
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        self.index = self
            .index
            .checked_add(1)
            .ok_or_else(|| io::Error::other("recording too long"))?;
        Ok(())
    }

    /// Seals the final chunk and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.seal(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for EncryptedWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut rest = data;
        while !rest.is_empty() {
            // A full chunk is sealed only when more data follows, so the last chunk is always sealed by
            // `finish` with the last flag.
            if self.buf.len() == self.chunk {
                self.seal(false)?;
            }
            let take = (self.chunk - self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Decrypts a whole recording from `input` into `output`; fails (having written only authenticated
/// chunks) on a wrong key, tampering, reordering or truncation.
pub fn decrypt(mut input: impl Read, mut output: impl Write, key: &RecordKey) -> Result<u64, String> {
    let mut header = [0u8; HEADER_LEN];
    input
        .read_exact(&mut header)
        .map_err(|_| "not a Tutti recording (too short)".to_string())?;
    if &header[..8] != MAGIC {
        return Err("not a Tutti recording (bad magic)".into());
    }
    if header[8] != VERSION || header[9] != ALG_AES256GCM {
        return Err(format!(
            "unsupported recording version {} / algorithm {}",
            header[8], header[9]
        ));
    }
    let chunk = u32::from_be_bytes([header[10], header[11], header[12], header[13]]) as usize;
    if !(16..=1 << 24).contains(&chunk) {
        return Err(format!("corrupt header: chunk size {chunk}"));
    }
    let mut prefix = [0u8; 7];
    prefix.copy_from_slice(&header[14..21]);
    let cipher = Aes256Gcm::new_from_slice(&key.0).expect("a 32-byte key is valid for AES-256-GCM");
    let mut cur = Vec::with_capacity(chunk + TAG);
    let mut next = vec![0u8; chunk + TAG];
    let mut total = 0u64;
    let mut index = 0u32;
    let fill = |r: &mut dyn Read, buf: &mut [u8]| -> Result<usize, String> {
        let mut n = 0;
        while n < buf.len() {
            match r.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read error: {e}")),
            }
        }
        Ok(n)
    };
    let n = fill(&mut input, &mut next)?;
    cur.extend_from_slice(&next[..n]);
    loop {
        // `cur` is a full-size chunk unless it is the last one; peek at what follows.
        let last = if cur.len() == chunk + TAG {
            let k = fill(&mut input, &mut next)?;
            if k == 0 {
                true
            } else {
                let mut body = std::mem::take(&mut cur);
                open(&cipher, &prefix, index, false, &header, &mut body)?;
                output.write_all(&body).map_err(|e| format!("write error: {e}"))?;
                total += body.len() as u64;
                index = index.checked_add(1).ok_or("recording too long")?;
                cur.clear();
                cur.extend_from_slice(&next[..k]);
                continue;
            }
        } else {
            true
        };
        debug_assert!(last);
        if cur.len() < TAG {
            return Err("recording is truncated".into());
        }
        open(&cipher, &prefix, index, true, &header, &mut cur).map_err(|e| {
            if cur.len() == chunk + TAG {
                "recording is truncated (its final chunk is missing)".to_string()
            } else {
                e
            }
        })?;
        output.write_all(&cur).map_err(|e| format!("write error: {e}"))?;
        total += cur.len() as u64;
        return Ok(total);
    }
}

fn open(
    cipher: &Aes256Gcm,
    prefix: &[u8; 7],
    index: u32,
    last: bool,
    header: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(), String> {
    let n = nonce(prefix, index, last);
    cipher
        .decrypt_in_place(Nonce::from_slice(&n), header, buf)
        .map_err(|_| format!("authentication failed at chunk {index} (wrong key, or the file was altered)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> RecordKey {
        RecordKey::from_bytes([b; 32])
    }

    fn seal(data: &[u8], chunk: usize) -> Vec<u8> {
        let mut w = EncryptedWriter::with_prefix(Vec::new(), &key(7), [1, 2, 3, 4, 5, 6, 7], chunk).unwrap();
        for part in data.chunks(13) {
            w.write_all(part).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn round_trips_at_chunk_boundaries() {
        for len in [0usize, 1, 63, 64, 65, 128, 1000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let enc = seal(&data, 64);
            assert!(
                !enc.windows(8).any(|w| len >= 8 && w == &data[..8]),
                "plaintext leaked"
            );
            let mut out = Vec::new();
            assert_eq!(decrypt(&enc[..], &mut out, &key(7)).unwrap(), len as u64);
            assert_eq!(out, data, "len {len}");
        }
    }

    #[test]
    fn detects_wrong_key_tampering_truncation_and_reordering() {
        let data: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let enc = seal(&data, 64);
        let mut sink = Vec::new();
        assert!(decrypt(&enc[..], &mut sink, &key(8))
            .unwrap_err()
            .contains("authentication"));
        for pos in [3usize, 12, HEADER_LEN + 5, enc.len() - 1] {
            let mut t = enc.clone();
            t[pos] ^= 0x40;
            assert!(
                decrypt(&t[..], &mut Vec::new(), &key(7)).is_err(),
                "flip at {pos} not detected"
            );
        }
        // Truncation at a chunk boundary (drop the final chunk) and mid-chunk.
        let cut = HEADER_LEN + 2 * (64 + TAG);
        assert!(decrypt(&enc[..cut], &mut Vec::new(), &key(7))
            .unwrap_err()
            .contains("truncated"));
        assert!(decrypt(&enc[..cut + 5], &mut Vec::new(), &key(7)).is_err());
        // Swap chunks 0 and 1.
        let mut r = enc.clone();
        let (a, b) = (HEADER_LEN, HEADER_LEN + 64 + TAG);
        let c0: Vec<u8> = enc[a..b].to_vec();
        r[a..b].copy_from_slice(&enc[b..b + 64 + TAG]);
        r[b..b + 64 + TAG].copy_from_slice(&c0);
        assert!(decrypt(&r[..], &mut Vec::new(), &key(7)).is_err());
    }

    #[test]
    fn key_formats() {
        let hex = "00".repeat(31) + "ff";
        assert_eq!(RecordKey::parse(hex.as_bytes()).unwrap().0[31], 0xff);
        let b64 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=";
        assert_eq!(RecordKey::parse(b64.as_bytes()).unwrap().0[31], 1);
        assert!(RecordKey::parse(b"short").is_err());
        assert_eq!(RecordKey::parse(&[9u8; 32]).unwrap(), key(9));
    }
}
