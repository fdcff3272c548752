//! Real-time safety: encode, decode, conceal and FEC of every codec, and the payload helpers, make no
//! heap allocation once constructed (counting global allocator from `tutti-engine`).

use tutti_codecs::{CnAnalyser, CnGenerator, CnPayload, CodecSpec, DtmfTone, TelephoneEvent, CLI_CODECS};
use tutti_engine::{count_allocations, counting_is_active, CountingAllocator};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

fn signal(n: usize, ch: usize) -> Vec<i16> {
    (0..n * ch)
        .map(|i| (((i / ch) as f32 * 0.07).sin() * 9000.0 + ((i * 7919) % 301) as f32) as i16)
        .collect()
}

#[test]
fn every_codec_runs_without_allocating() {
    assert!(counting_is_active(), "the counting allocator must be installed");
    for name in CLI_CODECS.iter().copied().chain(["opus:16000", "l16:16000:2"]) {
        let spec = CodecSpec::parse(name).unwrap();
        let mut enc = spec.encoder().unwrap();
        let mut dec = spec.decoder().unwrap();
        let info = enc.info();
        let frame = enc.frame_samples();
        let ch = info.channels;
        let pcm = signal(frame * 10, ch);
        let mut pkt = vec![0u8; enc.max_payload_len(frame)];
        let mut out = vec![0i16; frame * ch];
        let mut packets = vec![vec![0u8; pkt.len()]; 10];
        let mut lens = [0usize; 10];
        // Warm up once outside counting (lazy statics inside libraries, first-call paths).
        let n = enc.encode(&pcm[..frame * ch], &mut pkt).unwrap();
        dec.decode(&pkt[..n], &mut out).unwrap();
        let (_, counts) = count_allocations(|| {
            for (k, f) in pcm.chunks_exact(frame * ch).enumerate() {
                lens[k] = enc.encode(f, &mut packets[k]).unwrap();
            }
            for k in 0..10 {
                match k {
                    3 => {
                        dec.conceal(&mut out).unwrap();
                    }
                    4 => {
                        dec.decode_fec(&packets[5][..lens[5]], &mut out).unwrap();
                    }
                    _ => {
                        dec.decode(&packets[k][..lens[k]], &mut out).unwrap();
                    }
                }
                dec.payload_samples(&packets[k][..lens[k]]).unwrap();
            }
            dec.conceal(&mut out).unwrap();
            dec.conceal(&mut out).unwrap();
            // Malformed input takes the error path without allocating either.
            let _ = dec.decode(&[0xFF; 3][..], &mut out[..1]);
            enc.reset();
            dec.reset();
        });
        assert!(counts.is_zero(), "{name}: {counts:?}");
    }
}

#[test]
fn payload_helpers_run_without_allocating() {
    let noise = signal(320, 1);
    let analyser = CnAnalyser::new(10).unwrap();
    let mut gen = CnGenerator::new(3);
    let mut buf = [0u8; 16];
    let mut out = [0i16; 160];
    let mut tone = DtmfTone::new(5, 10, 8000).unwrap();
    let (_, counts) = count_allocations(|| {
        let p = analyser.analyse(&noise);
        let n = p.write(&mut buf).unwrap();
        let q = CnPayload::parse(&buf[..n]).unwrap();
        gen.update(&q);
        gen.generate(&mut out);
        let e = TelephoneEvent {
            event: 1,
            end: false,
            volume: 10,
            duration: 160,
        };
        e.write(&mut buf).unwrap();
        TelephoneEvent::parse(&buf[..4]).unwrap();
        tone.generate(&mut out);
        let _ = CnPayload::parse(&[]);
    });
    assert!(counts.is_zero(), "{counts:?}");
}
