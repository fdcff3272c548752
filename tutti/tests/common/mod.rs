//! Helpers shared by the CLI tests: the test-vector folder, outside tools (failing clearly when missing),
//! the built `tutti` binary, raw PCM, and a loopback UDP recorder that writes what it receives to a pcap.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tutti::rtp::PcapWriter;

/// The ITU/RFC/capture test vectors (`$TUTTI_TESTVECTORS`, default `../shared/testvectors` beside the
/// workspace); a missing folder fails the test.
pub fn vectors() -> PathBuf {
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

/// A command for an outside tool; fails the test when the tool is not installed.
pub fn tool(name: &str) -> Command {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success());
    assert!(
        ok.unwrap_or(false),
        "{name} is not installed (scripts/setup.sh installs it)"
    );
    Command::new(name)
}

/// Runs the built `tutti` binary.
pub fn tutti(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tutti"))
        .args(args)
        .output()
        .expect("the tutti binary runs")
}

/// Runs `tutti` and returns its stdout; fails the test (with its stderr) if it fails.
pub fn tutti_ok(args: &[&str]) -> String {
    let o = tutti(args);
    assert!(
        o.status.success(),
        "tutti {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("UTF-8 stdout")
}

/// Runs `tutti … --json` and parses its one JSON document.
pub fn tutti_json(args: &[&str]) -> Value {
    serde_json::from_str(&tutti_ok(args)).expect("--json prints one JSON document")
}

/// Runs ffmpeg (quiet, no stdin) and returns its stdout; fails the test if it fails.
pub fn ffmpeg(args: &[&str]) -> Vec<u8> {
    let o = tool("ffmpeg")
        .args(["-v", "error", "-nostdin"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(
        o.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// 16-bit little-endian PCM bytes as samples.
pub fn s16le(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// A pair of UDP sockets on loopback ports P (RTP) and P + 1 (RTCP), bound for the whole test so no other
/// test can take them. Records what arrives into a pcap, with the receiving clock as capture time.
pub struct LoopbackPair {
    /// Socket on port P.
    pub rtp: UdpSocket,
    /// Socket on port P + 1.
    pub rtcp: UdpSocket,
    /// P.
    pub port: u16,
}

impl LoopbackPair {
    /// Binds an even port chosen by the kernel and the port after it.
    pub fn bind() -> Self {
        for _ in 0..200 {
            let rtp = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP socket");
            let port = rtp.local_addr().expect("bound socket has an address").port();
            if port % 2 != 0 || port == u16::MAX {
                continue;
            }
            if let Ok(rtcp) = UdpSocket::bind(("127.0.0.1", port + 1)) {
                rtp.set_read_timeout(Some(Duration::from_millis(20)))
                    .expect("set a read timeout");
                rtcp.set_nonblocking(true).expect("non-blocking RTCP socket");
                return Self { rtp, rtcp, port };
            }
        }
        panic!("no free UDP port pair on loopback");
    }

    /// Receives on both ports into `pcap` until `sender` has exited and nothing more arrived for 300 ms
    /// (or, as a safety net against a hung sender, 120 s have passed: then the sender is killed). Calls
    /// `on_packet(is_rtcp_port, bytes)` for every datagram. Returns the sender's exit status.
    pub fn record(
        &self,
        sender: &mut Child,
        pcap: &Path,
        mut on_packet: impl FnMut(bool, &[u8]),
    ) -> std::process::ExitStatus {
        let mut w = PcapWriter::new(std::fs::File::create(pcap).expect("create the pcap"))
            .expect("write the pcap header");
        let now_ns = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock after 1970")
                .as_nanos() as u64
        };
        let dst_rtp: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let dst_rtcp: SocketAddr = ([127, 0, 0, 1], self.port + 1).into();
        let mut buf = [0u8; 2048];
        let start = Instant::now();
        let mut exited: Option<(std::process::ExitStatus, Instant)> = None;
        let mut last_rx = Instant::now();
        loop {
            let mut got = false;
            if let Ok((n, from)) = self.rtp.recv_from(&mut buf) {
                w.write_udp(now_ns(), from, dst_rtp, &buf[..n])
                    .expect("write the pcap");
                on_packet(false, &buf[..n]);
                got = true;
            }
            while let Ok((n, from)) = self.rtcp.recv_from(&mut buf) {
                w.write_udp(now_ns(), from, dst_rtcp, &buf[..n])
                    .expect("write the pcap");
                on_packet(true, &buf[..n]);
                got = true;
            }
            if got {
                last_rx = Instant::now();
            }
            if exited.is_none() {
                if let Some(st) = sender.try_wait().expect("wait for the sender") {
                    exited = Some((st, Instant::now()));
                } else if start.elapsed() > Duration::from_secs(120) {
                    let _ = sender.kill();
                    panic!("the sender did not finish within 120 s");
                }
            }
            if let Some((st, at)) = exited {
                let quiet = last_rx.elapsed().min(at.elapsed());
                if quiet > Duration::from_millis(300) {
                    return st;
                }
            }
        }
    }
}

/// A fresh temporary directory for one test (named after the process and `tag`).
pub fn tmp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tutti-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A recorded prompt of Debian's `asterisk-core-sounds-en-g722` (raw G.722 at 64 kbit/s); fails the test
/// when the package is missing.
pub fn asterisk_prompt(name: &str) -> PathBuf {
    let p = Path::new("/usr/share/asterisk/sounds/en").join(format!("{name}.g722"));
    assert!(
        p.is_file(),
        "{} missing: install asterisk-core-sounds-en-g722 (scripts/setup.sh)",
        p.display()
    );
    p
}
