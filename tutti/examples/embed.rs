//! Embedding Tutti in a Rust host: the Rust twin of `examples/c/media_server.c`.
//!
//! ```text
//! cargo run --release -p tutti --example embed -- NEAR.wav FAR.wav OUT.wav [CHAIN]
//! cargo run --release -p tutti --example embed            # on a generated echo scene
//! ```
//!
//! Like a media server's call leg, every 20 ms "packet" it pushes the far-end frames it is about to play
//! out into a [`tutti::capi::Engine`] and processes the captured near-end frames (which hold the echo)
//! in place as 16-bit PCM through `hpf,aec,ns,agc`; after one second it changes `agc.target_dbfs` as a
//! control thread would; at the end it prints latency, counters, meters (the AEC's ERLE) and each node's
//! cost, and writes OUT.wav. Without arguments it builds a seeded room-echo scene
//! ([`tutti::effects::voice::scene`]) and reports by how much the echo was reduced.
//!
//! `Engine` wraps a [`tutti::engine::Graph`] (built with `tutti::engine::GraphBuilder` from the node
//! registry); hosts that want planar `f32` and their own graph wiring can use those directly.

use std::path::Path;
use std::process::ExitCode;

use tutti::capi::Engine;
use tutti::effects::voice::scene::{self, SceneConfig, SceneRng};
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.len() {
        0 => generated_scene(),
        3 | 4 => from_files(&args),
        _ => Err("usage: embed [NEAR.wav FAR.wav OUT.wav [CHAIN]]".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("embed: {e}");
            ExitCode::FAILURE
        }
    }
}
