//! The C ABI's processing calls allocate nothing: `tutti_engine_process_{i16,f32}` (in place and into
//! another buffer), `tutti_engine_push_far_*`, `tutti_engine_set_param`, `tutti_engine_get_meter`,
//! `tutti_engine_meter_at` and `tutti_engine_stats`, called through their `extern "C"` entry points under
//! the counting allocator, for `hpf,aec,ns,agc` at 8/16/48 kHz and a stereo chain; and the conference's
//! `tutti_conference_receive` (also of a malformed datagram), `tutti_conference_tick` and
//! `tutti_conference_poll_transmit` for three PCMU/G.722 legs.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::ptr;

use tutti::capi::*;
use tutti_engine::{count_allocations, counting_is_active, CountingAllocator};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

fn noise(i: usize, seed: u32) -> f32 {
    let x = (i as u32).wrapping_add(seed).wrapping_mul(2_654_435_761) ^ 0x5bd1_e995;
    (x as f32 / u32::MAX as f32 - 0.5) * 0.3
}

fn new_engine(chain: &str, rate: u32, channels: u32, block: u32) -> *mut TuttiEngine {
    let spec = CString::new(chain).expect("no NUL in the chain");
    let mut e = ptr::null_mut();
    // SAFETY: `spec` is NUL-terminated and `e` is writable.
    let s = unsafe { tutti_engine_new_chain(spec.as_ptr(), rate, channels, block, &mut e) };
    assert_eq!(s, TuttiStatus::Ok, "create {chain}");
    assert!(!e.is_null());
    e
}

#[test]
fn processing_calls_do_not_allocate() {
    assert!(counting_is_active(), "the counting allocator must be installed");
    let name = CString::new("ns.level").expect("no NUL");
    let target = CString::new("agc.target_dbfs").expect("no NUL");
    let erle = CString::new("aec.erle_db").expect("no NUL");
    for (rate, block) in [(8000u32, 80u32), (16000, 160), (48000, 480)] {
        let e = new_engine("hpf,aec,ns,agc", rate, 1, block);
        let frames = 2 * block as usize; // 20 ms packets of two blocks
        let mut pcm = vec![0i16; frames];
        let mut out_i16 = vec![0i16; frames];
        let mut far_i16 = vec![0i16; frames];
        let mut f32buf = vec![0.0f32; frames];
        let mut far_f32 = vec![0.0f32; frames];
        let mut stats = TuttiEngineStats::default();
        let mut meter = TuttiMeter {
            name: ptr::null(),
            value: 0.0,
        };
        let mut v = 0.0f64;
        for packet in 0..150usize {
            for i in 0..frames {
                let t = packet * frames + i;
                far_f32[i] = noise(t, 1);
                far_i16[i] = (noise(t, 1) * 32767.0) as i16;
                pcm[i] = (noise(t.saturating_sub(40), 1) * 8000.0 + noise(t, 9) * 500.0) as i16;
                f32buf[i] = f32::from(pcm[i]) / 32768.0;
            }
            let (statuses, counts) = count_allocations(|| {
                // SAFETY: `e` is live; every buffer holds `frames` mono frames.
                unsafe {
                    [
                        tutti_engine_push_far_i16(e, far_i16.as_ptr(), frames),
                        tutti_engine_process_i16(e, pcm.as_ptr(), out_i16.as_mut_ptr(), frames),
                        tutti_engine_process_i16(e, pcm.as_ptr(), pcm.as_mut_ptr(), frames),
                        tutti_engine_push_far_f32(e, far_f32.as_ptr(), frames),
                        tutti_engine_process_f32(e, f32buf.as_ptr(), f32buf.as_mut_ptr(), frames),
                        tutti_engine_set_param(e, name.as_ptr(), (packet % 3) as f32),
                        tutti_engine_set_param(e, target.as_ptr(), -20.0),
                        tutti_engine_get_meter(e, erle.as_ptr(), &mut v),
                        tutti_engine_meter_at(e, 0, &mut meter),
                        tutti_engine_stats(e, &mut stats),
                    ]
                }
            });
            assert!(
                statuses.iter().all(|s| *s == TuttiStatus::Ok),
                "{rate} Hz packet {packet}: {statuses:?}"
            );
            assert!(
                counts.is_zero(),
                "{rate} Hz packet {packet}: allocated {counts:?}"
            );
        }
        assert_eq!(stats.blocks, 150 * 3 * 2);
        assert_eq!(stats.far_pushed_frames, 150 * 2 * frames as u64);
        // SAFETY: `e` came from `tutti_engine_new_chain` and is not used afterwards.
        unsafe { tutti_engine_free(e) };
    }
}

#[test]
fn stereo_and_graph_engines_do_not_allocate() {
    assert!(counting_is_active(), "the counting allocator must be installed");
    let e = new_engine("hpf,eq,compressor,limiter", 48000, 2, 480);
    let toml = CString::new(
        "inputs = [\"in\", \"far\"]\nedges = [\"in -> a\", \"far -> a:far\", \"a -> n\", \"n -> out\"]\n\
         [nodes.a]\ntype = \"aec\"\n[nodes.n]\ntype = \"ns\"\n",
    )
    .expect("no NUL");
    let mut g = ptr::null_mut();
    // SAFETY: `toml` is NUL-terminated and `g` is writable.
    let s = unsafe { tutti_engine_new_graph(toml.as_ptr(), 16000, 1, 160, &mut g) };
    assert_eq!(s, TuttiStatus::Ok);
    let mut stereo = vec![0.0f32; 2 * 960];
    let mut mono = vec![0i16; 320];
    for packet in 0..50usize {
        for (i, x) in stereo.iter_mut().enumerate() {
            *x = noise(packet * 1920 + i, 3);
        }
        for (i, x) in mono.iter_mut().enumerate() {
            *x = (noise(packet * 320 + i, 5) * 20000.0) as i16;
        }
        let (statuses, counts) = count_allocations(|| {
            // SAFETY: both handles are live; the buffers hold 960 stereo / 320 mono frames.
            unsafe {
                [
                    tutti_engine_process_f32(e, stereo.as_ptr(), stereo.as_mut_ptr(), 960),
                    tutti_engine_push_far_i16(g, mono.as_ptr(), 320),
                    tutti_engine_process_i16(g, mono.as_ptr(), mono.as_mut_ptr(), 320),
                ]
            }
        });
        assert!(statuses.iter().all(|s| *s == TuttiStatus::Ok), "{statuses:?}");
        assert!(counts.is_zero(), "packet {packet}: allocated {counts:?}");
    }
    // SAFETY: both handles came from `tutti_engine_new_*` and are not used afterwards.
    unsafe {
        tutti_engine_free(e);
        tutti_engine_free(g);
    }
}

fn rtp_packet(
    spec: &tutti::codecs::CodecSpec,
    enc: &mut dyn tutti::codecs::Encoder,
    seq: u16,
    f: f32,
) -> Vec<u8> {
    let info = spec.info();
    let frame = (info.audio_rate / 50) as usize;
    let pcm: Vec<i16> = (0..frame)
        .map(|i| {
            let t = (usize::from(seq) * frame + i) as f32 / info.audio_rate as f32;
            ((2.0 * std::f32::consts::PI * f * t).sin() * 8000.0) as i16
        })
        .collect();
    let mut payload = vec![0u8; 1500];
    let len = enc.encode(&pcm, &mut payload).expect("encode");
    let b = tutti::rtp::RtpBuilder {
        payload_type: info.static_payload_type.unwrap_or(96),
        sequence_number: seq,
        timestamp: u32::from(seq) * (frame as u32 * info.clock_rate / info.audio_rate),
        ssrc: 0x100 + u32::from(f as u16),
        ..Default::default()
    };
    let mut buf = vec![0u8; 1500];
    let n = b.write(&payload[..len], &mut buf).expect("write RTP");
    buf.truncate(n);
    buf
}

#[test]
fn conference_receive_tick_and_poll_do_not_allocate() {
    assert!(counting_is_active(), "the counting allocator must be installed");
    let mut cfg = std::mem::MaybeUninit::<TuttiConferenceConfig>::uninit();
    let mut conf = ptr::null_mut();
    // SAFETY: `cfg` is written by `tutti_conference_config_default` before being read.
    unsafe {
        assert_eq!(tutti_conference_config_default(cfg.as_mut_ptr()), TuttiStatus::Ok);
        assert_eq!(tutti_conference_new(cfg.as_ptr(), &mut conf), TuttiStatus::Ok);
    }
    let codecs = ["pcmu", "g722", "pcmu"];
    let mut legs = [0u64; 3];
    let mut coders = Vec::new();
    for (i, name) in codecs.iter().enumerate() {
        let spec = tutti::codecs::CodecSpec::parse(name).expect("known codec");
        coders.push((spec, spec.encoder().expect("encoder")));
        let codec = CString::new(*name).expect("no NUL");
        let mut lc = std::mem::MaybeUninit::<TuttiLegConfig>::uninit();
        // SAFETY: `lc` is initialised by `tutti_leg_config_default` before it is read and changed.
        unsafe {
            assert_eq!(tutti_leg_config_default(lc.as_mut_ptr()), TuttiStatus::Ok);
            let mut lc = lc.assume_init();
            lc.codec = codec.as_ptr();
            assert_eq!(
                tutti_conference_add_leg(conf, &lc, 0, &mut legs[i]),
                TuttiStatus::Ok
            );
        }
    }
    let junk = [0x55u8; 7];
    let mut out = vec![0u8; 1500];
    for tick in 0..200u16 {
        let packets: Vec<Vec<u8>> = coders
            .iter_mut()
            .enumerate()
            .map(|(i, (spec, enc))| rtp_packet(spec, enc.as_mut(), tick, 300.0 + 400.0 * i as f32))
            .collect();
        let now = u64::from(tick) * 20_000;
        let (result, counts) = count_allocations(|| {
            let mut ok = true;
            let mut sent = 0usize;
            for (leg, p) in legs.iter().zip(&packets) {
                // SAFETY: `conf` is live; `p` holds `p.len()` bytes.
                ok &= unsafe { tutti_conference_receive(conf, *leg, now, p.as_ptr(), p.len()) }
                    == TuttiStatus::Ok;
            }
            // SAFETY: as above; a malformed datagram is dropped with a status, not an error.
            let dropped = unsafe { tutti_conference_receive(conf, legs[0], now, junk.as_ptr(), junk.len()) };
            // SAFETY: `conf` is live.
            ok &= unsafe { tutti_conference_tick(conf, now) } == TuttiStatus::Ok;
            for leg in &legs {
                loop {
                    let mut n = 0usize;
                    // SAFETY: `conf` is live; `out` has 1500 writable bytes; `n` writable.
                    let s = unsafe {
                        tutti_conference_poll_transmit(conf, *leg, out.as_mut_ptr(), out.len(), &mut n)
                    };
                    ok &= s == TuttiStatus::Ok;
                    if n == 0 || s != TuttiStatus::Ok {
                        break;
                    }
                    sent += 1;
                }
            }
            (ok, dropped, sent)
        });
        let (ok, dropped, sent) = result;
        assert!(ok, "tick {tick}: a call failed");
        assert_eq!(dropped, TuttiStatus::Dropped);
        assert!(sent >= 3, "tick {tick}: every leg gets a packet");
        // The first ticks warm up (the thread's error-message buffer is allocated on the first drop).
        if tick >= 2 {
            assert!(counts.is_zero(), "tick {tick}: allocated {counts:?}");
        }
    }
    // SAFETY: from `tutti_conference_new`, not used afterwards.
    unsafe { tutti_conference_free(conf) };
}
