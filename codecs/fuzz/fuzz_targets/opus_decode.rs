//! The Opus wrapper on arbitrary packets, including FEC and PLC calls: no panic, no memory error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tutti_codecs::{Decoder, OpusDecoder};

fuzz_target!(|data: &[u8]| {
    let mut d = OpusDecoder::new(48000, 2).expect("48 kHz stereo is a valid Opus decoder");
    let mut out = vec![0i16; 5760 * 2];
    let mut it = data.split(|&b| b == 0xA5);
    while let Some(p) = it.next() {
        let _ = d.payload_samples(p);
        let _ = d.decode(p, &mut out);
        let _ = d.decode_fec(p, &mut out[..960 * 2]);
        let _ = d.conceal(&mut out[..(p.len() % 7) * 240]);
    }
});
