//! Real SRTP from an implementation we did not write: ffmpeg sends PCMA over SRTP/SRTCP to our UDP
//! driver; we take the key from ffmpeg's own SDP (`a=crypto`), unprotect, and compare the payload with
//! ffmpeg's plain A-law encoding of the same signal.

use std::process::{Command, Stdio};
use std::time::Duration;

use tutti_rtp::{
    rtcp_packets, Channel, RtcpPacket, RtpPacket, SessionDescription, SrtpConfig, SrtpProfile, UdpTransport,
};

fn ffmpeg() -> Command {
    let ok = Command::new("sh")
        .arg("-c")
        .arg("command -v ffmpeg")
        .output()
        .map(|o| o.status.success());
    assert!(
        ok.unwrap_or(false),
        "ffmpeg is not installed (Debian package ffmpeg; see scripts/setup.sh)"
    );
    let mut c = Command::new("ffmpeg");
    c.args(["-hide_banner", "-loglevel", "error", "-nostdin"]);
    c
}

const SOURCE: &str = "sine=frequency=440:sample_rate=8000:duration=2";

#[test]
fn ffmpeg_srtp_pcma_decrypts_bit_exact() {
    // The reference: ffmpeg's A-law bytes of the same signal.
    let reference = ffmpeg()
        .args(["-f", "lavfi", "-i", SOURCE, "-c:a", "pcm_alaw", "-f", "alaw", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(reference.status.success());
    let reference = reference.stdout;
    assert_eq!(reference.len(), 16_000);

    for suite in [SrtpProfile::Aes128CmHmacSha1_80, SrtpProfile::Aes128CmHmacSha1_32] {
        let t = UdpTransport::bind("127.0.0.1:0".parse().unwrap(), false).expect("bind loopback");
        let port = t.local_addr().unwrap().port();
        let key = "6zDC1ttFljnr5hV3fqDVqi0ZkmZTWOY42cNwVjoE";
        let child = ffmpeg()
            .args(["-f", "lavfi", "-i", SOURCE, "-c:a", "pcm_alaw", "-f", "rtp"])
            .args(["-srtp_out_suite", suite.sdes_name(), "-srtp_out_params", key])
            .arg(format!("srtp://127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("ffmpeg starts");
        let mut buf = [0u8; 2048];
        let mut rtp: Vec<Vec<u8>> = Vec::new();
        let mut rtcp: Vec<Vec<u8>> = Vec::new();
        // Receive until 1 s of silence after the first packet (ffmpeg sends 2 s of audio unpaced).
        let mut idle = Duration::from_secs(20);
        while let Some(r) = t.recv(&mut buf, idle).expect("recv") {
            idle = Duration::from_secs(1);
            match r.channel {
                Channel::Rtp => rtp.push(buf[..r.len].to_vec()),
                Channel::Rtcp => rtcp.push(buf[..r.len].to_vec()),
            }
        }
        let out = child.wait_with_output().expect("ffmpeg exits");
        assert!(out.status.success());
        let sdp_text = String::from_utf8_lossy(&out.stdout);
        let sdp_text = sdp_text.split_once("SDP:").map_or(&*sdp_text, |x| x.1);
        let sdp = SessionDescription::parse(sdp_text.trim_start()).expect("ffmpeg's SDP parses");
        let audio = sdp.audio().expect("m=audio");
        assert_eq!(audio.rtpmap(8).unwrap().encoding, "PCMA");
        let crypto = audio.crypto();
        assert_eq!(crypto.len(), 1, "{sdp_text}");
        assert_eq!(crypto[0].profile, suite);
        let mut ctx = crypto[0].context(SrtpConfig::default()).unwrap();

        assert!(!rtp.is_empty(), "no RTP received from ffmpeg");
        let mut payload = Vec::new();
        let mut seqs = Vec::new();
        let mut ssrc = 0;
        for mut p in rtp {
            let len = p.len();
            let n = ctx.unprotect_rtp(&mut p, len).expect("ffmpeg's SRTP unprotects");
            let pkt = RtpPacket::parse(&p[..n]).unwrap();
            assert_eq!(pkt.payload_type(), 8);
            seqs.push(pkt.sequence_number());
            ssrc = pkt.ssrc();
            payload.extend_from_slice(pkt.payload());
        }
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
            "in order, none lost on loopback"
        );
        assert_eq!(
            payload, reference,
            "{suite:?}: decrypted PCMA equals ffmpeg's A-law"
        );
        // ffmpeg's SRTCP sender reports.
        assert!(!rtcp.is_empty(), "no SRTCP received");
        // ffmpeg sends its first SR before any RTP (packet count 0); check it names the RTP source.
        let mut sr_ssrcs = Vec::new();
        if suite == SrtpProfile::Aes128CmHmacSha1_32 {
            // ffmpeg (libavformat/srtp.c) uses a 32-bit SRTCP tag with this suite, while RFC 4568 §6.2.1
            // (and libsrtp2, which our interop test matches) use 80 bits for SRTCP; so ffmpeg's SRTCP is
            // not interoperable here. Document it: an SR (28 bytes) + E‖index (4) + a 4-byte tag.
            assert!(
                rtcp.iter().all(|p| p.len() == 28 + 4 + 4),
                "ffmpeg's short SRTCP tag"
            );
            assert_eq!(ctx.stats().auth_failures, 0);
            continue;
        }
        for mut p in rtcp {
            let len = p.len();
            let n = ctx
                .unprotect_rtcp(&mut p, len)
                .expect("ffmpeg's SRTCP unprotects");
            match rtcp_packets(&p[..n]).next() {
                Some(Ok(RtcpPacket::SenderReport(sr))) => sr_ssrcs.push(sr.ssrc),
                other => panic!("ffmpeg's RTCP starts with an SR: {other:?}"),
            }
        }
        assert!(sr_ssrcs.iter().all(|s| *s == ssrc), "SR from the RTP source");
        assert_eq!(ctx.stats().auth_failures, 0);
    }
}
