//! Helpers shared by the tests that take tshark as the oracle: the test-vector folder and running tshark
//! (a missing tshark fails the test with the package to install).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The capture test vectors (`$TUTTI_TESTVECTORS`, default `../shared/testvectors` beside the workspace).
pub fn vectors() -> PathBuf {
    std::env::var_os("TUTTI_TESTVECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testvectors")))
}

/// A command for one of the Wireshark tools (`tshark`, `editcap`); fails the test when it is missing.
pub fn tool(name: &str) -> Command {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success());
    assert!(
        ok.unwrap_or(false),
        "{name} is not installed (Debian package tshark; see scripts/setup.sh)"
    );
    Command::new(name)
}

/// Runs `tshark -r PATH ARGS…` and returns its stdout; fails the test when tshark is missing or fails.
pub fn tshark(path: &Path, args: &[&str]) -> String {
    let out = tool("tshark")
        .arg("-r")
        .arg(path)
        .args(args)
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}
