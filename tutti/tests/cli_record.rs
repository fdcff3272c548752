//! `tutti record encrypt|decrypt` end to end through the binary.

use std::process::Command;

fn tutti() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tutti"));
    c.env_remove("TUTTI_RECORD_KEY");
    c
}

#[test]
fn encrypt_decrypt_round_trip_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let data: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    std::fs::write(p("plain.bin"), &data).unwrap();
    std::fs::write(p("key"), "11".repeat(32)).unwrap();
    std::fs::write(p("other"), "22".repeat(32)).unwrap();

    let st = tutti()
        .args(["record", "encrypt", "--in"])
        .arg(p("plain.bin"))
        .arg("--out")
        .arg(p("rec.enc"))
        .arg("--key-file")
        .arg(p("key"))
        .status()
        .unwrap();
    assert!(st.success());
    let enc = std::fs::read(p("rec.enc")).unwrap();
    assert!(enc.len() > data.len());
    assert!(
        !enc.windows(32).any(|w| w == &data[1000..1032]),
        "plaintext visible in the recording"
    );

    // Key from the environment.
    let st = tutti()
        .env("TUTTI_RECORD_KEY", "11".repeat(32))
        .args(["record", "decrypt", "--in"])
        .arg(p("rec.enc"))
        .arg("--out")
        .arg(p("back.bin"))
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(std::fs::read(p("back.bin")).unwrap(), data);

    // Wrong key: non-zero exit, one line naming the file, no output left behind.
    let out = tutti()
        .args(["record", "decrypt", "--in"])
        .arg(p("rec.enc"))
        .arg("--out")
        .arg(p("bad.bin"))
        .arg("--key-file")
        .arg(p("other"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("rec.enc") && err.contains("authentication"), "{err}");
    assert!(!p("bad.bin").exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        5,
        "a temporary file was left behind"
    );

    // No key at all.
    let out = tutti()
        .args(["record", "decrypt", "--in"])
        .arg(p("rec.enc"))
        .arg("--out")
        .arg(p("x"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TUTTI_RECORD_KEY"));
}
