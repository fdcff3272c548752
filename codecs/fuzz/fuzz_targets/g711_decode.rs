//! G.711 decoders (with Appendix I concealment) on arbitrary payloads and loss patterns: no panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tutti_codecs::{Decoder, G711Decoder, G711Law};

fuzz_target!(|data: &[u8]| {
    let mut out = vec![0i16; 4096];
    for law in [G711Law::MuLaw, G711Law::ALaw] {
        let mut d = G711Decoder::new(law);
        // The first byte of each chunk chooses: even = decode, odd = conceal that many samples.
        for chunk in data.chunks(97) {
            let n = chunk.len().min(out.len());
            if chunk[0] & 1 == 0 {
                let _ = d.decode(chunk, &mut out);
            } else {
                let _ = d.conceal(&mut out[..n * usize::from(chunk[0] % 5)]);
            }
        }
    }
});
