//! G.722 decoders at all three modes (with concealment) on arbitrary payloads: no panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tutti_codecs::{Decoder, G722Decoder, G722Mode};

fuzz_target!(|data: &[u8]| {
    let mut out = vec![0i16; 8192];
    for mode in [G722Mode::Kbps64, G722Mode::Kbps56, G722Mode::Kbps48] {
        let mut d = G722Decoder::new(mode);
        for chunk in data.chunks(161) {
            if chunk[0] & 1 == 0 {
                let _ = d.decode(chunk, &mut out);
            } else {
                let _ = d.conceal(&mut out[..usize::from(chunk[0])]);
            }
        }
    }
});
