//! `tutti rtp decode` / `tutti rtp send` against outside oracles: tshark (stream statistics, payload
//! extraction), ffmpeg (G.711 decoding, RTP sending), dumpcap (loopback capture), SIPp's captures.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

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

fn tool(name: &str) -> Command {
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

fn tutti(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tutti"))
        .args(args)
        .output()
        .expect("the tutti binary runs")
}

fn decode_json(args: &[&str]) -> Value {
    let o = tutti(args);
    assert!(
        o.status.success(),
        "tutti {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("--json prints one JSON document")
}

/// `tshark -z rtp,streams` rows: (ssrc, packets, lost, mean jitter ms, max jitter ms).
fn tshark_streams(pcap: &Path, decode_as: &str) -> Vec<(u32, u64, i64, f64, f64)> {
    let o = tool("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-q", "-d", decode_as, "-z", "rtp,streams"])
        .output()
        .expect("tshark runs");
    assert!(
        o.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    let mut rows = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(i) = f.iter().position(|s| s.starts_with("0x")) else {
            continue;
        };
        // SSRC, Payload (one word), Pkts, Lost, (pct), min/mean/max delta, min/mean/max jitter.
        let ssrc = u32::from_str_radix(&f[i][2..], 16).expect("hex SSRC");
        let num = |k: usize| {
            f[i + k]
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("tshark column {k}: {line}"))
        };
        rows.push((ssrc, num(2) as u64, num(3) as i64, num(9), num(10)));
    }
    rows
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(char::is_ascii_hexdigit).collect();
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex digits"))
        .collect()
}

/// RTP payloads of one SSRC in capture order, extracted by tshark.
fn tshark_payloads(pcap: &Path, decode_as: &str, ssrc: u32) -> Vec<u8> {
    let o = tool("tshark")
        .arg("-r")
        .arg(pcap)
        .args([
            "-d",
            decode_as,
            "-Y",
            &format!("rtp.ssrc == 0x{ssrc:08x}"),
            "-T",
            "fields",
            "-e",
            "rtp.payload",
        ])
        .output()
        .expect("tshark runs");
    assert!(
        o.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).lines().flat_map(hex).collect()
}

/// ffmpeg decodes raw G.711 (`alaw` / `mulaw`) to 16-bit samples.
fn ffmpeg_g711(raw: &[u8], fmt: &str, dir: &Path) -> Vec<i16> {
    let inp = dir.join(format!("payloads.{fmt}"));
    let out = dir.join(format!("ffmpeg_{fmt}.raw"));
    std::fs::write(&inp, raw).unwrap();
    let o = tool("ffmpeg")
        .args([
            "-y",
            "-loglevel",
            "error",
            "-f",
            fmt,
            "-ar",
            "8000",
            "-ac",
            "1",
            "-i",
        ])
        .arg(&inp)
        .args(["-f", "s16le", "-acodec", "pcm_s16le"])
        .arg(&out)
        .output()
        .expect("ffmpeg runs");
    assert!(
        o.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read(&out)
        .unwrap()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn wav_samples(path: &str) -> (u32, Vec<i16>) {
    let r = hound::WavReader::open(path).expect("tutti wrote a WAV");
    let rate = r.spec().sample_rate;
    (rate, r.into_samples::<i16>().map(|s| s.unwrap()).collect())
}

#[test]
fn sipp_g711a_matches_tshark_statistics_and_ffmpeg_decode() {
    let pcap = vectors().join("sipp/g711a.pcap");
    assert!(pcap.is_file(), "missing {}", pcap.display());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let j = decode_json(&[
        "rtp",
        "decode",
        "--pcap",
        pcap.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
        "--json",
    ]);
    let streams = j["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1);
    let s = &streams[0];
    let ts = tshark_streams(&pcap, "udp.port==2006,rtp");
    assert_eq!(ts.len(), 1);
    let (ssrc, pkts, lost, mean_jitter, max_jitter) = ts[0];
    assert_eq!(s["ssrc"], format!("{ssrc:08x}"));
    assert_eq!(s["codec"], "pcma");
    assert_eq!(s["payload_type"], 8);
    assert_eq!(s["packets"].as_u64(), Some(pkts));
    assert_eq!(pkts, 236);
    assert_eq!(s["lost"].as_i64(), Some(lost));
    assert_eq!(s["late"], 0);
    assert_eq!(s["duplicates"], 0);
    // RFC 3550 jitter at the end of the stream, against tshark's mean (0.350 ms) and bounded by its max.
    let jm = s["jitter_ms"].as_f64().unwrap();
    assert!(
        (jm - mean_jitter).abs() < 0.1 && jm <= max_jitter,
        "jitter {jm} vs tshark mean {mean_jitter}"
    );
    assert_eq!(
        s["concealed_ms"].as_f64(),
        Some(0.0),
        "no loss: nothing concealed"
    );
    assert_eq!(s["played_ms"].as_f64(), Some(236.0 * 30.0));
    assert_eq!(s["removed_samples_for_acceleration"], 0);
    assert_eq!(s["inserted_samples_for_deceleration"], 0);
    // Alignment: the WAV starts at the first decoded sample (the buffering delay and the 30-sample G.711
    // Appendix I look-ahead are not written), so it equals the payloads laid end to end and decoded by
    // ffmpeg, except the last 30 samples still inside the concealment history.
    let (rate, ours) = wav_samples(s["wav"].as_str().unwrap());
    assert_eq!(rate, 8000);
    let reference = ffmpeg_g711(
        &tshark_payloads(&pcap, "udp.port==2006,rtp", ssrc),
        "alaw",
        dir.path(),
    );
    assert_eq!(reference.len(), 236 * 240);
    assert_eq!(ours.len(), reference.len() - 30);
    assert!(
        ours == reference[..ours.len()],
        "decoded audio differs from ffmpeg's decode of the payloads"
    );
}

#[test]
fn sipp_dtmf_captures_decode_to_their_digits() {
    let dir = tempfile::tempdir().unwrap();
    for (name, digit) in [
        ("0", "0"),
        ("1", "1"),
        ("2", "2"),
        ("3", "3"),
        ("4", "4"),
        ("5", "5"),
        ("6", "6"),
        ("7", "7"),
        ("8", "8"),
        ("9", "9"),
        ("star", "*"),
        ("pound", "#"),
    ] {
        let pcap = vectors().join(format!("sipp/dtmf_2833_{name}.pcap"));
        assert!(pcap.is_file(), "missing {}", pcap.display());
        let out = dir.path().join(name);
        let j = decode_json(&[
            "rtp",
            "decode",
            "--pcap",
            pcap.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
            "--pt",
            "101=telephone-event/8000",
            "--json",
        ]);
        let streams = j["streams"].as_array().unwrap();
        assert_eq!(streams.len(), 1, "{name}");
        let s = &streams[0];
        assert_eq!(s["codec"], "telephone-event");
        assert!(s["wav"].is_null(), "events, not audio");
        let events = s["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{name}: {events:?}");
        assert_eq!(events[0]["digit"], digit, "{name}");
        assert_eq!(events[0]["ended"], true);
        let tshark_events: Vec<String> = {
            let o = tool("tshark")
                .arg("-r")
                .arg(&pcap)
                .args([
                    "-d",
                    "udp.port==10000,rtp",
                    "-T",
                    "fields",
                    "-e",
                    "rtpevent.event_id",
                ])
                .output()
                .unwrap();
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()
        };
        assert!(
            tshark_events
                .iter()
                .all(|e| e.parse::<u64>().ok() == events[0]["event"].as_u64()),
            "{name}"
        );
        assert_eq!(s["packets"].as_u64(), Some(tshark_events.len() as u64));
    }
}

/// A free UDP port pair P, P+1 on loopback.
fn free_port_pair() -> u16 {
    for _ in 0..50 {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p < 65000 && p % 2 == 0 && UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free UDP port pair");
}

#[test]
#[ignore = "loopback UDP/dumpcap timing; run alone: cargo test --release -p tutti --test cli_rtp -- --ignored --test-threads=1"]
fn ffmpeg_rtp_over_loopback_decodes_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port_pair();
    let cap = dir.path().join("lo.pcapng");
    // Capture first (dumpcap reports on stderr when it is capturing), then let ffmpeg send 1 s of PCMU.
    let mut dumpcap = tool("dumpcap")
        .args([
            "-i",
            "lo",
            "-f",
            &format!("udp portrange {port}-{}", port + 1),
            "-w",
        ])
        .arg(&cap)
        .args(["-a", "duration:6"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("dumpcap starts");
    {
        let err = dumpcap.stderr.take().unwrap();
        let mut line = String::new();
        let _ = BufReader::new(err).read_line(&mut line);
    }
    std::thread::sleep(Duration::from_millis(500));
    let src = dir.path().join("tone.wav");
    let o = tool("ffmpeg")
        .args([
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=1:sample_rate=8000",
        ])
        .args(["-ac", "1"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = tool("ffmpeg")
        .args(["-loglevel", "error", "-re", "-i"])
        .arg(&src)
        .args([
            "-c:a",
            "pcm_mulaw",
            "-max_packet_size",
            "172",
            "-f",
            "rtp",
            &format!("rtp://127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "ffmpeg rtp: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let st = dumpcap.wait().unwrap();
    assert!(st.success(), "dumpcap failed");
    let out = dir.path().join("out");
    let j = decode_json(&[
        "rtp",
        "decode",
        "--pcap",
        cap.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
        "--json",
    ]);
    let streams = j["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1);
    let s = &streams[0];
    let decode_as = format!("udp.port=={port},rtp");
    let ts = tshark_streams(&cap, &decode_as);
    assert_eq!(ts.len(), 1);
    let (ssrc, pkts, lost, _, _) = ts[0];
    assert_eq!(s["ssrc"], format!("{ssrc:08x}"));
    assert_eq!(s["packets"].as_u64(), Some(pkts));
    assert_eq!(s["lost"].as_i64(), Some(lost));
    assert_eq!(s["codec"], "pcmu");
    // ffmpeg sends an RTCP sender report on port + 1.
    assert!(j["rtcp"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["type"] == "SR" && r["ssrc"] == format!("{ssrc:08x}")));
    // Audio equals ffmpeg's decode of the payloads it sent (the loopback neither loses nor reorders).
    let (_, ours) = wav_samples(s["wav"].as_str().unwrap());
    let payloads = tshark_payloads(&cap, &decode_as, ssrc);
    let reference = ffmpeg_g711(&payloads, "mulaw", dir.path());
    assert_eq!(ours.len(), reference.len() - 30);
    if s["removed_samples_for_acceleration"] == 0
        && s["inserted_samples_for_deceleration"] == 0
        && s["concealed_ms"] == 0.0
    {
        assert!(
            ours == reference[..ours.len()],
            "decoded audio differs from ffmpeg's"
        );
    } else {
        // Scheduling hiccups of the sender can make the jitter buffer stretch: then compare the energy.
        let e = |x: &[i16]| x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64;
        assert!((e(&ours) / e(&reference) - 1.0).abs() < 0.1);
    }
}

fn ntp_now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 2_208_988_800
}

#[test]
#[ignore = "loopback UDP/dumpcap timing; run alone: cargo test --release -p tutti --test cli_rtp -- --ignored --test-threads=1"]
fn send_paces_rtp_with_rtcp_and_decodes_back() {
    use tutti::rtp::{rtcp_packets, PcapWriter, RtcpPacket, RtpPacket};
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("speechlike.wav");
    // 1 s of a 16 kHz two-tone signal: `send` must resample it to the codec's 8 kHz.
    let o = tool("ffmpeg")
        .args([
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=300:duration=1:sample_rate=16000",
        ])
        .args(["-ac", "1"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(o.status.success());
    let port = free_port_pair();
    let rtp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let rtcp = UdpSocket::bind(("127.0.0.1", port + 1)).unwrap();
    rtp.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    rtcp.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tutti"))
        .args([
            "rtp",
            "send",
            "--in",
            src.to_str().unwrap(),
            "--codec",
            "pcma",
            "--to",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--ptime", "20", "--ssrc", "0x00c0ffee", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("tutti starts");
    let cap = dir.path().join("recv.pcap");
    let mut w = PcapWriter::new(std::fs::File::create(&cap).unwrap()).unwrap();
    let dst: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut buf = [0u8; 2048];
    let (mut n_rtp, mut srs, mut bye) = (0, 0, false);
    let t0 = std::time::Instant::now();
    // Arrival times for the capture come from the receiving clock (as a capture would record them).
    let now_ns = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    while !bye && t0.elapsed() < Duration::from_secs(20) {
        if let Ok((n, from)) = rtp.recv_from(&mut buf) {
            w.write_udp(now_ns(), from, dst, &buf[..n]).unwrap();
            let p = RtpPacket::parse(&buf[..n]).expect("tutti sends valid RTP");
            assert_eq!(
                (p.ssrc(), p.payload_type(), p.payload().len()),
                (0x00c0_ffee, 8, 160)
            );
            n_rtp += 1;
        }
        while let Ok((n, from)) = rtcp.recv_from(&mut buf) {
            w.write_udp(now_ns(), from, SocketAddr::new(dst.ip(), port + 1), &buf[..n])
                .unwrap();
            for p in rtcp_packets(&buf[..n]) {
                match p.expect("tutti sends valid RTCP") {
                    RtcpPacket::SenderReport(sr) => {
                        assert_eq!(sr.ssrc, 0x00c0_ffee);
                        assert!(
                            ((sr.info.ntp >> 32) as i64 - ntp_now_secs() as i64).abs() < 5,
                            "NTP time"
                        );
                        srs += 1;
                    }
                    RtcpPacket::Bye(_) => bye = true,
                    _ => {}
                }
            }
        }
    }
    drop(w);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["packets"], 50);
    assert_eq!(n_rtp, 50, "1 s in 20 ms packets");
    assert!(srs >= 1 && bye, "sender report(s) and a BYE on port + 1");
    // Decode what was received and compare with ffmpeg's A-law round trip of the same (resampled) audio.
    let j = decode_json(&[
        "rtp",
        "decode",
        "--pcap",
        cap.to_str().unwrap(),
        "--out-dir",
        dir.path().join("o").to_str().unwrap(),
        "--json",
    ]);
    let s = &j["streams"][0];
    assert_eq!(s["ssrc"], "00c0ffee");
    assert_eq!(s["packets"], 50);
    assert_eq!(s["lost"], 0);
    let (rate, ours) = wav_samples(s["wav"].as_str().unwrap());
    assert_eq!(rate, 8000);
    let payloads = tshark_payloads(&cap, &format!("udp.port=={port},rtp"), 0x00c0_ffee);
    let reference = ffmpeg_g711(&payloads, "alaw", dir.path());
    assert_eq!(ours.len(), reference.len() - 30);
    // A 300 Hz tone: the decoded level is the tone's (−20 dBFS peak from lavfi's sine = 1/8 amplitude).
    let rms = (ours.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / ours.len() as f64).sqrt();
    assert!(
        (rms / (32768.0 / 8.0 / 2f64.sqrt()) - 1.0).abs() < 0.1,
        "rms {rms}"
    );
    if s["concealed_ms"] == 0.0
        && s["removed_samples_for_acceleration"] == 0
        && s["inserted_samples_for_deceleration"] == 0
    {
        assert!(ours == reference[..ours.len()]);
    }
}

/// Captures on loopback (dumpcap) while ffmpeg sends 1 s of a 440 Hz tone with `args` to `url`.
fn capture_ffmpeg(dir: &Path, port: u16, args: &[&str], url: &str) -> (PathBuf, PathBuf) {
    let cap = dir.join("cap.pcapng");
    let mut dumpcap = tool("dumpcap")
        .args([
            "-i",
            "lo",
            "-f",
            &format!("udp portrange {port}-{}", port + 1),
            "-w",
        ])
        .arg(&cap)
        .args(["-a", "duration:6"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("dumpcap starts");
    {
        let mut line = String::new();
        let _ = BufReader::new(dumpcap.stderr.take().unwrap()).read_line(&mut line);
    }
    std::thread::sleep(Duration::from_millis(500));
    let src = dir.join("tone8k.wav");
    let o = tool("ffmpeg")
        .args([
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=1:sample_rate=8000",
        ])
        .args(["-ac", "1"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = tool("ffmpeg")
        .args(["-loglevel", "error", "-re", "-i"])
        .arg(&src)
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(dumpcap.wait().unwrap().success(), "dumpcap failed");
    (cap, src)
}

#[test]
#[ignore = "loopback UDP/dumpcap timing; run alone: cargo test --release -p tutti --test cli_rtp -- --ignored --test-threads=1"]
fn ffmpeg_srtp_is_decrypted_and_wrong_keys_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port_pair();
    let key = "WbTBosdVUZqEb6Htqhn+m3z7wUh4RJVR8nE15GbN";
    let (cap, src) = capture_ffmpeg(
        dir.path(),
        port,
        &[
            "-c:a",
            "pcm_mulaw",
            "-max_packet_size",
            "182",
            "-f",
            "rtp",
            "-srtp_out_suite",
            "AES_CM_128_HMAC_SHA1_80",
            "-srtp_out_params",
            key,
        ],
        &format!("srtp://127.0.0.1:{port}"),
    );
    let out = dir.path().join("out");
    let args = [
        "rtp",
        "decode",
        "--pcap",
        cap.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
        "--json",
    ];
    let mut with_key = args.to_vec();
    with_key.extend(["--srtp-key", key]);
    let j = decode_json(&with_key);
    let s = &j["streams"][0];
    assert_eq!(s["srtp_auth_failures"], 0);
    assert_eq!(s["codec"], "pcmu");
    assert_eq!(s["lost"], 0);
    let packets = s["packets"].as_u64().unwrap();
    assert!(packets >= 50, "{packets} packets");
    assert!(
        j["rtcp"].as_array().unwrap().iter().any(|r| r["type"] == "SR"),
        "SRTCP decrypted"
    );
    // The decrypted audio is ffmpeg's own µ-law coding of the tone.
    let raw = dir.path().join("tone.ul");
    let o = tool("ffmpeg")
        .args(["-y", "-loglevel", "error", "-i"])
        .arg(&src)
        .args(["-f", "mulaw"])
        .arg(&raw)
        .output()
        .unwrap();
    assert!(o.status.success());
    let reference = ffmpeg_g711(&std::fs::read(&raw).unwrap(), "mulaw", dir.path());
    let (_, ours) = wav_samples(s["wav"].as_str().unwrap());
    let n = ours.len().min(reference.len() - 30);
    assert!(n > 7000);
    if s["concealed_ms"] == 0.0
        && s["removed_samples_for_acceleration"] == 0
        && s["inserted_samples_for_deceleration"] == 0
    {
        assert!(
            ours[..n] == reference[..n],
            "decrypted audio differs from ffmpeg's µ-law coding"
        );
    }
    // A wrong key: every packet fails authentication, nothing is decoded, nothing panics.
    let mut wrong = args.to_vec();
    wrong.extend(["--srtp-key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]);
    let j = decode_json(&wrong);
    let s = &j["streams"][0];
    assert_eq!(s["srtp_auth_failures"].as_u64(), Some(packets));
    assert_eq!(s["packets"], 0);
}
