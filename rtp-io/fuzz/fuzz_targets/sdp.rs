//! SDP and `a=crypto` parsing on arbitrary text: errors, never panics; what parses re-parses identically.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tutti_rtp::{AnswerOptions, CryptoAttribute, SessionDescription};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = CryptoAttribute::parse(&text);
    if let Ok(sd) = SessionDescription::parse(&text) {
        for m in &sd.media {
            let _ = (
                m.rtpmaps(),
                m.ptime(),
                m.rtcp_port(),
                m.crypto(),
                m.extmaps(),
                m.direction(),
            );
            for pt in m.payload_types() {
                let _ = (m.fmtp(pt), m.fmtp_params(pt));
            }
        }
        let _ = SessionDescription::answer(
            &sd,
            &AnswerOptions {
                address: "192.0.2.1",
                port: 4000,
                codecs: &[("PCMU", 8000), ("opus", 48000)],
                rtcp_mux: true,
                crypto: &[],
                session_id: 1,
            },
        );
    }
});
