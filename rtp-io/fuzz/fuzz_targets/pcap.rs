//! pcap/pcapng reading and link-layer decoding on arbitrary files: errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tutti_rtp::{decode_frame, CaptureReader};

fuzz_target!(|data: &[u8]| {
    if let Ok(mut r) = CaptureReader::new(data) {
        for _ in 0..10_000 {
            match r.next_udp() {
                Ok(Some(d)) => {
                    let _ = d.payload.len();
                }
                _ => break,
            }
        }
    }
    if let Some((&lt, frame)) = data.split_first() {
        let _ = decode_frame(u32::from(lt), frame);
    }
});
