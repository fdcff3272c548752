//! Behaviour of the C ABI through its `extern "C"` entry points: the echo of a seeded room scene is
//! cancelled, the output equals `tutti process`'s offline render of the same chain sample for sample (the
//! interleaving, far-end FIFO and i16 conversion add nothing), and every misuse returns its status code
//! with a message instead of crashing.
#![allow(unsafe_code)]

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use tutti::capi::*;
use tutti::offline;
use tutti::wav::Audio;
use tutti_effects::voice::scene::{self, SceneConfig, SceneRng};

fn c(s: &str) -> CString {
    CString::new(s).expect("test strings have no NUL")
}

fn last_error() -> String {
    // SAFETY: `tutti_last_error` returns this thread's NUL-terminated message; copied at once.
    unsafe { CStr::from_ptr(tutti_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn new_chain(chain: &str, rate: u32, channels: u32, block: u32) -> Result<*mut TuttiEngine, TuttiStatus> {
    let spec = c(chain);
    let mut e = ptr::null_mut();
    // SAFETY: `spec` is NUL-terminated, `e` writable.
    match unsafe { tutti_engine_new_chain(spec.as_ptr(), rate, channels, block, &mut e) } {
        TuttiStatus::Ok => Ok(e),
        s => {
            assert!(e.is_null(), "a failed create leaves NULL");
            Err(s)
        }
    }
}

fn db(x: f64) -> f64 {
    10.0 * x.max(1e-20).log10()
}

fn far_noise(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = SceneRng::new(seed);
    (0..len).map(|_| (rng.gaussian() * 0.1) as f32).collect()
}

/// Far-end single talk in a seeded office room: the C API's `aec` removes the echo (the scene generator
/// gives the echo alone, so the reduction is measured against what was really there).
#[test]
fn echo_of_a_room_scene_is_cancelled_through_the_c_api() {
    let rate = 16000;
    let far = far_noise(rate as usize * 8, 11);
    let s = scene::generate(&SceneConfig::linear(rate, 7, 0.3, 40.0), &far, &[]);
    let e = new_chain("hpf,aec", rate, 1, 160).expect("valid chain");
    let to_i16 = |x: &[f32]| -> Vec<i16> { x.iter().map(|v| (v * 32768.0).round() as i16).collect() };
    let (far16, mut mic16) = (to_i16(&s.far), to_i16(&s.mic));
    for (f, m) in far16.chunks_exact(320).zip(mic16.chunks_exact_mut(320)) {
        // SAFETY: `e` is live; 320 mono frames in each buffer (20 ms packets).
        unsafe {
            assert_eq!(tutti_engine_push_far_i16(e, f.as_ptr(), 320), TuttiStatus::Ok);
            assert_eq!(
                tutti_engine_process_i16(e, m.as_ptr(), m.as_mut_ptr(), 320),
                TuttiStatus::Ok
            );
        }
    }
    let tail = rate as usize * 4..s.mic.len();
    let p_mic = scene::power(&s.mic[tail.clone()]);
    let out: Vec<f32> = mic16[tail].iter().map(|v| f32::from(*v) / 32768.0).collect();
    let reduction = db(p_mic) - db(scene::power(&out));
    assert!(reduction > 20.0, "echo reduced by only {reduction:.1} dB");
    let mut erle = 0.0;
    // SAFETY: `e` is live; the name is NUL-terminated; `erle` writable.
    unsafe {
        assert_eq!(
            tutti_engine_get_meter(e, c("aec.erle_db").as_ptr(), &mut erle),
            TuttiStatus::Ok
        );
    }
    assert!(erle > 10.0, "ERLE meter {erle:.1} dB");
    let mut st = TuttiEngineStats::default();
    // SAFETY: `e` is live; `st` writable.
    unsafe { assert_eq!(tutti_engine_stats(e, &mut st), TuttiStatus::Ok) };
    assert_eq!((st.sample_rate, st.block_frames, st.has_far), (16000, 160, 1));
    assert_eq!(st.blocks as usize, far.len() / 160);
    assert_eq!(
        (
            st.far_underrun_frames,
            st.far_dropped_frames,
            st.far_queued_frames
        ),
        (0, 0, 0)
    );
    assert!(st.latency_frames >= 160, "aec reports its suppressor latency");
    // SAFETY: from `tutti_engine_new_chain`, not used afterwards.
    unsafe { tutti_engine_free(e) };
}

/// The C API's float output equals the offline renderer's (the engine of `tutti process`) bit for bit,
/// for a far-end chain (mono) and an interleaved stereo chain.
#[test]
fn output_equals_the_offline_render() {
    for (chain, rate, channels, far) in [
        ("hpf,aec,ns,agc", 16000u32, 1usize, true),
        ("hpf(hz=200),eq,compressor,gain(db=-3)", 48000, 2, false),
    ] {
        let block = rate as usize / 100;
        let len = block * 300;
        let near: Vec<Vec<f32>> = (0..channels).map(|c| far_noise(len, 20 + c as u64)).collect();
        let far_sig: Vec<Vec<f32>> = (0..channels).map(|c| far_noise(len, 40 + c as u64)).collect();
        let input = Audio {
            sample_rate: rate,
            channels: near.clone(),
        };
        let far_audio = Audio {
            sample_rate: rate,
            channels: far_sig.clone(),
        };
        let want = offline::render(
            &offline::parse_chain(chain).expect("valid chain"),
            &tutti::registry::node_types(),
            &input,
            far.then_some(&far_audio),
            10.0,
        )
        .expect("offline render");
        let e = new_chain(chain, rate, channels as u32, block as u32).expect("valid chain");
        let interleave =
            |x: &[Vec<f32>]| -> Vec<f32> { (0..len).flat_map(|i| x.iter().map(move |ch| ch[i])).collect() };
        let (near_i, far_i) = (interleave(&near), interleave(&far_sig));
        let mut out = vec![0.0f32; near_i.len()];
        let step = 3 * block * channels; // 30 ms packets
        for ((n, f), o) in near_i
            .chunks(step)
            .zip(far_i.chunks(step))
            .zip(out.chunks_mut(step))
        {
            let frames = n.len() / channels;
            // SAFETY: `e` is live; each buffer holds `frames` interleaved frames.
            unsafe {
                if far {
                    assert_eq!(tutti_engine_push_far_f32(e, f.as_ptr(), frames), TuttiStatus::Ok);
                }
                assert_eq!(
                    tutti_engine_process_f32(e, n.as_ptr(), o.as_mut_ptr(), frames),
                    TuttiStatus::Ok
                );
            }
        }
        for ch in 0..channels {
            let got: Vec<f32> = out.iter().skip(ch).step_by(channels).copied().collect();
            assert_eq!(
                got, want.audio.channels[ch],
                "{chain}: channel {ch} differs from the offline render"
            );
        }
        // Per-node cost: labels and type names as the chain says.
        let mut stats = [TuttiNodeStat {
            label: ptr::null(),
            type_name: ptr::null(),
            ns_per_block: 0.0,
            blocks_measured: 0,
        }; 8];
        let mut n = 0usize;
        // SAFETY: `e` is live; `stats` has 8 writable elements; `n` writable.
        unsafe {
            assert_eq!(
                tutti_engine_node_stats(e, stats.as_mut_ptr(), 8, &mut n),
                TuttiStatus::Ok
            );
        }
        assert_eq!(n, 4);
        // SAFETY: labels point at NUL-terminated strings owned by the live engine.
        let label = |i: usize| {
            unsafe { CStr::from_ptr(stats[i].label) }
                .to_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(label(0), "hpf");
        assert!(stats
            .iter()
            .take(n)
            .all(|s| s.blocks_measured > 0 && s.ns_per_block > 0.0));
        // SAFETY: from `tutti_engine_new_chain`, not used afterwards.
        unsafe { tutti_engine_free(e) };
    }
}

/// 16-bit processing is the float processing with the documented conversion.
#[test]
fn i16_matches_f32_with_rounding() {
    let a = new_chain("gain(db=6)", 8000, 1, 80).expect("valid");
    let b = new_chain("gain(db=6)", 8000, 1, 80).expect("valid");
    let pcm: Vec<i16> = (0..800).map(|i| ((i * 7919) % 40000 - 20000) as i16).collect();
    let mut f: Vec<f32> = pcm.iter().map(|v| f32::from(*v) / 32768.0).collect();
    let mut o = vec![0i16; 800];
    // SAFETY: both live; 800 mono frames everywhere.
    unsafe {
        assert_eq!(
            tutti_engine_process_i16(a, pcm.as_ptr(), o.as_mut_ptr(), 800),
            TuttiStatus::Ok
        );
        assert_eq!(
            tutti_engine_process_f32(b, f.as_ptr(), f.as_mut_ptr(), 800),
            TuttiStatus::Ok
        );
    }
    let mut clipped = 0;
    for (x, y) in o.iter().zip(&f) {
        let want = (y * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
        assert_eq!(*x, want);
        clipped += usize::from(*x == 32767 || *x == -32768);
    }
    assert!(clipped > 0, "+6 dB on ±20000 saturates some samples");
    // SAFETY: both from `tutti_engine_new_chain`, not used afterwards.
    unsafe {
        tutti_engine_free(a);
        tutti_engine_free(b);
    }
}

#[test]
fn misuse_returns_codes_and_messages() {
    // Creation errors.
    assert_eq!(
        new_chain("hpf,,agc", 16000, 1, 160),
        Err(TuttiStatus::InvalidSpec)
    );
    assert!(last_error().contains("empty node"), "{}", last_error());
    assert_eq!(
        new_chain("hpf,wibble", 16000, 1, 160),
        Err(TuttiStatus::InvalidSpec)
    );
    assert!(last_error().contains("wibble"));
    assert_eq!(
        new_chain("hpf(hz=5)", 16000, 1, 160),
        Err(TuttiStatus::InvalidSpec)
    );
    assert!(last_error().contains("hz"), "{}", last_error());
    assert_eq!(
        new_chain("hpf", 22050, 1, 160),
        Err(TuttiStatus::UnsupportedConfig)
    );
    assert_eq!(
        new_chain("hpf", 16000, 3, 160),
        Err(TuttiStatus::UnsupportedConfig)
    );
    assert_eq!(new_chain("hpf", 16000, 1, 0), Err(TuttiStatus::UnsupportedConfig));
    let mut e = ptr::null_mut();
    let bad_utf8 = [0xffu8, 0xfe, 0];
    // SAFETY: NUL-terminated byte strings and writable out-pointers (or NULL, which must be refused).
    unsafe {
        assert_eq!(
            tutti_engine_new_chain(ptr::null(), 16000, 1, 160, &mut e),
            TuttiStatus::NullPointer
        );
        assert!(last_error().contains("chain"));
        assert_eq!(
            tutti_engine_new_chain(c("hpf").as_ptr(), 16000, 1, 160, ptr::null_mut()),
            TuttiStatus::NullPointer
        );
        assert_eq!(
            tutti_engine_new_chain(bad_utf8.as_ptr().cast::<c_char>(), 16000, 1, 160, &mut e),
            TuttiStatus::InvalidUtf8
        );
        assert_eq!(
            tutti_engine_new_graph(c("edges = 3").as_ptr(), 16000, 1, 160, &mut e),
            TuttiStatus::InvalidSpec
        );
        assert!(last_error().contains("edges"), "{}", last_error());
        assert_eq!(
            tutti_engine_new_graph(
                c("outputs = [\"a\", \"b\"]\n[nodes.g]\ntype = \"gain\"").as_ptr(),
                16000,
                1,
                160,
                &mut e
            ),
            TuttiStatus::InvalidSpec
        );
    }
    // Call errors on a live engine.
    let e = new_chain("hpf,ns", 16000, 1, 160).expect("valid");
    let mut buf = vec![0i16; 480];
    let mut v = 0.0;
    // SAFETY: `e` is live; `buf` holds 480 frames; names are NUL-terminated; NULLs must be refused.
    unsafe {
        assert_eq!(
            tutti_engine_process_i16(e, buf.as_ptr(), buf.as_mut_ptr(), 100),
            TuttiStatus::BadFrameCount
        );
        assert!(last_error().contains("160-frame"), "{}", last_error());
        assert_eq!(
            tutti_engine_process_i16(e, ptr::null(), buf.as_mut_ptr(), 160),
            TuttiStatus::NullPointer
        );
        assert_eq!(
            tutti_engine_process_i16(ptr::null_mut(), buf.as_ptr(), buf.as_mut_ptr(), 160),
            TuttiStatus::NullPointer
        );
        assert!(last_error().contains("engine"));
        // Partly overlapping buffers (offset by one frame) are refused; the same buffer is in place.
        assert_eq!(
            tutti_engine_process_i16(e, buf.as_ptr(), buf.as_mut_ptr().add(1), 160),
            TuttiStatus::InvalidArgument
        );
        assert_eq!(
            tutti_engine_process_i16(e, buf.as_ptr().add(1), buf.as_mut_ptr().add(1), 320),
            TuttiStatus::Ok
        );
        // Misaligned float pointer.
        let fl = vec![0.0f32; 200];
        let mis = fl.as_ptr().cast::<u8>().add(1).cast::<f32>();
        let mut o = vec![0.0f32; 160];
        assert_eq!(
            tutti_engine_process_f32(e, mis, o.as_mut_ptr(), 160),
            TuttiStatus::InvalidArgument
        );
        assert_eq!(
            tutti_engine_push_far_i16(e, buf.as_ptr(), 160),
            TuttiStatus::NoFarEnd
        );
        assert_eq!(
            tutti_engine_set_param(e, c("ns.level").as_ptr(), 9.0),
            TuttiStatus::BadParam
        );
        assert_eq!(
            tutti_engine_set_param(e, c("ns.nope").as_ptr(), 1.0),
            TuttiStatus::BadParam
        );
        assert!(last_error().contains("level"), "{}", last_error());
        assert_eq!(
            tutti_engine_set_param(e, c("agc.target_dbfs").as_ptr(), -18.0),
            TuttiStatus::UnknownName
        );
        assert!(last_error().contains("hpf, ns"), "{}", last_error());
        assert_eq!(
            tutti_engine_set_param(e, c("hpf").as_ptr(), 100.0),
            TuttiStatus::BadParam
        );
        assert_eq!(
            tutti_engine_set_param_text(e, c("ns.level").as_ptr(), c("extreme").as_ptr()),
            TuttiStatus::BadParam
        );
        assert_eq!(
            tutti_engine_set_param_text(e, c("ns.level").as_ptr(), c("HIGH").as_ptr()),
            TuttiStatus::Ok
        );
        assert_eq!(
            tutti_engine_set_param(e, c("hpf.hz").as_ptr(), 150.0),
            TuttiStatus::Ok
        );
        assert_eq!(
            tutti_engine_get_meter(e, c("hpf.x").as_ptr(), &mut v),
            TuttiStatus::UnknownName
        );
        assert_eq!(
            tutti_engine_get_meter(e, c("ns.x").as_ptr(), ptr::null_mut()),
            TuttiStatus::NullPointer
        );
        let mut count = 0usize;
        assert_eq!(tutti_engine_meter_count(e, &mut count), TuttiStatus::Ok);
        assert!(count > 0, "ns publishes meters");
        let mut m = TuttiMeter {
            name: ptr::null(),
            value: 0.0,
        };
        assert_eq!(
            tutti_engine_meter_at(e, count, &mut m),
            TuttiStatus::IndexOutOfRange
        );
        assert_eq!(tutti_engine_meter_at(e, 0, &mut m), TuttiStatus::Ok);
        let name = CStr::from_ptr(m.name).to_str().unwrap().to_string();
        assert!(name.starts_with("ns."), "{name}");
        assert_eq!(tutti_engine_get_meter(e, m.name, &mut v), TuttiStatus::Ok);
        let mut n = 0usize;
        assert_eq!(
            tutti_engine_node_stats(e, ptr::null_mut(), 0, &mut n),
            TuttiStatus::Ok
        );
        assert_eq!(n, 2);
        let mut one = [TuttiNodeStat {
            label: ptr::null(),
            type_name: ptr::null(),
            ns_per_block: 0.0,
            blocks_measured: 0,
        }];
        assert_eq!(
            tutti_engine_node_stats(e, one.as_mut_ptr(), 1, &mut n),
            TuttiStatus::BufferTooSmall
        );
        assert_eq!(tutti_engine_reset(e), TuttiStatus::Ok);
        assert_eq!(tutti_engine_reset(ptr::null_mut()), TuttiStatus::NullPointer);
        tutti_engine_free(e);
        tutti_engine_free(ptr::null_mut());
        let name = CStr::from_ptr(tutti_status_name(TuttiStatus::BadFrameCount as i32));
        assert_eq!(name.to_str().unwrap(), "TUTTI_STATUS_BAD_FRAME_COUNT");
        let name = CStr::from_ptr(tutti_status_name(99));
        assert_eq!(name.to_str().unwrap(), "TUTTI_STATUS_UNKNOWN");
        let version = CStr::from_ptr(tutti_version());
        assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}

/// The far-end FIFO: a short push reads as silence for the rest (counted), an overlong push drops the
/// oldest frames (counted).
#[test]
fn far_end_fifo_counts_underruns_and_drops() {
    let e = new_chain("aec", 8000, 1, 80).expect("valid");
    let mut st = TuttiEngineStats::default();
    let far = vec![100i16; 8000 + 400];
    let mut near = vec![0i16; 160];
    // SAFETY: `e` is live; buffer lengths as passed.
    unsafe {
        assert_eq!(tutti_engine_push_far_i16(e, far.as_ptr(), 100), TuttiStatus::Ok);
        assert_eq!(
            tutti_engine_process_i16(e, near.as_ptr(), near.as_mut_ptr(), 160),
            TuttiStatus::Ok
        );
        assert_eq!(tutti_engine_stats(e, &mut st), TuttiStatus::Ok);
        assert_eq!((st.far_underrun_frames, st.far_queued_frames), (60, 0));
        // One second of FIFO at 8 kHz: 8400 frames keep the newest 8000.
        assert_eq!(tutti_engine_push_far_i16(e, far.as_ptr(), 8400), TuttiStatus::Ok);
        assert_eq!(tutti_engine_stats(e, &mut st), TuttiStatus::Ok);
        assert_eq!(
            (st.far_dropped_frames, st.far_queued_frames, st.far_pushed_frames),
            (400, 8000, 8500)
        );
        tutti_engine_free(e);
    }
}

/// Power of `x` at `f` relative to a full-scale sine, dB (Goertzel).
fn tone_db(x: &[f32], rate: u32, f: f32) -> f32 {
    let w = 2.0 * std::f32::consts::PI * f / rate as f32;
    let (mut s1, mut s2) = (0f32, 0f32);
    for &v in x {
        let s = v + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let p = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    20.0 * (2.0 * p.max(0.0).sqrt() / x.len() as f32).max(1e-9).log10()
}

fn leg_config(codec: &CStr) -> TuttiLegConfig {
    let mut lc = std::mem::MaybeUninit::<TuttiLegConfig>::uninit();
    // SAFETY: initialised by `tutti_leg_config_default` before it is read.
    unsafe {
        assert_eq!(tutti_leg_config_default(lc.as_mut_ptr()), TuttiStatus::Ok);
        let mut lc = lc.assume_init();
        lc.codec = codec.as_ptr();
        lc
    }
}

/// Three PCMU legs through the C functions: each hears the two others' tones at their level and not its
/// own (N−1), packets are plain RTP the host can send, and a removed leg hands out its RTCP BYE.
#[test]
fn conference_mixes_n_minus_one_through_the_c_api() {
    use tutti::codecs::CodecSpec;
    use tutti::rtp::{RtpBuilder, RtpPacket};
    let mut cfg = std::mem::MaybeUninit::<TuttiConferenceConfig>::uninit();
    let mut conf = ptr::null_mut();
    // SAFETY: `cfg` initialised before use; `conf` writable.
    unsafe {
        assert_eq!(tutti_conference_config_default(cfg.as_mut_ptr()), TuttiStatus::Ok);
        assert_eq!(tutti_conference_new(cfg.as_ptr(), &mut conf), TuttiStatus::Ok);
    }
    let spec = CodecSpec::parse("pcmu").expect("pcmu");
    let freqs = [440.0f32, 1000.0, 1700.0];
    let mut legs = [0u64; 3];
    for leg in &mut legs {
        // SAFETY: `conf` live; config strings static; `leg` writable.
        unsafe {
            assert_eq!(
                tutti_conference_add_leg(conf, &leg_config(c"pcmu"), 0, leg),
                TuttiStatus::Ok
            );
        }
    }
    let mut encs: Vec<_> = (0..3).map(|_| spec.encoder().expect("encoder")).collect();
    let mut decs: Vec<_> = (0..3).map(|_| spec.decoder().expect("decoder")).collect();
    let mut heard: Vec<Vec<f32>> = vec![Vec::new(); 3];
    let mut out = vec![0u8; 1500];
    let mut rtcp = [0usize; 3];
    for tick in 0..150u16 {
        let now = u64::from(tick) * 20_000;
        for i in 0..3 {
            let pcm: Vec<i16> = (0..160)
                .map(|k| {
                    let t = (usize::from(tick) * 160 + k) as f32 / 8000.0;
                    ((2.0 * std::f32::consts::PI * freqs[i] * t).sin() * 0.3 * 32767.0) as i16
                })
                .collect();
            let mut payload = [0u8; 160];
            let n = encs[i].encode(&pcm, &mut payload).expect("encode");
            let mut pkt = [0u8; 200];
            let b = RtpBuilder {
                payload_type: 0,
                sequence_number: tick,
                timestamp: u32::from(tick) * 160,
                ssrc: 0xA0 + i as u32,
                ..Default::default()
            };
            let len = b.write(&payload[..n], &mut pkt).expect("RTP");
            // SAFETY: `conf` live; `pkt` holds `len` bytes.
            unsafe {
                assert_eq!(
                    tutti_conference_receive(conf, legs[i], now, pkt.as_ptr(), len),
                    TuttiStatus::Ok
                );
            }
        }
        // SAFETY: `conf` live.
        unsafe { assert_eq!(tutti_conference_tick(conf, now), TuttiStatus::Ok) };
        for i in 0..3 {
            loop {
                let mut n = 0usize;
                // SAFETY: `conf` live; `out` has 1500 bytes; `n` writable.
                unsafe {
                    assert_eq!(
                        tutti_conference_poll_transmit(conf, legs[i], out.as_mut_ptr(), out.len(), &mut n),
                        TuttiStatus::Ok
                    );
                }
                if n == 0 {
                    break;
                }
                if (192..=223).contains(&out[1]) {
                    rtcp[i] += 1;
                    continue;
                }
                let p = RtpPacket::parse(&out[..n]).expect("the bridge sends valid RTP");
                let mut pcm = [0i16; 1024];
                let m = decs[i].decode(p.payload(), &mut pcm).expect("decodable");
                heard[i].extend(pcm[..m].iter().map(|s| f32::from(*s) / 32768.0));
            }
        }
    }
    for i in 0..3 {
        let tail = &heard[i][heard[i].len() / 2..];
        for (j, f) in freqs.iter().enumerate() {
            let level = tone_db(tail, 8000, *f);
            if i == j {
                assert!(level < -45.0, "leg {i} hears itself at {level:.1} dB");
            } else {
                assert!(
                    (level - 20.0 * 0.3f32.log10()).abs() < 2.0,
                    "leg {i} hears leg {j} at {level:.1} dB"
                );
            }
        }
    }
    let mut ls = TuttiLegStats::default();
    let mut cs = TuttiConferenceStats::default();
    // SAFETY: `conf` live; outputs writable; strings static.
    unsafe {
        assert_eq!(
            tutti_conference_leg_stats(conf, legs[1], &mut ls),
            TuttiStatus::Ok
        );
        assert_eq!(
            (ls.packets_received, ls.remote_ssrc, ls.rx_dropped),
            (150, 0xA1, 0)
        );
        assert!(ls.tx_packets >= 140);
        assert_eq!(tutti_conference_stats(conf, &mut cs), TuttiStatus::Ok);
        assert_eq!((cs.legs, cs.ticks, cs.mix_rate, cs.ptime_ms), (3, 150, 16000, 20));
        // Leaving: the parting BYE comes out under the old id, then the id is unknown.
        let before = rtcp[2];
        assert_eq!(
            tutti_conference_remove_leg(conf, legs[2], 3_000_000),
            TuttiStatus::Ok
        );
        loop {
            let mut n = 0usize;
            assert_eq!(
                tutti_conference_poll_transmit(conf, legs[2], out.as_mut_ptr(), out.len(), &mut n),
                TuttiStatus::Ok
            );
            if n == 0 {
                break;
            }
            assert!((192..=223).contains(&out[1]), "parting datagrams are RTCP");
            rtcp[2] += 1;
        }
        assert!(rtcp[2] > before, "a BYE was handed out");
        assert_eq!(
            tutti_conference_remove_leg(conf, legs[2], 3_000_000),
            TuttiStatus::NoSuchLeg
        );
        assert_eq!(
            tutti_conference_leg_stats(conf, legs[2], &mut ls),
            TuttiStatus::NoSuchLeg
        );
        let p = [0x80u8, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9];
        assert_eq!(
            tutti_conference_receive(conf, legs[2], 0, p.as_ptr(), 12),
            TuttiStatus::NoSuchLeg
        );
        // A new leg reuses the slot with a new generation: the old id stays unknown.
        let mut again = 0u64;
        assert_eq!(
            tutti_conference_add_leg(conf, &leg_config(c"g722"), 0, &mut again),
            TuttiStatus::Ok
        );
        assert_ne!(again, legs[2]);
        assert_eq!(
            tutti_conference_leg_stats(conf, legs[2], &mut ls),
            TuttiStatus::NoSuchLeg
        );
        let mut count = 0usize;
        assert_eq!(
            tutti_conference_expired(conf, 3_000_000, ptr::null_mut(), 0, &mut count),
            TuttiStatus::Ok
        );
        assert_eq!(count, 0);
        // 40 s later nobody has sent anything for longer than the 30 s timeout.
        assert_eq!(
            tutti_conference_expired(conf, 43_000_000, ptr::null_mut(), 0, &mut count),
            TuttiStatus::BufferTooSmall
        );
        assert_eq!(count, 3);
        let mut ids = [0u64; 3];
        assert_eq!(
            tutti_conference_expired(conf, 43_000_000, ids.as_mut_ptr(), 3, &mut count),
            TuttiStatus::Ok
        );
        assert!(ids.contains(&legs[0]) && ids.contains(&again));
        tutti_conference_free(conf);
    }
}

#[test]
fn conference_misuse_returns_codes_and_messages() {
    let mut cfg = std::mem::MaybeUninit::<TuttiConferenceConfig>::uninit();
    let mut conf = ptr::null_mut();
    let mut leg = 0u64;
    // SAFETY: `cfg` initialised before use; pointers writable, NULL where refusal is expected.
    unsafe {
        assert_eq!(tutti_conference_config_default(cfg.as_mut_ptr()), TuttiStatus::Ok);
        let mut bad = cfg.assume_init();
        bad.ptime_ms = 7;
        assert_eq!(
            tutti_conference_new(&bad, &mut conf),
            TuttiStatus::UnsupportedConfig
        );
        assert!(conf.is_null());
        assert!(last_error().contains("ptime_ms"), "{}", last_error());
        bad.ptime_ms = 20;
        bad.chain = c"hpf,nope".as_ptr();
        assert_eq!(tutti_conference_new(&bad, &mut conf), TuttiStatus::Ok);
        assert_eq!(
            tutti_conference_add_leg(conf, &leg_config(c"pcmu"), 0, &mut leg),
            TuttiStatus::Conference
        );
        assert!(last_error().contains("nope"), "{}", last_error());
        tutti_conference_free(conf);
        assert_eq!(
            tutti_conference_new(ptr::null(), &mut conf),
            TuttiStatus::NullPointer
        );
        assert_eq!(tutti_conference_new(cfg.as_ptr(), &mut conf), TuttiStatus::Ok);
        assert_eq!(
            tutti_conference_add_leg(conf, &leg_config(c"mp3"), 0, &mut leg),
            TuttiStatus::Conference
        );
        assert!(last_error().contains("mp3"), "{}", last_error());
        let mut lc = leg_config(c"pcmu");
        lc.payload_type = 200;
        assert_eq!(
            tutti_conference_add_leg(conf, &lc, 0, &mut leg),
            TuttiStatus::InvalidArgument
        );
        lc.payload_type = -1;
        lc.srtp_crypto = c"1 AES_CM_128_HMAC_SHA1_80 inline:tooshort".as_ptr();
        assert_eq!(
            tutti_conference_add_leg(conf, &lc, 0, &mut leg),
            TuttiStatus::Conference
        );
        lc.srtp_crypto = ptr::null();
        lc.codec = ptr::null();
        assert_eq!(
            tutti_conference_add_leg(conf, &lc, 0, &mut leg),
            TuttiStatus::NullPointer
        );
        assert_eq!(
            tutti_conference_add_leg(conf, &leg_config(c"pcmu"), 0, &mut leg),
            TuttiStatus::Ok
        );
        let junk = [1u8, 2, 3];
        assert_eq!(
            tutti_conference_receive(conf, leg, 0, junk.as_ptr(), 3),
            TuttiStatus::Dropped
        );
        assert!(last_error().contains("dropped"), "{}", last_error());
        assert_eq!(
            tutti_conference_receive(conf, leg, 0, ptr::null(), 3),
            TuttiStatus::NullPointer
        );
        let mut small = [0u8; 100];
        let mut n = 0usize;
        assert_eq!(
            tutti_conference_poll_transmit(conf, leg, small.as_mut_ptr(), 100, &mut n),
            TuttiStatus::BufferTooSmall
        );
        assert_eq!(
            tutti_conference_tick(ptr::null_mut(), 0),
            TuttiStatus::NullPointer
        );
        let mut ls = TuttiLegStats::default();
        assert_eq!(tutti_conference_leg_stats(conf, leg, &mut ls), TuttiStatus::Ok);
        assert_eq!(ls.rx_dropped, 1);
        tutti_conference_free(conf);
        tutti_conference_free(ptr::null_mut());
    }
}
