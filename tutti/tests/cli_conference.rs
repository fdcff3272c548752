//! `tutti conference` end to end on loopback with clients we did not write: three ffmpeg processes send
//! recorded speech as PCMU, G.722 and Opus over SRTP; what the conference sends back to each is recorded,
//! decrypted and decoded; each return must carry the other legs' speech (cross-correlation with ffmpeg's
//! own decode of the prompts) and not its own, with the right CSRC lists. A second test cascades two
//! conference servers.

mod common;
use common::{asterisk_prompt as prompt, mono_codec, tmp_dir, tool};

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tutti::rtp::{CryptoAttribute, RtpPacket, SrtpConfig, SrtpProfile};

const KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

/// ffmpeg's decode of a prompt at `rate` (first `secs` seconds).
fn reference(g722: &Path, rate: u32, secs: f32) -> Vec<f32> {
    let out = tool("ffmpeg")
        .args(["-v", "error", "-f", "g722", "-i"])
        .arg(g722)
        .args([
            "-t",
            &secs.to_string(),
            "-f",
            "f32le",
            "-ac",
            "1",
            "-ar",
            &rate.to_string(),
            "-",
        ])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success());
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Records every datagram arriving at a socket until stopped.
struct Recorder {
    port: u16,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<Vec<u8>>>,
}

impl Recorder {
    fn start() -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let port = sock.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 2048];
            while !s.load(Ordering::Relaxed) {
                if let Ok(n) = sock.recv(&mut buf) {
                    got.push(buf[..n].to_vec());
                }
            }
            got
        });
        Self { port, stop, handle }
    }

    fn finish(self) -> Vec<Vec<u8>> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("recorder thread")
    }
}

/// What a client got back: decoded audio at the codec rate and the CSRC lists of the RTP packets.
struct Return {
    audio: Vec<f32>,
    csrcs: Vec<Vec<u32>>,
    ssrcs: Vec<u32>,
}

fn decode_return(dgrams: Vec<Vec<u8>>, codec: &str, pt: u8, srtp: bool) -> Return {
    let mut dec = mono_codec(codec).decoder().expect("decoder");
    let mut ctx = srtp.then(|| key().context(SrtpConfig::default()).expect("ctx"));
    let mut r = Return {
        audio: Vec::new(),
        csrcs: Vec::new(),
        ssrcs: Vec::new(),
    };
    let mut pcm = vec![0i16; 4096];
    for mut d in dgrams {
        if (192..=223).contains(&d[1]) {
            continue; // RTCP
        }
        let mut n = d.len();
        if let Some(c) = ctx.as_mut() {
            n = c
                .unprotect_rtp(&mut d, n)
                .expect("the conference's SRTP verifies with the leg's key");
        }
        let p = RtpPacket::parse(&d[..n]).expect("valid RTP from the conference");
        assert_eq!(p.payload_type(), pt);
        let m = dec.decode(p.payload(), &mut pcm).expect("decodable");
        r.audio.extend(pcm[..m].iter().map(|&s| f32::from(s) / 32768.0));
        r.csrcs.push(p.csrcs().collect());
        r.ssrcs.push(p.ssrc());
    }
    r
}

fn key() -> CryptoAttribute {
    CryptoAttribute::from_base64_key(
        SrtpProfile::from_sdes_name("AES_CM_128_HMAC_SHA1_80").expect("suite"),
        KEY,
    )
    .expect("key")
}

/// Normalised cross-correlation of `y[lag..]` with `x`.
fn rho_at(y: &[f32], x: &[f32], lag: usize) -> f32 {
    let Some(yy) = y.get(lag..lag + x.len()) else {
        return 0.0;
    };
    let ex: f32 = x.iter().map(|v| v * v).sum();
    let ey: f32 = yy.iter().map(|v| v * v).sum();
    let c: f32 = x.iter().zip(yy).map(|(a, b)| a * b).sum();
    c / (ex * ey).sqrt().max(1e-12)
}

/// One-second windows of the reference `x` (8 kHz) with speech in them, each matched against `y` at the
/// best delay in 0–3 s: (window start, delay, ρ). Windows are matched separately because the jitter
/// buffer's time-scale modification lets the delay drift over the call.
fn windows(y: &[f32], x: &[f32]) -> Vec<(usize, usize, f32)> {
    let mut out = Vec::new();
    for w in (0..x.len().saturating_sub(8000)).step_by(8000) {
        let xw = &x[w..w + 8000];
        if xw.iter().map(|v| v * v).sum::<f32>() / 8000.0 < 1e-4 {
            continue; // a pause in the prompt
        }
        let mut best = (0usize, 0f32);
        for lag in (0..24000).step_by(2) {
            let r = rho_at(y, xw, w + lag);
            if r > best.1 {
                best = (lag, r);
            }
        }
        out.push((w, best.0, best.1));
    }
    out
}

fn mean_rho(ws: &[(usize, usize, f32)]) -> f32 {
    assert!(!ws.is_empty(), "no speech windows");
    ws.iter().map(|w| w.2).sum::<f32>() / ws.len() as f32
}

/// Pooled ρ of `y` with `x` over the windows `ws` of `x` (found in another return at their lags), each
/// window taken at its lag there plus `offset`; `None` when fewer than two windows lie inside `y`.
fn pooled_rho(y: &[f32], x: &[f32], ws: &[(usize, usize, f32)], offset: i64) -> Option<f32> {
    let (mut c, mut ex, mut ey) = (0f32, 0f32, 0f32);
    let mut used = 0;
    for &(w, lag, _) in ws {
        let start = w as i64 + lag as i64 + offset;
        let Some(yy) = usize::try_from(start).ok().and_then(|s| y.get(s..s + 8000)) else {
            continue;
        };
        used += 1;
        for (a, b) in x[w..w + 8000].iter().zip(yy) {
            c += a * b;
            ex += a * a;
            ey += b * b;
        }
    }
    (used >= 2).then(|| c / (ex * ey).sqrt().max(1e-12))
}

/// How much later (8 kHz samples, within ±50 ms) a mix tick sits in return `y_b` than in the return the
/// windows `ws_k` of a third leg's prompt `x_k` were found in, with the pooled ρ there. Both returns carry
/// that leg's audio, the same samples out of its jitter buffer (time scaling included), so the windows
/// line up at one offset for all of them, whatever part of the window each lag matched.
fn return_offset(y_b: &[f32], x_k: &[f32], ws_k: &[(usize, usize, f32)]) -> (i64, f32) {
    let mut best = (0i64, f32::NEG_INFINITY);
    for d in -400i64..=400 {
        let r = pooled_rho(y_b, x_k, ws_k, d).expect("the third leg's windows lie inside both returns");
        if r > best.1 {
            best = (d, r);
        }
    }
    best
}

fn ffmpeg_sender(input: &Path, args: &[&str], url: &str) -> Child {
    tool("ffmpeg")
        .args(["-v", "error", "-re", "-f", "g722", "-i"])
        .arg(input)
        .args(["-t", "6", "-ac", "1"])
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("ffmpeg starts")
}

/// ffmpeg sending a prompt as G.722 RTP (20 ms packets) with an SSRC to a local port.
fn g722_sender(input: &Path, ssrc: &str, port: u16) -> Child {
    ffmpeg_sender(
        input,
        &[
            "-ar",
            "16000",
            "-c:a",
            "g722",
            "-f",
            "rtp",
            "-ssrc",
            ssrc,
            "-payload_type",
            "9",
        ],
        &format!("rtp://127.0.0.1:{port}?pkt_size=172"),
    )
}

fn conference(config: &Path, seconds: f32) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tutti"))
        .args(["conference", "--config"])
        .arg(config)
        .args(["--seconds", &seconds.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tutti runs")
}

#[test]
fn three_ffmpeg_clients_pcmu_g722_opus_srtp_hear_each_other_not_themselves() {
    let dir = tmp_dir("e2e");
    let prompts = [
        prompt("demo-instruct"),
        prompt("demo-congrats"),
        prompt("priv-callee-options"),
    ];
    let recs: Vec<Recorder> = (0..3).map(|_| Recorder::start()).collect();
    let port = free_port();
    let cfg = dir.join("conf.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"listen = "127.0.0.1:{port}"
allow_join = false
[[leg]]
name = "pcmu"
codec = "pcmu"
remote = "127.0.0.1:{}"
remote_ssrc = 1111
[[leg]]
name = "g722"
codec = "g722"
remote = "127.0.0.1:{}"
remote_ssrc = 2222
[[leg]]
name = "opus-srtp"
codec = "opus"
payload_type = 96
remote = "127.0.0.1:{}"
remote_ssrc = 3333
srtp_key = "{KEY}"
"#,
            recs[0].port, recs[1].port, recs[2].port
        ),
    )
    .expect("write config");
    let server = conference(&cfg, 9.0);
    std::thread::sleep(Duration::from_millis(300));
    // 20 ms packets: ffmpeg fills PCM and G.722 packets up to the packet size (172 = 12 + 160 bytes).
    let url = format!("rtp://127.0.0.1:{port}?pkt_size=172");
    let srtp_url = format!("srtp://127.0.0.1:{port}");
    let mut clients = vec![
        ffmpeg_sender(
            &prompts[0],
            &[
                "-ar",
                "8000",
                "-c:a",
                "pcm_mulaw",
                "-f",
                "rtp",
                "-ssrc",
                "1111",
                "-payload_type",
                "0",
            ],
            &url,
        ),
        g722_sender(&prompts[1], "2222", port),
        ffmpeg_sender(
            &prompts[2],
            &[
                "-ar",
                "48000",
                "-c:a",
                "libopus",
                "-b:a",
                "32k",
                "-f",
                "rtp",
                "-ssrc",
                "3333",
                "-payload_type",
                "96",
                "-srtp_out_suite",
                "AES_CM_128_HMAC_SHA1_80",
                "-srtp_out_params",
                KEY,
            ],
            &srtp_url,
        ),
    ];
    for c in &mut clients {
        assert!(c.wait().expect("ffmpeg ends").success(), "ffmpeg sender failed");
    }
    let out = server.wait_with_output().expect("conference ends");
    assert!(
        out.status.success(),
        "tutti conference: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    let fin = stats
        .iter()
        .find(|s| s["event"] == "final")
        .expect("final statistics");
    // A call detail record for each of the three legs at shutdown, with its SSRC, ports and a duration
    // from the leg's first packet to the server's end (the clients send for about five seconds).
    let cdrs: Vec<&serde_json::Value> = stats.iter().filter(|s| s["event"] == "cdr").collect();
    assert_eq!(cdrs.len(), 3, "{cdrs:?}");
    for c in &cdrs {
        let d = c["duration_s"].as_f64().expect("duration");
        assert!(d > 4.0 && d < 12.0, "{c}");
        assert!(
            c["from"]["addr"].as_str().is_some() && c["to"]["addr"].as_str().is_some(),
            "{c}"
        );
        assert!(c["mos"].as_f64().expect("mos") > 4.0, "{c}");
    }
    let mut cdr_ssrcs: Vec<String> = cdrs.iter().map(|c| c["from"]["ssrc"].to_string()).collect();
    cdr_ssrcs.sort();
    assert_eq!(cdr_ssrcs, ["\"00000457\"", "\"000008ae\"", "\"00000d05\""]);
    // The mix tick ran on the engine scheduler's worker without allocating.
    assert_eq!(fin["scheduler"]["rt_allocations"], 0, "{fin}");
    assert_eq!(fin["scheduler"]["rt_frees"], 0, "{fin}");
    assert!(fin["scheduler"]["ticks"].as_u64().expect("ticks") > 100, "{fin}");
    for leg in fin["legs"].as_array().expect("legs") {
        assert!(leg["packets_received"].as_u64().expect("count") > 250, "{leg}");
        assert_eq!(leg["rx_dropped"], 0, "{leg}");
        for k in [
            "rtt_ms",
            "jitter_buffer_delay_ms",
            "concealment_ratio",
            "r_factor",
            "mos",
        ] {
            assert!(leg.get(k).is_some(), "{k} missing in {leg}");
        }
    }
    let specs = [
        ("pcmu", 0u8, false, 8000u32),
        ("g722", 9, false, 16000),
        ("opus", 96, true, 48000),
    ];
    let ssrcs = [1111u32, 2222, 3333];
    let got: Vec<Return> = recs
        .into_iter()
        .zip(specs)
        .map(|(r, (c, pt, s, _))| decode_return(r.finish(), c, pt, s))
        .collect();
    // Compare at 8 kHz (what every leg can carry): decimate the returns by an integer factor.
    let y: Vec<Vec<f32>> = got
        .iter()
        .zip(specs)
        .map(|(r, s)| r.audio.iter().step_by((s.3 / 8000) as usize).copied().collect())
        .collect();
    let x: Vec<Vec<f32>> = prompts.iter().map(|p| reference(p, 8000, 5.0)).collect();
    // ws[i][j]: the windows of prompt j found in leg i's return (none for i == j).
    let ws: Vec<Vec<Vec<(usize, usize, f32)>>> = (0..3)
        .map(|i| {
            (0..3)
                .map(|j| if i == j { Vec::new() } else { windows(&y[i], &x[j]) })
                .collect()
        })
        .collect();
    for (i, row) in ws.iter().enumerate() {
        for (j, wij) in row.iter().enumerate() {
            if i == j {
                continue;
            }
            let m = mean_rho(wij);
            let per: Vec<String> = wij.iter().map(|w| format!("{:.2}@{}", w.2, w.1)).collect();
            eprintln!("leg {i} hears prompt {j}: mean rho = {m:.3}, per window (rho@lag) {per:?}");
            // Measured 0.33–0.71 (the PCMU prompt lowest: two codecs, the jitter buffer's time scaling of
            // ffmpeg's bursty real-time sending, the limiter).
            assert!(m > 0.3, "leg {i} hears leg {j} only at rho = {m:.3}");
        }
    }
    // off[i][j]: how much later return j carries a mix tick than return i, from the third leg's speech
    // that both carry (pooled ρ there measured 0.30–0.67, in line with the per-leg means above; away from
    // the alignment it is chance, below 0.08: the bound 0.2 only says the windows did line up).
    let mut off = [[0i64; 3]; 3];
    for (i, j) in [(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)] {
        let k = 3 - i - j;
        let (d, r) = return_offset(&y[j], &x[k], &ws[i][k]);
        eprintln!("return {j} − return {i}: {d} samples (prompt {k} at rho = {r:.3})");
        assert!(
            r > 0.2,
            "prompt {k} does not line up between returns {i} and {j} (rho = {r:.3})"
        );
        off[i][j] = d;
    }
    // The returns come from one mix clock, so the three distances, each measured on another leg's speech,
    // agree: i → j is minus j → i, and 0 → 1 → 2 is 0 → 2 (give or take the rounding of the codecs'
    // fractional delays at 8 kHz). Measured 98–100, 58–60 and 39–41 samples.
    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        assert!((off[i][j] + off[j][i]).abs() <= 2, "distances disagree: {off:?}");
    }
    assert!(
        (off[0][1] + off[1][2] - off[0][2]).abs() <= 3,
        "distances disagree: {off:?}"
    );
    for j in 0..3 {
        for i in (0..3).filter(|&i| i != j) {
            // Where leg j's speech sits in leg i's return, moved to leg j's return by their distance, leg
            // j's own return must not have it: without mix-minus it would be there at about the ρ it has in
            // leg i's return (0.33–0.71), its samples being the same. Taken at that distance ± 2 samples only,
            // the ρ is the chance correlation of the prompt with the other legs' speech there: measured
            // −0.044–0.070; the same measure 25–500 ms away from the alignment, where nothing can be
            // found, has mean 0 and standard deviation 0.020–0.027, so 0.1 is about 4 of them (the old
            // maximum over ±20 ms of lag reached 0.103 once).
            let own = (-2..=2)
                .map(|d| pooled_rho(&y[j], &x[j], &ws[i][j], off[i][j] + d).expect("windows inside"))
                .fold(f32::NEG_INFINITY, f32::max);
            eprintln!("leg {j} hears itself (placed from return {i}): rho = {own:.3}");
            assert!(own < 0.1, "leg {j} hears itself (rho = {own:.3})");
        }
    }
    for (i, ret) in got.iter().enumerate() {
        // CSRC lists: never the leg itself; the others appear.
        assert!(
            ret.csrcs.iter().all(|l| !l.contains(&ssrcs[i])),
            "leg {i} named as its own contributor"
        );
        for (j, s) in ssrcs.iter().enumerate() {
            if i != j {
                let share =
                    ret.csrcs.iter().filter(|l| l.contains(s)).count() as f32 / ret.csrcs.len() as f32;
                assert!(
                    share > 0.3,
                    "leg {j} in leg {i}'s CSRC lists only {share:.2} of the time"
                );
            }
        }
        assert!(ret.ssrcs.windows(2).all(|w| w[0] == w[1]), "one SSRC per leg");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cascaded_servers_carry_a_talker_across_with_its_ssrc_in_csrc() {
    let dir = tmp_dir("cascade");
    let (pa, pb) = (free_port(), free_port());
    let listener = Recorder::start();
    let a_cfg = dir.join("a.toml");
    let b_cfg = dir.join("b.toml");
    std::fs::write(
        &a_cfg,
        format!(
            r#"listen = "127.0.0.1:{pa}"
allow_join = false
[[leg]]
name = "alice"
codec = "g722"
remote = "127.0.0.1:9"
remote_ssrc = 4444
[[leg]]
name = "trunk-to-b"
codec = "g722"
remote = "127.0.0.1:{pb}"
ssrc = 55555
"#
        ),
    )
    .expect("config a");
    std::fs::write(
        &b_cfg,
        format!(
            r#"listen = "127.0.0.1:{pb}"
allow_join = false
[[leg]]
name = "trunk-to-a"
codec = "g722"
remote = "127.0.0.1:{pa}"
remote_ssrc = 55555
ssrc = 66666
[[leg]]
name = "bob"
codec = "pcmu"
remote = "127.0.0.1:{}"
remote_ssrc = 7777
"#,
            listener.port
        ),
    )
    .expect("config b");
    let a = conference(&a_cfg, 8.0);
    let b = conference(&b_cfg, 8.0);
    std::thread::sleep(Duration::from_millis(300));
    let p = prompt("demo-congrats");
    let mut alice = g722_sender(&p, "4444", pa);
    assert!(alice.wait().expect("ffmpeg").success());
    for s in [a, b] {
        let o = s.wait_with_output().expect("conference ends");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let ret = decode_return(listener.finish(), "pcmu", 0, false);
    let x = reference(&p, 8000, 5.0);
    let c = mean_rho(&windows(&ret.audio, &x));
    eprintln!("cascade: mean rho = {c:.3}");
    assert!(
        c > 0.5,
        "alice reaches bob across two mixers only at rho = {c:.3}"
    );
    let with_alice = ret.csrcs.iter().filter(|l| l.as_slice() == [4444]).count();
    assert!(
        with_alice as f32 > 0.3 * ret.csrcs.len() as f32,
        "alice's SSRC (not the trunk's) in bob's CSRC lists"
    );
    assert!(
        ret.csrcs
            .iter()
            .all(|l| !l.contains(&55555) && !l.contains(&66666)),
        "trunk SSRCs never named"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_config_gives_one_line_error_naming_the_file_and_field() {
    let dir = tmp_dir("bad");
    let cfg = dir.join("bad.toml");
    for (text, needle) in [
        ("listen = \"nonsense\"", "listen"),
        (
            "listen = \"127.0.0.1:0\"\n[[leg]]\nname = \"x\"\ncodec = \"mp3\"\nremote = \"127.0.0.1:9\"",
            "codec",
        ),
        ("listen = \"127.0.0.1:0\"\nbogus = 1", "bogus"),
        ("listen = \"127.0.0.1:0\"\nmix_rate = 11025", "mix_rate"),
    ] {
        std::fs::write(&cfg, text).expect("write");
        let o = Command::new(env!("CARGO_BIN_EXE_tutti"))
            .args(["conference", "--seconds", "1", "--config"])
            .arg(&cfg)
            .output()
            .expect("runs");
        assert!(!o.status.success());
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(e.trim().lines().count(), 1, "{e}");
        assert!(e.contains("bad.toml") && e.contains(needle), "{e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn recordings_only_for_consenting_legs_and_encrypted_at_rest() {
    let dir = tmp_dir("rec");
    let port = free_port();
    let key_file = dir.join("key");
    std::fs::write(
        &key_file,
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    )
    .expect("key");
    let rec_dir = dir.join("rec");
    let cfg = dir.join("rec.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"listen = "127.0.0.1:{port}"
allow_join = false
record_dir = "{}"
record_mix = true
record_key_file = "{}"
[[leg]]
name = "carol"
codec = "g722"
remote = "127.0.0.1:9"
remote_ssrc = 8888
record = true
[[leg]]
name = "dave"
codec = "pcmu"
remote = "127.0.0.1:9"
remote_ssrc = 9999
"#,
            rec_dir.display(),
            key_file.display()
        ),
    )
    .expect("config");
    let server = conference(&cfg, 8.0);
    std::thread::sleep(Duration::from_millis(300));
    let p = prompt("demo-congrats");
    let mut carol = g722_sender(&p, "8888", port);
    assert!(carol.wait().expect("ffmpeg").success());
    let o = server.wait_with_output().expect("conference ends");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut names: Vec<String> = std::fs::read_dir(&rec_dir)
        .expect("record dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec!["carol.wav.enc", "mix.wav.enc"],
        "dave did not consent"
    );
    let enc = std::fs::read(rec_dir.join("mix.wav.enc")).expect("read");
    assert!(!enc.windows(4).any(|w| w == b"RIFF"), "encrypted at rest");
    let plain = dir.join("mix.wav");
    let d = Command::new(env!("CARGO_BIN_EXE_tutti"))
        .args(["record", "decrypt", "--in"])
        .arg(rec_dir.join("mix.wav.enc"))
        .arg("--out")
        .arg(&plain)
        .arg("--key-file")
        .arg(&key_file)
        .output()
        .expect("runs");
    assert!(d.status.success(), "{}", String::from_utf8_lossy(&d.stderr));
    // The decrypted file is a proper WAV (sizes restored) that ffmpeg reads, 8 s at the mix rate.
    let w = tutti::wav::read_wav(&plain).expect("valid WAV after decryption");
    assert_eq!(w.sample_rate, 16000);
    let secs = w.channels[0].len() as f32 / 16000.0;
    assert!((secs - 8.0).abs() < 0.3, "{secs} s recorded");
    let x = reference(&p, 8000, 5.0);
    let y: Vec<f32> = w.channels[0].iter().step_by(2).copied().collect();
    let c = mean_rho(&windows(&y, &x));
    assert!(c > 0.5, "the mix recording carries carol (rho = {c:.3})");
    let probe = tool("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(&plain)
        .output()
        .expect("ffprobe");
    let dur: f32 = String::from_utf8_lossy(&probe.stdout)
        .trim()
        .parse()
        .expect("duration");
    assert!((dur - secs).abs() < 0.05, "ffprobe reads {dur} s");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_conference_reports_capacity_and_an_allocation_free_worker() {
    let j = common::tutti_json(&[
        "bench",
        "conference",
        "--legs",
        "40",
        "--codec",
        "g722",
        "--seconds",
        "1",
        "--talkers",
        "3",
        "--json",
    ]);
    assert_eq!(j["legs"], 40, "{j}");
    assert!(j["ticks"].as_u64().expect("ticks") >= 40, "{j}");
    // The worker ran receive, jitter buffers, decoders, mix and encoders without allocating (the binary's
    // counting allocator saw nothing on it).
    assert_eq!(j["rt_allocations"], 0, "{j}");
    // 3 talkers: their own encodes plus one shared encode for the 37 listeners (a talker switch adds one
    // encode in that tick: measured 4.00–4.02 over 49 ticks; 40 would mean no sharing).
    let e = j["encodes_per_tick"].as_f64().expect("encodes");
    assert!((3.9..=4.1).contains(&e), "{j}");
    assert!(j["legs_per_core"].as_u64().expect("capacity") > 0, "{j}");
    for k in ["p50", "p99", "p999", "max"] {
        assert!(j["tick_us"][k].as_f64().expect("percentile") > 0.0, "{j}");
    }
}
