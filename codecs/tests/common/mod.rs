//! Shared helpers for the codec behaviour tests: locating the external test vectors.
#![allow(dead_code)]

use std::path::PathBuf;

/// The test-vector root: `$TUTTI_TESTVECTORS`, else `shared/testvectors` beside the workspace.
pub fn vectors_dir() -> PathBuf {
    match std::env::var_os("TUTTI_TESTVECTORS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testvectors")),
    }
}

/// Reads a vector file, failing the test with a clear message when it is missing.
pub fn read_vector(rel: &str) -> Vec<u8> {
    let p = vectors_dir().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| {
        panic!(
            "test vector {} is missing ({e}); set TUTTI_TESTVECTORS to the testvectors folder",
            p.display()
        )
    })
}

/// Reads a vector of 16-bit little-endian words.
pub fn read_i16_vector(rel: &str) -> Vec<i16> {
    let b = read_vector(rel);
    assert!(b.len() & 1 == 0, "{rel}: odd byte count {}", b.len());
    b.chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// Little-endian bytes of 16-bit samples.
pub fn i16_bytes(s: &[i16]) -> Vec<u8> {
    s.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// About `seconds` of real 16 kHz speech: Asterisk prompts (Debian `asterisk-core-sounds-en-g722`)
/// decoded with our G.722 decoder (bit-exact with ffmpeg, see `g722_ffmpeg.rs`).
pub fn speech_16k(seconds: f32) -> Vec<i16> {
    use tutti_codecs::{Decoder, G722Decoder, G722Mode};
    let dir = std::path::Path::new("/usr/share/asterisk/sounds/en_US_f_Allison");
    let names = [
        "tt-monkeys.g722",
        "tt-weasels.g722",
        "tt-somethingwrong.g722",
        "vm-intro.g722",
    ];
    let mut out = Vec::new();
    for n in names {
        let p = dir.join(n);
        let codes = std::fs::read(&p).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (install asterisk-core-sounds-en-g722; scripts/setup.sh)",
                p.display()
            )
        });
        let mut dec = G722Decoder::new(G722Mode::Kbps64);
        let mut pcm = vec![0i16; codes.len() * 2];
        dec.decode(&codes, &mut pcm).expect("G.722 decode");
        out.extend_from_slice(&pcm);
        if out.len() as f32 >= seconds * 16000.0 {
            break;
        }
    }
    out.truncate((seconds * 16000.0) as usize);
    out
}
