//! `tutti pcap anonymise` on a real capture (SIPp's g711a.pcap from the shared test vectors), checked with
//! tshark as the independent dissector.

use std::path::PathBuf;
use std::process::Command;

fn vectors() -> PathBuf {
    let dir = std::env::var_os("TUTTI_TESTVECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testvectors")));
    assert!(
        dir.is_dir(),
        "test vectors not found at {} (set TUTTI_TESTVECTORS)",
        dir.display()
    );
    dir
}

fn tshark_fields(pcap: &std::path::Path, decode_as: &str, fields: &[&str]) -> Vec<String> {
    let mut c = Command::new("tshark");
    c.arg("-r").arg(pcap).args(["-d", decode_as, "-T", "fields"]);
    for f in fields {
        c.args(["-e", f]);
    }
    let o = c
        .output()
        .expect("tshark is installed (scripts/setup.sh installs it)");
    assert!(
        o.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn anonymises_sipp_capture_consistently() {
    let src = vectors().join("sipp/g711a.pcap");
    assert!(src.is_file(), "missing {}", src.display());
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "ab".repeat(32)).unwrap();
    let run = |out: &str, extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_tutti"))
            .args(["pcap", "anonymise"])
            .arg(&src)
            .arg(dir.path().join(out))
            .arg("--key-file")
            .arg(&key)
            .args(extra)
            .arg("--json")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let doc = run("a.pcap", &[]);
    assert_eq!(doc["rtp"], 236);
    run("b.pcap", &[]);
    let a = std::fs::read(dir.path().join("a.pcap")).unwrap();
    assert_eq!(
        a,
        std::fs::read(dir.path().join("b.pcap")).unwrap(),
        "same key, different output"
    );

    // Original stream as tshark sees it.
    let orig = tshark_fields(
        &src,
        "udp.port==2006,rtp",
        &["ip.src", "ip.dst", "rtp.ssrc", "rtp.seq", "rtp.payload"],
    );
    let orig: Vec<&String> = orig
        .iter()
        .filter(|l| l.split('\t').nth(2).is_some_and(|s| !s.is_empty()))
        .collect();
    assert_eq!(orig.len(), 236);
    let ssrc = orig[0].split('\t').nth(2).unwrap().to_string();
    let ips: Vec<String> = orig[0].split('\t').take(2).map(str::to_string).collect();

    // Anonymised stream: find its port, then check fields.
    let ports = tshark_fields(&dir.path().join("a.pcap"), "udp.port==1,rtp", &["udp.dstport"]);
    let port = ports[0].trim().to_string();
    let anon = tshark_fields(
        &dir.path().join("a.pcap"),
        &format!("udp.port=={port},rtp"),
        &["ip.src", "ip.dst", "rtp.ssrc", "rtp.seq", "rtp.payload"],
    );
    assert_eq!(anon.len(), 236);
    for (o, a) in orig.iter().zip(&anon) {
        let (of, af): (Vec<&str>, Vec<&str>) = (o.split('\t').collect(), a.split('\t').collect());
        assert!(af[0].starts_with("10.") && af[1].starts_with("10."), "{a}");
        assert!(!ips.iter().any(|ip| ip == af[0] || ip == af[1]));
        assert_ne!(af[2], ssrc);
        assert_eq!(
            af[2],
            anon[0].split('\t').nth(2).unwrap(),
            "SSRC pseudonym not consistent"
        );
        assert_eq!(of[3], af[3], "sequence numbers must be kept");
        assert_eq!(of[4], af[4], "payload must be kept without --drop-payload");
    }

    // --drop-payload zeroes the media.
    run("c.pcap", &["--drop-payload"]);
    let dropped = tshark_fields(
        &dir.path().join("c.pcap"),
        &format!("udp.port=={port},rtp"),
        &["rtp.payload"],
    );
    assert_eq!(dropped.len(), 236);
    // tshark prints bytes as hex, with or without ':' separators depending on its version.
    assert!(
        dropped
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c == '0' || c == ':')),
        "payload not zeroed: {:?}",
        &dropped[..2]
    );

    // A missing input: one line naming the file, no output.
    let o = Command::new(env!("CARGO_BIN_EXE_tutti"))
        .args(["pcap", "anonymise", "nope.pcap"])
        .arg(dir.path().join("d.pcap"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.pcap"));
    assert!(!dir.path().join("d.pcap").exists());
}
