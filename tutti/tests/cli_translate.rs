//! `tutti translate` end to end with tools we did not write: ffmpeg sends recorded speech as G.711 RTP to
//! `tutti translate --listen`, which forwards Opus (a) to a recording socket, decoded by our Opus decoder
//! and compared with ffmpeg's own decode of the prompt (correlation, and PESQ when the `pesq` Python package
//! is installed), with the RTP and RTCP rules checked on the wire, and (b) to an ffmpeg receiver reading
//! an SDP (ffmpeg's Opus decoder). `--pcap` translates the SIPp G.711 A-law capture of the test vectors to
//! G.722 at 30 ms. Bad flags give one-line errors.

mod common;
use common::{asterisk_prompt as prompt, s16le, tmp_dir, tool, vectors, LoopbackPair};

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tutti::codecs::CodecSpec;
use tutti::rtp::{classify, rtcp_packets, CaptureReader, PacketKind, RtcpPacket, RtpPacket};

/// ffmpeg's decode of a prompt at 8 kHz (first 6 s).
fn reference(g722: &Path) -> Vec<f32> {
    let o = tool("ffmpeg")
        .args(["-v", "error", "-nostdin", "-f", "g722", "-i"])
        .arg(g722)
        .args(["-t", "6", "-f", "s16le", "-ac", "1", "-ar", "8000", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(o.status.success());
    s16le(&o.stdout).iter().map(|&s| f32::from(s) / 32768.0).collect()
}

fn free_pair_port() -> u16 {
    let p = LoopbackPair::bind();
    p.port
}

fn translate(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tutti"))
        .arg("translate")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tutti runs")
}

fn g711_sender(input: &Path, codec: &str, pt: &str, ssrc: &str, port: u16) -> Child {
    tool("ffmpeg")
        .args(["-v", "error", "-nostdin", "-re", "-f", "g722", "-i"])
        .arg(input)
        .args(["-t", "6", "-ac", "1", "-ar", "8000", "-c:a", codec, "-f", "rtp"])
        .args(["-ssrc", ssrc, "-payload_type", pt])
        // 20 ms packets: ffmpeg fills PCM packets up to the packet size (172 = 12 + 160 bytes).
        .arg(format!("rtp://127.0.0.1:{port}?pkt_size=172"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("ffmpeg starts")
}

/// Decodes Opus RTP packets at 8 kHz onto a timeline by timestamp.
fn decode_opus(pkts: &[(u32, Vec<u8>)]) -> Vec<f32> {
    let mut dec = CodecSpec::Opus {
        sample_rate: 8000,
        channels: 1,
        bitrate: None,
    }
    .decoder()
    .expect("decoder");
    let ts0 = pkts[0].0;
    let mut y = Vec::new();
    let mut pcm = vec![0i16; 2000];
    for (ts, p) in pkts {
        let pos = (ts.wrapping_sub(ts0) / 6) as usize;
        let n = dec.decode(p, &mut pcm).expect("decodable Opus");
        if y.len() < pos + n {
            y.resize(pos + n, 0.0);
        }
        for i in 0..n {
            y[pos + i] = f32::from(pcm[i]) / 32768.0;
        }
    }
    y
}

/// Best normalised cross-correlation of `y[lag..]` with `x` over lags `0..max_lag`: (ρ, lag).
fn best_rho(y: &[f32], x: &[f32], max_lag: usize) -> (f32, usize) {
    let mut best = (0f32, 0usize);
    for lag in 0..max_lag {
        let n = x.len().min(y.len().saturating_sub(lag));
        if n < 8000 {
            break;
        }
        let (mut c, mut ex, mut ey) = (0f32, 0f32, 0f32);
        for (a, b) in x[..n].iter().zip(&y[lag..lag + n]) {
            c += a * b;
            ex += a * a;
            ey += b * b;
        }
        let r = c / (ex * ey).sqrt().max(1e-12);
        if r > best.0 {
            best = (r, lag);
        }
    }
    best
}

/// PESQ (narrowband, 8 kHz) of `deg` against `reference` when python3 can import `pesq`.
fn pesq_nb(dir: &Path, reference: &[f32], deg: &[f32]) -> Option<f64> {
    let ok = Command::new("python3")
        .args(["-c", "import pesq, numpy"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("python3 cannot import pesq: PESQ skipped, the correlation bound stands alone");
        return None;
    }
    let n = reference.len().min(deg.len());
    let write = |name: &str, x: &[f32]| {
        let p = dir.join(name);
        let b: Vec<u8> = x[..n]
            .iter()
            .flat_map(|&v| ((v * 32767.0).clamp(-32768.0, 32767.0) as i16).to_le_bytes())
            .collect();
        std::fs::write(&p, b).expect("write raw PCM");
        p
    };
    let (r, d) = (write("ref.raw", reference), write("deg.raw", deg));
    let o = Command::new("python3")
        .args([
            "-c",
            "import sys, numpy as np; from pesq import pesq; \
             r = np.fromfile(sys.argv[1], dtype='<i2').astype(float); \
             d = np.fromfile(sys.argv[2], dtype='<i2').astype(float); \
             print(pesq(8000, r, d, 'nb'))",
        ])
        .arg(&r)
        .arg(&d)
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "pesq: {}", String::from_utf8_lossy(&o.stderr));
    Some(
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse()
            .expect("a PESQ score"),
    )
}

fn json_of(child: Child) -> Value {
    let o = child.wait_with_output().expect("tutti ends");
    assert!(
        o.status.success(),
        "tutti translate: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("--json prints one JSON document")
}

#[test]
fn ffmpeg_g711_in_opus_out_keeps_ssrc_timing_audio_and_rewrites_rtcp() {
    let dir = tmp_dir("translate-udp");
    let src = prompt("demo-congrats");
    let rx = LoopbackPair::bind();
    let listen = free_pair_port();
    let mut tr = translate(&[
        "--listen",
        &format!("127.0.0.1:{listen}"),
        "--to",
        &format!("127.0.0.1:{}", rx.port),
        "--codec",
        "opus",
        "--json",
        "--seconds",
        "8",
    ]);
    std::thread::sleep(Duration::from_millis(400));
    let mut ff = g711_sender(&src, "pcm_mulaw", "0", "1234", listen);
    let (mut rtp, mut rtcp) = (Vec::new(), Vec::new());
    // Record until the translator has stopped (its BYE is the last datagram).
    let st = rx.record(&mut tr, &dir.join("rx.pcap"), |is_rtcp, b| {
        if is_rtcp {
            rtcp.push(b.to_vec());
        } else {
            rtp.push(b.to_vec());
        }
    });
    assert!(st.success(), "tutti translate failed");
    assert!(ff.wait().expect("ffmpeg ends").success(), "ffmpeg sender failed");
    let doc = json_of(tr);
    // RTP on the wire: the sender's SSRC, our payload type, consecutive sequence numbers, 20 ms steps of the
    // 48 kHz clock, marker on the first packet only.
    let pkts: Vec<RtpPacket> = rtp
        .iter()
        .map(|d| RtpPacket::parse(d).expect("valid RTP from the translator"))
        .collect();
    assert!(pkts.len() >= 290, "{} packets for 6 s", pkts.len());
    for p in &pkts {
        assert_eq!(p.ssrc(), 1234, "SSRC kept");
        assert_eq!(p.payload_type(), 96);
    }
    assert!(pkts[0].marker());
    for w in pkts.windows(2) {
        assert_eq!(w[1].sequence_number(), w[0].sequence_number().wrapping_add(1));
        assert_eq!(w[1].timestamp().wrapping_sub(w[0].timestamp()), 960);
        assert!(!w[1].marker());
    }
    // RTCP downstream: ffmpeg's SR (it sends one before its first packet, which cannot be translated yet,
    // and one 5 s later) with our figures, and our BYE for the stream when the translator stops.
    let (mut srs, mut bye) = (0, false);
    let (first_ts, last_ts) = (pkts[0].timestamp(), pkts[pkts.len() - 1].timestamp());
    for d in &rtcp {
        for p in rtcp_packets(d).map(|p| p.expect("valid RTCP from the translator")) {
            match p {
                RtcpPacket::SenderReport(sr) => {
                    assert_eq!(sr.ssrc, 1234);
                    srs += 1;
                    // The SR's RTP time lies on the outgoing clock, inside what was sent (± 1 s).
                    let off = sr.info.rtp_timestamp.wrapping_sub(first_ts) as i32;
                    assert!(
                        off > -48_000 && off < (last_ts.wrapping_sub(first_ts) + 48_000) as i32,
                        "{off}"
                    );
                    assert!(sr.info.packet_count > 0 && (sr.info.packet_count as usize) <= pkts.len());
                    assert!(sr.info.octet_count > 0);
                }
                RtcpPacket::Bye(b) => bye |= b.ssrcs().any(|s| s == 1234),
                _ => {}
            }
        }
    }
    assert!(srs >= 1, "ffmpeg's sender report was forwarded");
    assert!(
        bye,
        "BYE for the stream's SSRC when the translator stops (RFC 3550 §7.2)"
    );
    // Audio: our Opus decode against ffmpeg's decode of the prompt.
    let y = decode_opus(
        &pkts
            .iter()
            .map(|p| (p.timestamp(), p.payload().to_vec()))
            .collect::<Vec<_>>(),
    );
    let x = reference(&src);
    let (rho, lag) = best_rho(&y, &x, 400);
    // Bound: ρ ≥ 0.90 over the whole 6 s (G.711 then Opus at its default VoIP rate; measured 0.96), at a
    // lag of codec delays only (< 15 ms: the translator holds the timing).
    assert!(rho >= 0.90, "correlation {rho:.3} at lag {lag}");
    assert!(lag < 120, "lag {lag} samples");
    if let Some(p) = pesq_nb(&dir, &x, &y[lag..]) {
        // PESQ-NB ≥ 3.0 (G.711 µ-law then Opus; measured 4.00).
        assert!(p >= 3.0, "PESQ {p}");
        eprintln!("PESQ-NB {p:.2}, rho {rho:.3}, lag {lag}");
    }
    // The statistics.
    let s = &doc["streams"][0];
    assert_eq!(s["ssrc"], "000004d2");
    assert_eq!(s["incoming"]["codec"], "pcmu");
    assert_eq!(s["outgoing"]["codec"], "opus");
    assert_eq!(s["incoming"]["lost"], 0);
    assert!(s["incoming"]["packets"].as_u64().expect("count") >= 290);
    assert!(s["incoming"]["mos"].as_f64().expect("mos") > 4.0);
    assert!(s["counters"]["tx_rtp"].as_u64().expect("count") as usize >= pkts.len());
}

#[test]
fn ffmpeg_receives_the_translated_opus_through_an_sdp() {
    let dir = tmp_dir("translate-ffrx");
    let src = prompt("demo-instruct");
    let rx_port = free_pair_port();
    let sdp = dir.join("rx.sdp");
    std::fs::write(
        &sdp,
        format!(
            "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=tutti\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {rx_port} RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n"
        ),
    )
    .expect("write the SDP");
    let out = dir.join("rx.raw");
    let mut ffrx = tool("ffmpeg")
        .args([
            "-v",
            "error",
            "-nostdin",
            "-protocol_whitelist",
            "file,udp,rtp",
            "-i",
        ])
        .arg(&sdp)
        .args(["-t", "4", "-f", "s16le", "-ac", "1", "-ar", "8000", "-y"])
        .arg(&out)
        .stdin(Stdio::null())
        .spawn()
        .expect("ffmpeg receiver starts");
    let listen = free_pair_port();
    let tr = translate(&[
        "--listen",
        &format!("127.0.0.1:{listen}"),
        "--to",
        &format!("127.0.0.1:{rx_port}"),
        "--codec",
        "opus",
        "--pt",
        "111",
        "--ptime",
        "40",
        "--json",
        "--seconds",
        "8",
    ]);
    std::thread::sleep(Duration::from_millis(500));
    let mut ff = g711_sender(&src, "pcm_alaw", "8", "777", listen);
    assert!(ff.wait().expect("ffmpeg ends").success());
    let doc = json_of(tr);
    let _ = ffrx.kill();
    let _ = ffrx.wait();
    let y: Vec<f32> = s16le(&std::fs::read(&out).expect("ffmpeg wrote the audio"))
        .iter()
        .map(|&s| f32::from(s) / 32768.0)
        .collect();
    assert!(y.len() >= 3 * 8000, "ffmpeg decoded {} samples", y.len());
    let x = reference(&src);
    // ffmpeg starts its output at the first packet it got: align within 0.5 s.
    let (rho, lag) = best_rho(&y, &x[..y.len().min(x.len()) - 4000], 4000);
    // Bound: ρ ≥ 0.85 (G.711 A-law then Opus 40 ms decoded by ffmpeg's libopus/native decoder).
    assert!(
        rho >= 0.85,
        "ffmpeg's decode of the translation: ρ {rho:.3} at lag {lag}"
    );
    let s = &doc["streams"][0];
    assert_eq!(s["ssrc"], "00000309");
    assert_eq!(s["incoming"]["codec"], "pcma");
    assert_eq!(s["outgoing"]["payload_type"], 111);
}

#[test]
fn pcap_mode_translates_the_sipp_capture_to_g722_at_30_ms() {
    let dir = tmp_dir("translate-pcap");
    let cap = vectors().join("sipp/g711a.pcap");
    assert!(cap.is_file(), "{} missing", cap.display());
    let out = dir.join("out.pcap");
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let to = sink.local_addr().expect("addr");
    let o = Command::new(env!("CARGO_BIN_EXE_tutti"))
        .args(["translate", "--pcap"])
        .arg(&cap)
        .args([
            "--to",
            &to.to_string(),
            "--codec",
            "g722",
            "--ptime",
            "30",
            "--speed",
            "0",
            "--json",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("tutti runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    // The input streams: PCMA packets per SSRC, decoded with the A-law decoder.
    let mut input: Vec<(u32, Vec<f32>, u64)> = Vec::new();
    let mut rd = CaptureReader::open(&cap).expect("capture");
    let mut a = CodecSpec::Pcma.decoder().expect("decoder");
    let mut pcm = vec![0i16; 2000];
    while let Some(d) = rd.next_udp().expect("read") {
        if classify(d.payload) != PacketKind::Rtp {
            continue;
        }
        let p = RtpPacket::parse(d.payload).expect("RTP");
        if p.payload_type() != 8 {
            continue;
        }
        let i = match input.iter().position(|s| s.0 == p.ssrc()) {
            Some(i) => i,
            None => {
                input.push((p.ssrc(), Vec::new(), 0));
                input.len() - 1
            }
        };
        let n = a.decode(p.payload(), &mut pcm).expect("A-law");
        input[i]
            .1
            .extend(pcm[..n].iter().map(|&s| f32::from(s) / 32768.0));
        input[i].2 += 1;
    }
    assert!(!input.is_empty());
    let streams = doc["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), input.len());
    // The output capture: per SSRC, G.722 packets of 30 ms (240 ticks of its 8 kHz clock).
    let mut rd = CaptureReader::open(&out).expect("output capture");
    type Packets = Vec<(u16, u32, Vec<u8>)>;
    let mut outp: Vec<(u32, Packets)> = Vec::new();
    while let Some(d) = rd.next_udp().expect("read") {
        if d.dst != to || classify(d.payload) != PacketKind::Rtp {
            continue;
        }
        let p = RtpPacket::parse(d.payload).expect("RTP");
        assert_eq!(p.payload_type(), 9);
        assert_eq!(p.payload().len(), 240, "30 ms of G.722");
        let i = match outp.iter().position(|s| s.0 == p.ssrc()) {
            Some(i) => i,
            None => {
                outp.push((p.ssrc(), Vec::new()));
                outp.len() - 1
            }
        };
        outp[i]
            .1
            .push((p.sequence_number(), p.timestamp(), p.payload().to_vec()));
    }
    for (ssrc, x, n_in) in &input {
        let s = streams
            .iter()
            .find(|s| s["ssrc"] == format!("{ssrc:08x}"))
            .expect("a report per input stream");
        assert_eq!(s["incoming"]["packets"].as_u64(), Some(*n_in));
        // Its call detail record: the incoming leg's figures, both addresses, and a duration of at least
        // the stream's packets at 30 ms (RTCP from the sender may close it later).
        let cdr = &s["cdr"];
        assert_eq!(cdr["event"], "cdr");
        assert_eq!(cdr["packets"].as_u64(), Some(*n_in));
        assert_eq!(cdr["from"]["ssrc"], format!("{ssrc:08x}"));
        assert_eq!(cdr["to"]["addr"], to.to_string());
        let d = cdr["duration_s"].as_f64().expect("duration");
        assert!(
            d >= (*n_in - 1) as f64 * 0.030 - 0.005,
            "duration {d} for {n_in} packets"
        );
        assert_eq!(cdr["mos"], s["incoming"]["mos"]);
        let (_, pk) = outp
            .iter()
            .find(|o| o.0 == *ssrc)
            .expect("SSRC kept on the output");
        for w in pk.windows(2) {
            assert_eq!(w[1].0, w[0].0.wrapping_add(1));
            assert_eq!(w[1].1.wrapping_sub(w[0].1), 240);
        }
        let mut g = CodecSpec::G722(tutti::codecs::G722Mode::Kbps64)
            .decoder()
            .expect("decoder");
        let mut y16 = Vec::new();
        let mut pcm = vec![0i16; 1000];
        for (_, _, p) in pk {
            let n = g.decode(p, &mut pcm).expect("G.722");
            y16.extend(pcm[..n].iter().map(|&s| f32::from(s) / 32768.0));
        }
        // Back to 8 kHz (the content is below 4 kHz): every other sample.
        let y: Vec<f32> = y16.iter().step_by(2).copied().collect();
        let (rho, lag) = best_rho(&y, x, 200);
        // Bound: ρ ≥ 0.95 (A-law to G.722 at 64 kbit/s, a waveform codec; lag = codec delays).
        assert!(rho >= 0.95, "{ssrc:08x}: ρ {rho:.3} at lag {lag}");
        assert!(y.len() + 240 >= x.len(), "all the audio is out");
    }
}

#[test]
fn bad_flags_give_one_line_errors() {
    let listen =
        |rest: &[&'static str]| [&["--listen", "127.0.0.1:0", "--to", "127.0.0.1:9"][..], rest].concat();
    for (args, needle) in [
        (listen(&["--codec", "opus", "--ptime", "25"]), "ptime"),
        (listen(&["--codec", "opus", "--ptime", "30"]), "ptime"),
        (listen(&["--codec", "mp3"]), "--codec"),
        (
            vec!["--listen", "127.0.0.1:0", "--to", "nowhere", "--codec", "pcmu"],
            "--to",
        ),
        (listen(&["--codec", "pcmu", "--chain", "nope"]), "chain"),
        (
            vec![
                "--pcap",
                "/nonexistent.pcap",
                "--to",
                "127.0.0.1:9",
                "--codec",
                "pcmu",
            ],
            "nonexistent",
        ),
        (listen(&["--codec", "pcmu", "--seconds", "0"]), "--seconds"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_tutti"))
            .arg("translate")
            .args(&args)
            .output()
            .expect("tutti runs");
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(e.trim_end().lines().count(), 1, "{args:?}: {e}");
        assert!(
            e.starts_with("tutti: error:") && e.contains(needle),
            "{args:?}: {e}"
        );
    }
    // --pcap and --listen together: clap's usage error (exit 2).
    let o = Command::new(env!("CARGO_BIN_EXE_tutti"))
        .args([
            "translate",
            "--pcap",
            "a",
            "--listen",
            "127.0.0.1:1",
            "--to",
            "127.0.0.1:9",
            "--codec",
            "pcmu",
        ])
        .output()
        .expect("tutti runs");
    assert_eq!(o.status.code(), Some(2));
}
