//! RTP parsing, header extensions and audio levels on arbitrary bytes: errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tutti_rtp::{classify, rtp_header_len, ClientAudioLevel, MixerAudioLevels, RtpBuilder, RtpPacket};

fuzz_target!(|data: &[u8]| {
    let _ = classify(data);
    let _ = rtp_header_len(data);
    if let Ok(p) = RtpPacket::parse(data) {
        let _ = (p.header(), p.payload(), p.padding_len(), p.csrcs().count());
        if let Some(x) = p.extension() {
            for e in x.elements() {
                if let Ok(e) = e {
                    let _ = ClientAudioLevel::parse(e.data);
                    let _ = MixerAudioLevels::new(e.data).with_csrcs(&p).count();
                }
            }
        }
        // Re-building the fixed header and payload must succeed and parse back identically.
        let b = RtpBuilder::from(p.header());
        let mut out = vec![0u8; data.len() + 16];
        let n = b
            .write(p.payload(), &mut out)
            .expect("the buffer is large enough");
        let q = RtpPacket::parse(&out[..n]).expect("our own packet parses");
        assert_eq!((q.header(), q.payload()), (p.header(), p.payload()));
    }
});
