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

/// The codec named `name` (`CodecSpec::parse` syntax), with Opus made mono (a test's sender and decoder
/// handle one channel).
pub fn mono_codec(name: &str) -> tutti::codecs::CodecSpec {
    use tutti::codecs::CodecSpec;
    match CodecSpec::parse(name).expect("codec name") {
        CodecSpec::Opus {
            sample_rate, bitrate, ..
        } => CodecSpec::Opus {
            sample_rate,
            channels: 1,
            bitrate,
        },
        s => s,
    }
}

/// One RTP packet (no CSRCs, extensions or padding).
pub fn rtp_packet(marker: bool, payload_type: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let b = tutti::rtp::RtpBuilder {
        marker,
        payload_type,
        sequence_number: seq,
        timestamp: ts,
        ssrc,
        ..Default::default()
    };
    let mut out = vec![0u8; 1500];
    let l = b.write(payload, &mut out).expect("RTP packet fits 1500 bytes");
    out.truncate(l);
    out
}

/// The sending side of an in-process RTP client: an encoder and preallocated buffers, so that a packet
/// is made without allocating (conference tests count allocations).
pub struct ToneSender {
    /// The encoder.
    pub enc: Box<dyn tutti::codecs::Encoder>,
    /// Next sequence number.
    pub seq: u16,
    /// Next RTP timestamp.
    pub ts: u32,
    /// Samples generated so far.
    pub n: usize,
    /// One frame of PCM (20 ms at the encoder's rate).
    pub pcm: Vec<i16>,
    payload: Vec<u8>,
    pkt: Vec<u8>,
}

impl ToneSender {
    /// A sender with `spec`'s encoder and 20 ms frames.
    pub fn new(spec: tutti::codecs::CodecSpec) -> Self {
        Self {
            enc: spec.encoder().expect("encoder"),
            seq: 0,
            ts: 0,
            n: 0,
            pcm: vec![0; (spec.info().audio_rate / 50) as usize],
            payload: vec![0; tutti::conference::MTU],
            pkt: vec![0; tutti::conference::MTU],
        }
    }

    /// The next packet: frame samples `sample(t)` (t in seconds at `rate` Hz), encoded, with payload type
    /// `pt` and `ssrc`; the timestamp then advances by `ts_step`.
    pub fn packet(
        &mut self,
        rate: f32,
        pt: u8,
        ssrc: u32,
        ts_step: u32,
        sample: impl Fn(f32) -> i16,
    ) -> &[u8] {
        for (i, s) in self.pcm.iter_mut().enumerate() {
            *s = sample((self.n + i) as f32 / rate);
        }
        self.n += self.pcm.len();
        let len = self.enc.encode(&self.pcm, &mut self.payload).expect("encode");
        let b = tutti::rtp::RtpBuilder {
            payload_type: pt,
            sequence_number: self.seq,
            timestamp: self.ts,
            ssrc,
            ..Default::default()
        };
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(ts_step);
        let n = b.write(&self.payload[..len], &mut self.pkt).expect("write");
        &self.pkt[..n]
    }
}
