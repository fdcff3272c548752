//! `tutti rtp decode` / `tutti rtp send` against outside oracles: tshark (stream statistics, payload
//! extraction), ffmpeg (G.711 decoding, RTP sending), dumpcap (loopback capture), SIPp's captures.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

mod common;

use common::{tool, tutti_json as decode_json, vectors, LoopbackPair};

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
        // SSRC, Payload (one or more words: `g711U, CN, rtpevent`), Pkts, Lost, (pct), min/mean/max delta,
        // min/mean/max jitter.
        let ssrc = u32::from_str_radix(&f[i][2..], 16).expect("hex SSRC");
        let k = (2..f.len() - i - 2)
            .find(|&k| {
                f[i + k].parse::<u64>().is_ok()
                    && f[i + k + 1].parse::<i64>().is_ok()
                    && f[i + k + 2].starts_with('(')
            })
            .unwrap_or_else(|| panic!("tshark row without packet and loss columns: {line}"));
        let num = |c: usize| {
            f[i + k + c]
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("tshark column {c}: {line}"))
        };
        rows.push((ssrc, num(0) as u64, num(1) as i64, num(7), num(8)));
    }
    rows
}

/// `tutti rtp decode --pcap CAP --out-dir OUT --json`.
fn decode_args<'a>(cap: &'a Path, out: &'a Path) -> Vec<&'a str> {
    let path = |p: &'a Path| p.to_str().expect("UTF-8 temp path");
    vec![
        "rtp",
        "decode",
        "--pcap",
        path(cap),
        "--out-dir",
        path(out),
        "--json",
    ]
}

/// Runs `tutti rtp decode` on a capture with `extra` arguments and parses its JSON.
fn rtp_decode(cap: &Path, out: &Path, extra: &[&str]) -> Value {
    let mut args = decode_args(cap, out);
    args.extend_from_slice(extra);
    decode_json(&args)
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
    let j = rtp_decode(&pcap, &out, &[]);
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
    // The stream's call detail record: the same figures, both ends' addresses (the decoded port is one of
    // them), and a duration of 235 packet times of 30 ms (within the capture's jitter).
    let cdr = &s["cdr"];
    assert_eq!(cdr["event"], "cdr");
    assert_eq!(cdr["from"]["ssrc"], format!("{ssrc:08x}"));
    assert_eq!(cdr["packets"].as_u64(), Some(pkts));
    assert_eq!(cdr["lost"].as_i64(), Some(lost));
    let addrs = [
        cdr["from"]["addr"].as_str().unwrap(),
        cdr["to"]["addr"].as_str().unwrap(),
    ];
    assert!(addrs.iter().any(|a| a.ends_with(":2006")), "{addrs:?}");
    let d = cdr["duration_s"].as_f64().unwrap();
    assert!((d - 235.0 * 0.030).abs() < 0.005, "duration {d}");
    assert_eq!(cdr["mos"], s["mos"]);
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
        let j = rtp_decode(&pcap, &out, &["--pt", "101=telephone-event/8000"]);
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

/// 1 s of a 440 Hz tone at 8 kHz, written by ffmpeg.
fn tone_wav(dir: &Path) -> PathBuf {
    let src = dir.join("tone8k.wav");
    let o = tool("ffmpeg")
        .args(["-y", "-loglevel", "error", "-f", "lavfi", "-i"])
        .arg("sine=frequency=440:duration=1:sample_rate=8000")
        .args(["-ac", "1"])
        .arg(&src)
        .output()
        .expect("ffmpeg runs");
    assert!(
        o.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    src
}

/// A capture of the RTP datagrams `rtp` (to `port`) at their ideal arrival times: as their RTP timestamps
/// (at `clock` Hz) say, as a perfect network would deliver them. On a loaded machine the real
/// capture carries the scheduling jitter of sender and recorder, which the jitter buffer answers with time
/// stretching or concealment (as it must); the ideal capture checks the decode itself bit for bit.
fn ideal_capture(rtp: &[Vec<u8>], port: u16, clock: u32, path: &Path) {
    use tutti::rtp::PcapWriter;
    let mut w = PcapWriter::new(std::fs::File::create(path).unwrap()).unwrap();
    let ts = |b: &[u8]| u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
    let ts0 = ts(&rtp[0]);
    let (src, dst) = ("127.0.0.1:9".parse().unwrap(), ([127, 0, 0, 1], port).into());
    for b in rtp {
        let t_ns =
            1_700_000_000_000_000_000 + u64::from(ts(b).wrapping_sub(ts0)) * 1_000_000_000 / u64::from(clock);
        w.write_udp(t_ns, src, dst, b).unwrap();
    }
}

/// dumpcap capturing the UDP datagrams to loopback ports P and P + 1 into a pcapng: the capture of the
/// real traffic is made by Wireshark's capture engine, not by our code. Needs capture rights on `lo`
/// (root, or `cap_net_raw,cap_net_admin` on /usr/bin/dumpcap); fails clearly without them.
struct Dumpcap {
    child: Child,
    path: PathBuf,
    stderr: std::thread::JoinHandle<String>,
}

impl Dumpcap {
    fn start(path: &Path, port: u16) -> Self {
        let mut child = tool("dumpcap")
            .args(["-i", "lo", "-q", "-f"])
            .arg(format!("udp and (dst port {port} or dst port {})", port + 1))
            .arg("-w")
            .arg(path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dumpcap starts");
        let (tx, rx) = std::sync::mpsc::channel();
        let err = child.stderr.take().expect("stderr is piped");
        // dumpcap says "Capturing on 'Loopback: lo'" once the capture runs; the rest of its stderr is
        // kept for the failure message.
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if line.starts_with("Capturing on") {
                    let _ = tx.send(());
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        if rx.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            let err = stderr.join().unwrap_or_default();
            let uid = Command::new("id")
                .arg("-u")
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default();
            panic!(
                "dumpcap cannot capture on lo (running as uid {}; it needs root or cap_net_raw,cap_net_admin \
                 on /usr/bin/dumpcap, e.g. `setcap cap_net_raw,cap_net_admin=eip /usr/bin/dumpcap`): {err}",
                String::from_utf8_lossy(&uid).trim()
            );
        }
        // The capture socket is open; give the kernel filter a moment before traffic starts.
        std::thread::sleep(Duration::from_millis(300));
        Self {
            child,
            path: path.to_path_buf(),
            stderr,
        }
    }

    /// Stops the capture (SIGINT, as Ctrl-C: dumpcap flushes and closes the file) and returns its path.
    fn stop(mut self) -> PathBuf {
        let st = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(st.success(), "signal dumpcap");
        let st = self.child.wait().expect("dumpcap exits");
        let err = self.stderr.join().unwrap_or_default();
        assert!(st.success() || st.code().is_none(), "dumpcap: {st}: {err}");
        assert!(
            err.contains("Packets captured"),
            "dumpcap did not finish its capture: {err}"
        );
        self.path
    }
}

/// ffmpeg sends the tone in real time (`-re`) with `args` to `url` while dumpcap captures loopback ports P
/// and P + 1 (the test's own sockets stay bound to them for the whole test, so parallel tests cannot
/// collide and nothing answers with ICMP port unreachable; what they receive is only counted). Returns
/// dumpcap's capture, the ideal capture ([`ideal_capture`]) of the RTP it holds, and the tone file.
fn capture_ffmpeg(
    dir: &Path,
    pair: &LoopbackPair,
    args: &[&str],
    url: &str,
    clock: u32,
) -> (PathBuf, PathBuf, PathBuf) {
    let src = tone_wav(dir);
    let dc = Dumpcap::start(&dir.join("cap.pcapng"), pair.port);
    let mut ff = tool("ffmpeg")
        .args(["-loglevel", "error", "-nostdin", "-re", "-i"])
        .arg(&src)
        .args(args)
        .arg(url)
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg starts");
    let mut received = [0usize; 2];
    let st = pair.record(&mut ff, &dir.join("sockets.pcap"), |is_rtcp, _| {
        received[usize::from(is_rtcp)] += 1;
    });
    let mut err = String::new();
    if let Some(mut e) = ff.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert!(st.success(), "ffmpeg: {err}");
    let cap = dc.stop();
    // Every datagram the sockets received is in dumpcap's capture, in order.
    let mut r = tutti::rtp::CaptureReader::open(&cap).expect("dumpcap's pcapng opens");
    let mut rtp = Vec::new();
    let mut rtcp = 0;
    while let Some(d) = r.next_udp().expect("dumpcap's pcapng reads") {
        if d.dst.port() == pair.port {
            rtp.push(d.payload.to_vec());
        } else if d.dst.port() == pair.port + 1 {
            rtcp += 1;
        }
    }
    assert!(!rtp.is_empty(), "ffmpeg sent RTP");
    assert_eq!(
        [rtp.len(), rtcp],
        received,
        "dumpcap captured what the sockets received"
    );
    let ideal = dir.join("ideal.pcap");
    ideal_capture(&rtp, pair.port, clock, &ideal);
    (cap, ideal, src)
}

/// Our per-stream statistics (RFC 3550 A.8 jitter, mean and max over the stream as tshark computes them)
/// of the RTP to `port` in `cap`, compared with tshark's `-z rtp,streams` row: jitter within 0.1 ms.
fn assert_jitter_matches_tshark(
    cap: &Path,
    port: u16,
    clock: u32,
    row: (u32, u64, i64, f64, f64),
    cli: &Value,
) {
    use tutti::rtp::{RtpPacket, SourceConfig, SourceStats};
    let mut r = tutti::rtp::CaptureReader::open(cap).expect("capture opens");
    let mut st: Option<SourceStats> = None;
    while let Some(d) = r.next_udp().expect("capture reads") {
        if d.dst.port() != port {
            continue;
        }
        let p = RtpPacket::parse(d.payload).expect("RTP parses");
        st.get_or_insert_with(|| SourceStats::new(p.ssrc(), p.sequence_number(), SourceConfig::new(clock)))
            .on_packet(p.sequence_number(), p.timestamp(), d.time_us());
    }
    let st = st.expect("an RTP stream");
    let (_, pkts, lost, mean_j, max_j) = row;
    assert_eq!((st.received(), st.lost()), (pkts, lost));
    assert!(
        (st.mean_jitter_ms() - mean_j).abs() < 0.1 && (st.max_jitter_ms() - max_j).abs() < 0.1,
        "jitter mean/max {:.3}/{:.3} ms vs tshark {mean_j}/{max_j}",
        st.mean_jitter_ms(),
        st.max_jitter_ms()
    );
    // The CLI's jitter is the same estimator at the end of the stream.
    let j = cli["jitter_ms"].as_f64().expect("jitter_ms");
    assert!(
        (j - st.jitter_ms()).abs() < 1e-6,
        "CLI jitter {j} vs {}",
        st.jitter_ms()
    );
    assert!(j <= max_j + 0.1, "final jitter {j} above tshark's max {max_j}");
}

/// What [`ffmpeg_stream_matches_tshark`] checked and decoded.
struct LoopbackStream {
    /// dumpcap's capture.
    cap: PathBuf,
    /// tshark's `-d` argument that decodes the stream as RTP.
    decode_as: String,
    ssrc: u32,
    /// `tutti rtp decode --json` of the capture.
    decoded: Value,
    /// The audio decoded from the ideal capture: rate and samples.
    ideal: (u32, Vec<i16>),
}

/// ffmpeg sends 1 s of the tone over loopback with `ffmpeg_args` (RTP clock `clock`); `tutti rtp decode`
/// of dumpcap's capture finds one `codec` stream whose SSRC, counts and jitter equal tshark's, and the
/// decode of the ideal capture (same packets at their ideal times) conceals and stretches nothing.
fn ffmpeg_stream_matches_tshark(dir: &Path, ffmpeg_args: &[&str], clock: u32, codec: &str) -> LoopbackStream {
    let pair = LoopbackPair::bind();
    let port = pair.port;
    let (cap, ideal, _) = capture_ffmpeg(dir, &pair, ffmpeg_args, &format!("rtp://127.0.0.1:{port}"), clock);
    let decoded = rtp_decode(&cap, &dir.join("out"), &[]);
    let streams = decoded["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1);
    let s = &streams[0];
    assert_eq!(s["codec"], codec);
    let decode_as = format!("udp.port=={port},rtp");
    let ts = tshark_streams(&cap, &decode_as);
    assert_eq!(ts.len(), 1);
    let (ssrc, pkts, lost, _, _) = ts[0];
    assert_eq!(s["ssrc"], format!("{ssrc:08x}"));
    assert!(pkts >= 50, "1 s in 20 ms packets: {pkts}");
    assert_eq!(
        (s["packets"].as_u64(), s["lost"].as_i64()),
        (Some(pkts), Some(lost))
    );
    assert_jitter_matches_tshark(&cap, port, clock, ts[0], s);
    let j = rtp_decode(&ideal, &dir.join("ideal"), &[]);
    let s = &j["streams"][0];
    assert_eq!(s["concealed_ms"], 0.0);
    assert_eq!(s["removed_samples_for_acceleration"], 0);
    assert_eq!(s["inserted_samples_for_deceleration"], 0);
    let ideal = wav_samples(s["wav"].as_str().unwrap());
    LoopbackStream {
        cap,
        decode_as,
        ssrc,
        decoded,
        ideal,
    }
}

#[test]
fn ffmpeg_rtp_over_loopback_decodes_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "-c:a",
        "pcm_mulaw",
        "-af",
        "asetnsamples=n=160",
        "-packetsize",
        "172",
        "-f",
        "rtp",
    ];
    let LoopbackStream {
        cap,
        decode_as,
        ssrc,
        decoded,
        ideal: (_, ours),
    } = ffmpeg_stream_matches_tshark(dir.path(), &args, 8000, "pcmu");
    // ffmpeg sends an RTCP sender report on port + 1.
    assert!(decoded["rtcp"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["type"] == "SR" && r["ssrc"] == format!("{ssrc:08x}")));
    // Audio equals ffmpeg's decode of the payloads it sent, delivered at their ideal times.
    let payloads = tshark_payloads(&cap, &decode_as, ssrc);
    let reference = ffmpeg_g711(&payloads, "mulaw", dir.path());
    assert_eq!(ours.len(), reference.len() - 30);
    assert!(
        ours == reference[..ours.len()],
        "decoded audio differs from ffmpeg's"
    );
}

/// ffmpeg's G.722 encoder over loopback, captured by dumpcap: counts and jitter equal tshark's, and the
/// decode equals ffmpeg's G.722 decode of the same payloads sample for sample.
#[test]
fn ffmpeg_g722_over_loopback_decodes_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "-c:a",
        "g722",
        "-af",
        "aresample=16000,asetnsamples=n=320",
        "-packetsize",
        "172",
        "-f",
        "rtp",
    ];
    // RFC 3551 §4.5.2: G.722's RTP clock is 8000 Hz.
    let LoopbackStream {
        cap,
        decode_as,
        ssrc,
        ideal: (rate, ours),
        ..
    } = ffmpeg_stream_matches_tshark(dir.path(), &args, 8000, "g722");
    // The audio from the same packets at their ideal arrival times against ffmpeg's decoder.
    assert_eq!(rate, 16000);
    let payloads = tshark_payloads(&cap, &decode_as, ssrc);
    let raw = dir.path().join("payloads.g722");
    std::fs::write(&raw, &payloads).unwrap();
    let pcm = dir.path().join("ffmpeg_g722.raw");
    let o = tool("ffmpeg")
        .args(["-y", "-loglevel", "error", "-f", "g722", "-i"])
        .arg(&raw)
        .args(["-f", "s16le", "-acodec", "pcm_s16le"])
        .arg(&pcm)
        .output()
        .expect("ffmpeg runs");
    assert!(
        o.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let reference = common::s16le(&std::fs::read(&pcm).unwrap());
    assert_eq!(reference.len(), payloads.len() * 2);
    assert!(
        ours.len() + 640 >= reference.len() && ours.len() <= reference.len(),
        "{} vs {}",
        ours.len(),
        reference.len()
    );
    assert!(
        ours == reference[..ours.len()],
        "decoded audio differs from ffmpeg's G.722 decode"
    );
}

fn ntp_now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 2_208_988_800
}

#[test]
fn send_paces_rtp_with_rtcp_and_decodes_back() {
    use tutti::rtp::{rtcp_packets, RtcpPacket, RtpPacket};
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("speechlike.wav");
    // 1 s of a 16 kHz tone: `send` must resample it to the codec's 8 kHz.
    let o = tool("ffmpeg")
        .args(["-y", "-loglevel", "error", "-f", "lavfi", "-i"])
        .arg("sine=frequency=300:duration=1:sample_rate=16000")
        .args(["-ac", "1"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(o.status.success());
    let pair = LoopbackPair::bind();
    let port = pair.port;
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
    let (mut n_rtp, mut srs, mut bye) = (0, 0, false);
    let mut rtp = Vec::new();
    let st = pair.record(&mut child, &cap, |is_rtcp, bytes| {
        if !is_rtcp {
            let p = RtpPacket::parse(bytes).expect("tutti sends valid RTP");
            assert_eq!(
                (p.ssrc(), p.payload_type(), p.payload().len()),
                (0x00c0_ffee, 8, 160)
            );
            n_rtp += 1;
            rtp.push(bytes.to_vec());
            return;
        }
        for p in rtcp_packets(bytes) {
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
    });
    assert!(st.success());
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["packets"], 50);
    assert_eq!(n_rtp, 50, "1 s in 20 ms packets");
    assert!(srs >= 1 && bye, "sender report(s) and a BYE on port + 1");
    // Decode what was received (real arrival times): the counts.
    let j = rtp_decode(&cap, &dir.path().join("o"), &[]);
    let s = &j["streams"][0];
    assert_eq!(s["ssrc"], "00c0ffee");
    assert_eq!(s["packets"], 50);
    assert_eq!(s["lost"], 0);
    // The same packets at their ideal times: ffmpeg's A-law decode of the same payloads, bit for bit.
    let ideal = dir.path().join("ideal.pcap");
    ideal_capture(&rtp, port, 8000, &ideal);
    let j = rtp_decode(&ideal, &dir.path().join("i"), &[]);
    let s = &j["streams"][0];
    assert_eq!(s["concealed_ms"], 0.0);
    let (rate, ours) = wav_samples(s["wav"].as_str().unwrap());
    assert_eq!(rate, 8000);
    let payloads = tshark_payloads(&cap, &format!("udp.port=={port},rtp"), 0x00c0_ffee);
    let reference = ffmpeg_g711(&payloads, "alaw", dir.path());
    // A 300 Hz tone: the decoded level is the tone's (−20 dBFS peak from lavfi's sine = 1/8 amplitude).
    let rms = (ours.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / ours.len() as f64).sqrt();
    assert!(
        (rms / (32768.0 / 8.0 / 2f64.sqrt()) - 1.0).abs() < 0.1,
        "rms {rms}"
    );
    assert_eq!(ours.len(), reference.len() - 30);
    assert!(ours == reference[..ours.len()]);
}

#[test]
fn ffmpeg_srtp_is_decrypted_and_wrong_keys_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let pair = LoopbackPair::bind();
    let port = pair.port;
    let key = "WbTBosdVUZqEb6Htqhn+m3z7wUh4RJVR8nE15GbN";
    let sdp = dir.path().join("ffmpeg.sdp");
    let mut ff_args = vec![
        "-c:a",
        "pcm_mulaw",
        "-af",
        "asetnsamples=n=160",
        "-packetsize",
        "182",
        "-f",
        "rtp",
        "-srtp_out_suite",
        "AES_CM_128_HMAC_SHA1_80",
        "-srtp_out_params",
        key,
        "-sdp_file",
    ];
    ff_args.push(sdp.to_str().unwrap());
    let (cap, ideal, src) = capture_ffmpeg(
        dir.path(),
        &pair,
        &ff_args,
        &format!("srtp://127.0.0.1:{port}"),
        8000,
    );
    let out = dir.path().join("out");
    let args = decode_args(&cap, &out);
    let mut with_key = args.to_vec();
    with_key.extend(["--srtp-key", key]);
    let j = decode_json(&with_key);
    let s = &j["streams"][0];
    assert_eq!(s["srtp_auth_failures"], 0);
    assert_eq!(s["codec"], "pcmu");
    assert_eq!(s["lost"], 0);
    let packets = s["packets"].as_u64().unwrap();
    assert!(packets >= 50, "{packets} packets");
    // tshark analyses the (clear) RTP headers of the SRTP packets: same counts and jitter.
    let ts = tshark_streams(&cap, &format!("udp.port=={port},rtp"));
    assert_eq!(ts.len(), 1);
    assert_eq!((ts[0].1, ts[0].2), (packets, 0));
    assert_eq!(s["ssrc"], format!("{:08x}", ts[0].0));
    assert_jitter_matches_tshark(&cap, port, 8000, ts[0], s);
    assert!(
        j["rtcp"].as_array().unwrap().iter().any(|r| r["type"] == "SR"),
        "SRTCP decrypted"
    );
    // The key from ffmpeg's own SDP (`a=crypto`, read by the SDP module) decrypts the same.
    let mut with_sdp = args.to_vec();
    with_sdp.extend(["--sdp", sdp.to_str().unwrap()]);
    let js = decode_json(&with_sdp);
    assert_eq!(js["streams"][0]["packets"], s["packets"]);
    assert_eq!(js["streams"][0]["srtp_auth_failures"], 0);
    // --srtp-key with the SDP: the suite comes from its a=crypto line.
    with_sdp.extend(["--srtp-key", key]);
    let jb = decode_json(&with_sdp);
    assert_eq!(jb["streams"][0]["packets"], s["packets"]);
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
    // (The same SRTP packets at their ideal arrival times, so no time stretching or concealment.)
    let ji = rtp_decode(&ideal, &dir.path().join("ideal"), &["--srtp-key", key]);
    let si = &ji["streams"][0];
    assert_eq!(si["concealed_ms"], 0.0);
    assert_eq!(si["packets"], s["packets"]);
    let (_, ours) = wav_samples(si["wav"].as_str().unwrap());
    let n = ours.len().min(reference.len() - 30);
    assert!(n > 7000);
    assert!(
        ours[..n] == reference[..n],
        "decrypted audio differs from ffmpeg's µ-law coding"
    );
    // A wrong key: every packet fails authentication, nothing is decoded, nothing panics.
    let mut wrong = args.to_vec();
    wrong.extend(["--srtp-key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]);
    let j = decode_json(&wrong);
    let s = &j["streams"][0];
    assert_eq!(s["srtp_auth_failures"].as_u64(), Some(packets));
    assert_eq!(s["packets"], 0);
}

#[test]
fn sdp_module_maps_dynamic_payload_types_of_an_ffmpeg_sdp() {
    // ffmpeg writes the SDP of an Opus stream (dynamic payload type) and sends the stream; our decode takes
    // the payload type from that SDP (parsed by the SDP module) and decodes the tone.
    let dir = tempfile::tempdir().unwrap();
    let pair = LoopbackPair::bind();
    let port = pair.port;
    let sdp = dir.path().join("opus.sdp");
    let (cap, ideal, _) = capture_ffmpeg(
        dir.path(),
        &pair,
        &[
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            "-f",
            "rtp",
            "-sdp_file",
            sdp.to_str().unwrap(),
        ],
        &format!("rtp://127.0.0.1:{port}"),
        48000,
    );
    let text = std::fs::read_to_string(&sdp).unwrap();
    let pt: u8 = text
        .lines()
        .find_map(|l| l.strip_prefix("a=rtpmap:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("ffmpeg's SDP has an a=rtpmap line");
    assert!(pt >= 96, "dynamic payload type {pt}");
    let out = dir.path().join("out");
    let base = decode_args(&cap, &out);
    // Without the SDP the payload type is unknown: no audio, the packets are ignored.
    let j = decode_json(&base);
    assert_eq!(j["streams"][0]["codec"], "unknown");
    let mut with_sdp = base.to_vec();
    with_sdp.extend(["--sdp", sdp.to_str().unwrap()]);
    let j = decode_json(&with_sdp);
    let s = &j["streams"][0];
    assert_eq!(s["payload_type"], pt);
    assert_eq!(
        s["codec"].as_str().map(|c| c.starts_with("opus")),
        Some(true),
        "{}",
        s["codec"]
    );
    assert_eq!(s["lost"], 0);
    assert_eq!(s["sample_rate"], 48000);
    // tshark's stream analysis on dumpcap's capture: same packets and loss. (tshark 4.0 knows no clock
    // rate for the dynamic payload type without a SIP/SDP exchange in the capture, so it shows no jitter
    // for this stream; the jitter comparison runs on the static-type streams.)
    let ts = tshark_streams(&cap, &format!("udp.port=={port},rtp"));
    assert_eq!(ts.len(), 1);
    assert_eq!(s["ssrc"], format!("{:08x}", ts[0].0));
    assert_eq!(
        (s["packets"].as_u64(), s["lost"].as_i64()),
        (Some(ts[0].1), Some(ts[0].2))
    );
    // The audio, from the same packets at their ideal arrival times.
    let mut ideal_args = decode_args(&ideal, &out);
    ideal_args.extend(["--sdp", sdp.to_str().unwrap()]);
    let j = decode_json(&ideal_args);
    let s = &j["streams"][0];
    assert_eq!(s["concealed_ms"], 0.0);
    let played = s["played_ms"].as_f64().unwrap();
    assert!(played > 900.0, "played {played} ms");
    // lavfi's sine has amplitude 1/8: RMS 32768 / 8 / √2 (Opus at 32 kbit/s keeps a pure tone's level).
    let (_, ours) = wav_samples(s["wav"].as_str().unwrap());
    let rms = (ours.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / ours.len() as f64).sqrt();
    assert!(
        (rms / (32768.0 / 8.0 / 2f64.sqrt()) - 1.0).abs() < 0.25,
        "rms {rms}"
    );
    // A malformed SDP is a clear error, not a panic.
    let bad = dir.path().join("bad.sdp");
    std::fs::write(&bad, "v=0\nm=audio notaport RTP/AVP 0\n").unwrap();
    let mut bad_args = base.to_vec();
    bad_args.extend(["--sdp", bad.to_str().unwrap()]);
    let o = common::tutti(&bad_args);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.sdp"), "{err}");
}

#[test]
fn comfort_noise_and_telephone_events_in_a_stream_are_not_loss() {
    use tutti::rtp::{PcapWriter, RtpBuilder};
    // One SSRC: 1 s of PCMU, an RFC 3389 CN packet (PT 13) and 0.5 s of DTX, a 100 ms RFC 4733 event
    // (PT 101, 5 packets), 1 s of PCMU. Every packet takes the next sequence number, as senders do.
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("cn.pcap");
    let mut w = PcapWriter::new(std::fs::File::create(&cap).unwrap()).unwrap();
    let (src, dst) = ("10.0.0.1:4000".parse().unwrap(), "10.0.0.2:5000".parse().unwrap());
    let (mut seq, mut ts, mut t_ns) = (7000u16, 123_456u32, 1_700_000_000_000_000_000u64);
    let mut put = |pt: u8, marker: bool, payload: &[u8], seq: &mut u16, ts: u32, t_ns: u64| {
        let mut buf = [0u8; 256];
        let b = RtpBuilder {
            marker,
            payload_type: pt,
            sequence_number: *seq,
            timestamp: ts,
            ssrc: 0x5eed_0001,
            ..Default::default()
        };
        let n = b.write(payload, &mut buf).unwrap();
        w.write_udp(t_ns, src, dst, &buf[..n]).unwrap();
        *seq = seq.wrapping_add(1);
    };
    let pcmu = [0xF0u8; 160];
    for k in 0..50 {
        put(0, k == 0, &pcmu, &mut seq, ts, t_ns);
        ts += 160;
        t_ns += 20_000_000;
    }
    put(13, false, &[50, 140, 120], &mut seq, ts, t_ns);
    ts += 25 * 160;
    t_ns += 25 * 20_000_000;
    for k in 0..5u16 {
        let d = (k + 1) * 160;
        let payload = [5u8, if k == 4 { 0x8a } else { 0x0a }, (d >> 8) as u8, d as u8];
        put(101, k == 0, &payload, &mut seq, ts, t_ns);
        t_ns += 20_000_000;
    }
    ts += 5 * 160;
    for k in 0..50 {
        put(0, k == 0, &pcmu, &mut seq, ts, t_ns);
        ts += 160;
        t_ns += 20_000_000;
    }
    drop(w);
    let out = dir.path().join("out");
    let j = rtp_decode(&cap, &out, &["--pt", "101=telephone-event/8000"]);
    let s = &j["streams"][0];
    assert_eq!(s["codec"], "pcmu");
    assert_eq!(s["packets"], 106);
    assert_eq!(
        s["lost"], 0,
        "CN and event packets take sequence numbers: not loss"
    );
    assert_eq!(s["comfort_noise_packets"], 1);
    assert_eq!(s["concealed_ms"], 0.0);
    assert_eq!(j["ignored_packets"], 0);
    assert_eq!(s["events"][0]["digit"], "5");
    // The DTX pause after the CN packet is comfort noise (its 20 ms frames), not concealment.
    let cn_ms = s["comfort_noise_ms"].as_f64().unwrap();
    assert!(cn_ms >= 400.0, "comfort noise {cn_ms} ms");
    // tshark sees one stream with no loss in the same capture.
    let ts_rows = tshark_streams(&cap, "udp.port==5000,rtp");
    assert_eq!(ts_rows.len(), 1);
    assert_eq!((ts_rows[0].1, ts_rows[0].2), (106, 0), "tshark: packets, lost");
}
