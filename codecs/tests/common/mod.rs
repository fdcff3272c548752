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
