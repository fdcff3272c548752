//! The Ogg page reader and Ogg Opus parser/decoder on arbitrary files: no panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tutti_codecs::{read_ogg_opus, OggPacketReader};

fuzz_target!(|data: &[u8]| {
    let _ = OggPacketReader::read(data);
    if let Ok(f) = read_ogg_opus(data) {
        let _ = f.decode();
    }
});
