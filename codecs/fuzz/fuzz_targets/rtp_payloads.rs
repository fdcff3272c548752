//! RTP payload parsers (RFC 3389 CN, RFC 4733 telephone-event, L16, rtpmap strings): no panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tutti_codecs::{rtp_format, CnGenerator, CnPayload, CodecSpec, Decoder, L16Decoder, TelephoneEvent};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = CnPayload::parse(data) {
        let mut g = CnGenerator::new(1);
        g.update(&p);
        let mut out = [0i16; 160];
        g.generate(&mut out);
    }
    let _ = TelephoneEvent::parse(data);
    let mut l16 = L16Decoder::new(8000, 2).expect("valid L16 configuration");
    let mut out = vec![0i16; data.len()];
    let _ = l16.decode(data, &mut out);
    let s = String::from_utf8_lossy(data);
    let _ = rtp_format(&s);
    let _ = CodecSpec::parse(&s);
});
