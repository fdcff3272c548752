//! Embedding Tutti in a Rust host: the Rust twin of `examples/c/media_server.c`.
//!
//! ```text
//! cargo run --release -p tutti --example embed -- NEAR.wav FAR.wav OUT.wav [CHAIN]
//! cargo run --release -p tutti --example embed            # on a generated echo scene
//! cargo run --release -p tutti --example embed -- conference
//! ```
//!
//! Like a media server's call leg, every 20 ms "packet" it pushes the far-end frames it is about to play
//! out into a [`tutti::capi::Engine`] and processes the captured near-end frames (which hold the echo)
//! in place as 16-bit PCM through `hpf,aec,ns,agc`; after one second it changes `agc.target_dbfs` as a
//! control thread would; at the end it prints latency, counters, meters (the AEC's ERLE) and each node's
//! cost, and writes OUT.wav. Without arguments it builds a seeded room-echo scene
//! ([`tutti::effects::voice::scene`]) and reports by how much the echo was reduced.
//!
//! `conference` runs a three-leg [`tutti::conference::Conference`] sans-IO, as the C example does: three
//! simulated participants send G.711 µ-law RTP (tones at 440, 1000 and 1700 Hz); the host pushes their
//! datagrams in, ticks every 20 ms, pulls the datagrams for each leg and decodes them; each participant
//! must hear the two others and not itself (N−1).
//!
//! `Engine` wraps a [`tutti::engine::Graph`] (built with `tutti::engine::GraphBuilder` from the node
//! registry); hosts that want planar `f32` and their own graph wiring can use those directly.

use std::path::Path;
use std::process::ExitCode;

use std::time::Duration;

use tutti::capi::Engine;
use tutti::codecs::CodecSpec;
use tutti::conference::{Conference, ConferenceConfig, LegConfig, MTU};
use tutti::effects::voice::scene::{self, SceneConfig, SceneRng};
use tutti::rtp::{RtpBuilder, RtpPacket};
use tutti::wav::{self, Audio, WavFormat};

/// Runs `near` (mono or stereo 16-bit PCM at `rate`) with far-end `far` through `chain` packet by packet.
fn run(chain: &str, rate: u32, channels: usize, near: &[i16], far: &[i16]) -> Result<Vec<i16>, String> {
    let block = rate as usize / 100; // 10 ms engine blocks
    let ptime = 2 * block; // 20 ms packets
    let mut engine = Engine::from_chain(chain, rate, channels, block).map_err(|e| e.to_string())?;
    let s = engine.stats();
    println!(
        "chain \"{chain}\" at {rate} Hz, {channels} channel(s), {block}-frame blocks, latency {} frames",
        s.latency_frames
    );
    let mut out = Vec::with_capacity(near.len());
    let (mut packet, mut far_packet) = (vec![0i16; ptime * channels], vec![0i16; ptime * channels]);
    let frames = near.len() / channels;
    for pos in (0..frames).step_by(ptime) {
        let n = ptime.min(frames - pos);
        let range = pos * channels..(pos + n) * channels;
        // The last packet is zero-padded to whole blocks; the far-end reads as silence past its end.
        packet.fill(0);
        far_packet.fill(0);
        packet[..n * channels].copy_from_slice(&near[range.clone()]);
        let far_avail = far.len().saturating_sub(range.start).min(n * channels);
        far_packet[..far_avail].copy_from_slice(&far[range.start..range.start + far_avail]);
        let used = n.div_ceil(block) * block * channels;
        if engine.has_far() {
            engine.push_far(&far_packet[..used]).map_err(|e| e.to_string())?;
        }
        engine
            .process_in_place(&mut packet[..used])
            .map_err(|e| e.to_string())?;
        out.extend_from_slice(&packet[..n * channels]);
        if pos < rate as usize && pos + ptime >= rate as usize && chain.contains("agc") {
            engine
                .set_param("agc.target_dbfs", -20.0)
                .map_err(|e| e.to_string())?;
            println!("t=1.00 s: set agc.target_dbfs = -20");
        }
    }
    let s = engine.stats();
    println!(
        "processed {} blocks; far-end: {} frames pushed, {} dropped, {} underrun",
        s.blocks, s.far_pushed_frames, s.far_dropped_frames, s.far_underrun_frames
    );
    for i in 0..engine.meter_count() {
        if let Some((node, meter, value)) = engine.meter_at(i) {
            println!("  meter {:<24} {value:>10.2}", format!("{node}.{meter}"));
        }
    }
    for n in engine.node_stats() {
        println!(
            "  node {:<8} ({}) {:>8.1} us/block",
            n.label,
            n.type_name,
            n.ns_per_block / 1000.0
        );
    }
    if let Ok(erle) = engine.meter("aec.erle_db") {
        println!("aec ERLE {erle:.1} dB");
    }
    Ok(out)
}

fn interleave(a: &Audio) -> Vec<i16> {
    a.to_i16_interleaved()
}

fn from_files(args: &[String]) -> Result<(), String> {
    let near = wav::read_wav(Path::new(&args[0])).map_err(|e| e.to_string())?;
    let far = wav::read_wav(Path::new(&args[1])).map_err(|e| e.to_string())?;
    if far.sample_rate != near.sample_rate || far.channels.len() != near.channels.len() {
        return Err(format!("{}: format differs from {}", args[1], args[0]));
    }
    let chain = args.get(3).map_or("hpf,aec,ns,agc", String::as_str);
    let channels = near.channels.len();
    let out = run(
        chain,
        near.sample_rate,
        channels,
        &interleave(&near),
        &interleave(&far),
    )?;
    let planar: Vec<Vec<f32>> = (0..channels)
        .map(|c| {
            out.iter()
                .skip(c)
                .step_by(channels)
                .map(|s| f32::from(*s) / 32768.0)
                .collect()
        })
        .collect();
    let audio = Audio {
        sample_rate: near.sample_rate,
        channels: planar,
    };
    wav::write_wav(Path::new(&args[2]), &audio, WavFormat::I16).map_err(|e| e.to_string())?;
    println!("wrote {} ({} frames)", args[2], audio.frames());
    Ok(())
}

fn generated_scene() -> Result<(), String> {
    let rate = 16000;
    let mut rng = SceneRng::new(1);
    let far: Vec<f32> = (0..rate as usize * 6)
        .map(|_| (rng.gaussian() * 0.1) as f32)
        .collect();
    let s = scene::generate(&SceneConfig::linear(rate, 3, 0.3, 40.0), &far, &[]);
    let to_i16 = |x: &[f32]| -> Vec<i16> { x.iter().map(|v| wav::f32_to_i16(*v)).collect() };
    let out = run("hpf,aec,ns,agc", rate, 1, &to_i16(&s.mic), &to_i16(&s.far))?;
    let tail = rate as usize * 3..out.len();
    let out_f: Vec<f32> = out[tail.clone()]
        .iter()
        .map(|v| f32::from(*v) / 32768.0)
        .collect();
    let reduction = 10.0 * (scene::power(&s.mic[tail]) / scene::power(&out_f).max(1e-20)).log10();
    println!(
        "generated scene (far-end single talk, office room, 40 ms delay): echo reduced by {reduction:.1} dB"
    );
    Ok(())
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
    20.0 * (2.0 * p.max(0.0).sqrt() / x.len().max(1) as f32)
        .max(1e-9)
        .log10()
}

fn conference() -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let mut conf = Conference::new(ConferenceConfig::default()).map_err(|e| err(&e))?;
    let spec = CodecSpec::parse("pcmu").map_err(|e| err(&e))?;
    let freqs = [440.0f32, 1000.0, 1700.0];
    let mut legs = Vec::new();
    let mut coders = Vec::new();
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        legs.push(
            conf.add_leg(LegConfig::new(*name, spec), Duration::ZERO)
                .map_err(|e| err(&e))?,
        );
        coders.push((
            spec.encoder().map_err(|e| err(&e))?,
            spec.decoder().map_err(|e| err(&e))?,
            0x1000 * (i as u32 + 1),
        ));
    }
    let mut heard: Vec<Vec<f32>> = vec![Vec::new(); 3];
    let (mut dgram, mut payload, mut pcm) = (vec![0u8; MTU], vec![0u8; MTU], vec![0i16; 2048]);
    for tick in 0..250u16 {
        let now = Duration::from_millis(20 * u64::from(tick));
        // What arrives on the host's sockets: one 20 ms PCMU packet from every participant.
        for (i, (enc, _, ssrc)) in coders.iter_mut().enumerate() {
            let frame: Vec<i16> = (0..160)
                .map(|k| {
                    let t = (usize::from(tick) * 160 + k) as f32 / 8000.0;
                    ((2.0 * std::f32::consts::PI * freqs[i] * t).sin() * 0.3 * 32767.0) as i16
                })
                .collect();
            let n = enc.encode(&frame, &mut payload).map_err(|e| err(&e))?;
            let b = RtpBuilder {
                payload_type: 0,
                sequence_number: tick,
                timestamp: u32::from(tick) * 160,
                ssrc: *ssrc,
                ..Default::default()
            };
            let len = b.write(&payload[..n], &mut dgram).map_err(|e| err(&e))?;
            conf.receive(legs[i], now, &dgram[..len]).map_err(|e| err(&e))?;
        }
        conf.tick(now);
        // What the host sends back: RTP with the mix of the others, and RTCP.
        for (i, leg) in legs.iter().enumerate() {
            while let Some(n) = conf.poll_transmit(*leg, &mut dgram) {
                if (192..=223).contains(&dgram[1]) {
                    continue; // RTCP
                }
                let p = RtpPacket::parse(&dgram[..n]).map_err(|e| err(&e))?;
                let m = coders[i].1.decode(p.payload(), &mut pcm).map_err(|e| err(&e))?;
                heard[i].extend(pcm[..m].iter().map(|s| f32::from(*s) / 32768.0));
            }
        }
    }
    let mut ok = true;
    for (i, h) in heard.iter().enumerate() {
        let tail = &h[h.len() / 2..];
        let levels: Vec<String> = freqs
            .iter()
            .map(|f| format!("{f:.0} Hz {:.1} dB", tone_db(tail, 8000, *f)))
            .collect();
        let s = conf.leg_stats(legs[i]).map_err(|e| err(&e))?;
        println!(
            "leg {}: hears {} (rx {} packets, tx {}, MOS {:.2})",
            s.name,
            levels.join(", "),
            s.quality.packets,
            s.counters.tx_packets,
            s.quality.mos
        );
        for (j, f) in freqs.iter().enumerate() {
            let l = tone_db(tail, 8000, *f);
            ok &= if i == j { l < -45.0 } else { l > -15.0 };
        }
    }
    if !ok {
        return Err("a leg hears itself or misses another leg".into());
    }
    println!("every leg hears the two others and not itself (N-1)");
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.len() {
        0 => generated_scene(),
        1 if args[0] == "conference" => conference(),
        3 | 4 => from_files(&args),
        _ => Err("usage: embed [NEAR.wav FAR.wav OUT.wav [CHAIN] | conference]".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("embed: {e}");
            ExitCode::FAILURE
        }
    }
}
