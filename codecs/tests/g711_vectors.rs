//! G.711 against the ITU-T G.191 STL test vectors (`itu-stl/g711`, `itu-stl/g711iplc`).

mod common;

use common::read_i16_vector;
use tutti_codecs::{
    alaw_decode, alaw_encode, ulaw_decode, ulaw_encode, Decoder, G711Decoder, G711Law, G711Plc,
};

#[test]
fn sweep_covers_every_input_and_encodes_bit_exactly() {
    let src = read_i16_vector("itu-stl/g711/sweep.src");
    let mut seen = vec![false; 65536];
    for &x in &src {
        seen[(x as u16) as usize] = true;
    }
    assert!(
        seen.iter().all(|&s| s),
        "sweep.src should contain all 65 536 values"
    );
    let ref_a = read_i16_vector("itu-stl/g711/sweep-r.a");
    let ref_u = read_i16_vector("itu-stl/g711/sweep-r.u");
    assert_eq!(ref_a.len(), src.len());
    assert_eq!(ref_u.len(), src.len());
    let mut diffs = 0;
    for i in 0..src.len() {
        diffs += usize::from(i16::from(alaw_encode(src[i])) != ref_a[i]);
        diffs += usize::from(i16::from(ulaw_encode(src[i])) != ref_u[i]);
    }
    assert_eq!(diffs, 0, "G.711 encode differs from G.191 on {diffs} inputs");
}

#[test]
fn decode_is_bit_exact_on_all_codes() {
    for (codes, decoded, law) in [
        (
            "itu-stl/g711/sweep-r.a",
            "itu-stl/g711/sweep-r.a-a",
            G711Law::ALaw,
        ),
        (
            "itu-stl/g711/sweep-r.u",
            "itu-stl/g711/sweep-r.u-u",
            G711Law::MuLaw,
        ),
    ] {
        let c = read_i16_vector(codes);
        let d = read_i16_vector(decoded);
        let mut seen = [false; 256];
        for (&code, &want) in c.iter().zip(&d) {
            assert!((0..256).contains(&code), "{codes}: code {code} out of range");
            seen[code as usize] = true;
            let got = match law {
                G711Law::ALaw => alaw_decode(code as u8),
                G711Law::MuLaw => ulaw_decode(code as u8),
            };
            assert_eq!(got, want, "{law:?} code {code:#04x}");
        }
        assert!(seen.iter().all(|&s| s), "{codes} should contain all 256 codes");
    }
    // Encode-then-decode references.
    let src = read_i16_vector("itu-stl/g711/sweep.src");
    let rea = read_i16_vector("itu-stl/g711/sweep-r.rea");
    let reu = read_i16_vector("itu-stl/g711/sweep-r.reu");
    for i in 0..src.len() {
        assert_eq!(alaw_decode(alaw_encode(src[i])), rea[i]);
        assert_eq!(ulaw_decode(ulaw_encode(src[i])), reu[i]);
    }
}

/// Runs the STL `g711iplc` demo procedure: 80-sample frames, G.192 mask (0x6B20 = erased, rolled over),
/// first 30 output samples dropped, 30 flushed at the end.
fn run_plc(input: &[i16], mask: &[i16], frames_per_call: usize, silence: bool) -> Vec<i16> {
    let mut plc = G711Plc::new();
    let mut out = Vec::with_capacity(input.len());
    let frames: Vec<&[i16]> = input.chunks_exact(80).collect();
    let mut f = 0;
    while f < frames.len() {
        let n = frames_per_call.min(frames.len() - f);
        let mut buf: Vec<i16> = frames[f..f + n].concat();
        // All frames in one call share the erasure flag (the patterns repeat flags per 10 ms).
        let erased = mask[f % mask.len()] == 0x6B20;
        if erased && !silence {
            plc.conceal(&mut buf);
        } else {
            if erased {
                buf.fill(0);
            }
            plc.good(&mut buf);
        }
        if f == 0 {
            out.extend_from_slice(&buf[G711Plc::DELAY..]);
        } else {
            out.extend_from_slice(&buf);
        }
        f += n;
    }
    let mut tail = [0i16; 80];
    plc.good(&mut tail);
    out.extend_from_slice(&tail[..G711Plc::DELAY]);
    out
}

fn check_plc(mask_file: &str, reference: &str, frames_per_call: usize, silence: bool) {
    let input = read_i16_vector("itu-stl/g711iplc/f2.le");
    let mask = read_i16_vector(mask_file);
    let want = read_i16_vector(reference);
    let got = run_plc(&input, &mask, frames_per_call, silence);
    assert_eq!(got.len(), want.len());
    let diffs: Vec<usize> = (0..got.len()).filter(|&i| got[i] != want[i]).collect();
    assert!(
        diffs.is_empty(),
        "{reference}: {} samples differ, first at {:?}",
        diffs.len(),
        diffs.first().map(|&i| (i, got[i], want[i]))
    );
}

#[test]
fn appendix_i_plc_10ms_pattern_is_bit_exact() {
    check_plc(
        "itu-stl/g711iplc/fe10.g192",
        "itu-stl/g711iplc/f2_10.raw",
        1,
        false,
    );
}

#[test]
fn appendix_i_plc_20ms_pattern_is_bit_exact() {
    check_plc(
        "itu-stl/g711iplc/fe10_2.g192",
        "itu-stl/g711iplc/f2_10_2.raw",
        1,
        false,
    );
}

#[test]
fn appendix_i_plc_20ms_calls_equal_10ms_calls() {
    // A jitter buffer conceals 20 ms at once: same output as two 10 ms frames.
    check_plc(
        "itu-stl/g711iplc/fe10_2.g192",
        "itu-stl/g711iplc/f2_10_2.raw",
        2,
        false,
    );
}

#[test]
fn silence_insertion_references_match() {
    // The `m` references are the STL demo's `-noplc` mode: erased frames zeroed, same 3.75 ms delay.
    check_plc(
        "itu-stl/g711iplc/fe10.g192",
        "itu-stl/g711iplc/f2_10m.raw",
        1,
        true,
    );
    check_plc(
        "itu-stl/g711iplc/fe10_2.g192",
        "itu-stl/g711iplc/f2_10_2m.raw",
        1,
        true,
    );
}

#[test]
fn decoder_conceal_uses_appendix_i() {
    let mut dec = G711Decoder::new(G711Law::MuLaw);
    assert_eq!(dec.delay_samples(), 30);
    let payload: Vec<u8> = (0..400)
        .map(|i| ulaw_encode(((i as f32 * 0.2).sin() * 8000.0) as i16))
        .collect();
    let mut out = vec![0i16; 400];
    assert_eq!(dec.decode(&payload, &mut out).unwrap(), 400);
    let mut lost = vec![0i16; 160];
    assert_eq!(dec.conceal(&mut lost).unwrap(), 160);
    let energy: f64 = lost.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / 160.0;
    assert!(
        energy.sqrt() > 2000.0,
        "concealment should continue the tone, rms {}",
        energy.sqrt()
    );
}
