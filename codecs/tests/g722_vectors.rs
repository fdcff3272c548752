//! G.722 against the ITU-T vectors: full codec (`itu-stl/g722`) and the Appendix II ADPCM-core
//! sequences (`itu-stl/g722-appendix2`, test mode without QMF).

mod common;

use common::{read_i16_vector, read_vector};
use tutti_codecs::{Decoder, Encoder, G722Adpcm, G722Decoder, G722Encoder, G722Mode};

fn first_diff<T: PartialEq + Copy + std::fmt::Debug>(a: &[T], b: &[T]) -> Option<(usize, T, T)> {
    a.iter().zip(b).position(|(x, y)| x != y).map(|i| (i, a[i], b[i]))
}

#[test]
fn full_codec_encoder_matches_codspw_and_codsp() {
    let pcm = read_i16_vector("itu-stl/g722/inpsp.bin");
    let words = read_i16_vector("itu-stl/g722/codspw.cod");
    let bytes = read_vector("itu-stl/g722/codsp.cod");
    let mut enc = G722Encoder::new(G722Mode::Kbps64);
    let mut out = vec![0u8; pcm.len() / 2];
    assert_eq!(enc.encode(&pcm, &mut out).unwrap(), words.len());
    let want: Vec<u8> = words.iter().map(|&w| w as u8).collect();
    assert_eq!(first_diff(&out, &want), None, "codspw.cod");
    // codsp.cod is the same octet stream packed two per 16-bit big-endian word (STL byte orientation),
    // so each pair of bytes is swapped relative to the time order.
    let swapped: Vec<u8> = bytes.chunks_exact(2).flat_map(|p| [p[1], p[0]]).collect();
    assert_eq!(first_diff(&out, &swapped), None, "codsp.cod");
}

#[test]
fn full_codec_decoder_matches_outsp_in_all_three_modes() {
    let words = read_i16_vector("itu-stl/g722/codspw.cod");
    let codes: Vec<u8> = words.iter().map(|&w| w as u8).collect();
    for (mode, file) in [
        (G722Mode::Kbps64, "itu-stl/g722/outsp1.bin"),
        (G722Mode::Kbps56, "itu-stl/g722/outsp2.bin"),
        (G722Mode::Kbps48, "itu-stl/g722/outsp3.bin"),
    ] {
        let want = read_i16_vector(file);
        let mut dec = G722Decoder::new(mode);
        let mut out = vec![0i16; codes.len() * 2];
        assert_eq!(dec.decode(&codes, &mut out).unwrap(), want.len());
        assert_eq!(first_diff(&out, &want), None, "{file}");
    }
}

const APP2: &str = "itu-stl/g722-appendix2/tstvector/littleendian/";

/// Appendix II encoder test: input words carry the 15-bit sample in bits 15–1 and the reset flag in bit
/// 0; the reference codes are `(IH << 6 | IL) << 8`, or 1 on reset (STL `tstcg722.c`).
fn appendix2_encode(xmt: &str, cod: &str) {
    let input = read_i16_vector(&format!("{APP2}{xmt}"));
    let want = read_i16_vector(&format!("{APP2}{cod}"));
    assert_eq!(input.len(), want.len());
    let mut core = G722Adpcm::new();
    let mut diffs = 0;
    for (i, (&w, &r)) in input.iter().zip(&want).enumerate() {
        let got = if w & 1 == 1 {
            core.reset();
            1
        } else {
            let x = w >> 1;
            i16::from_le_bytes([0, core.encode(x, x)])
        };
        if got != r {
            diffs += 1;
            assert!(diffs > 5, "{xmt}: word {i}: got {got:#06x}, want {r:#06x}");
        }
    }
    assert_eq!(diffs, 0, "{xmt}");
}

/// Appendix II decoder test: codes in bits 15–8 (reset in bit 0); references are `rl << 1`, `rh << 1`.
fn appendix2_decode(cod: &str, low: [&str; 3], high: &str) {
    let input = read_i16_vector(&format!("{APP2}{cod}"));
    let want_h = read_i16_vector(&format!("{APP2}{high}"));
    for (k, mode) in [G722Mode::Kbps64, G722Mode::Kbps56, G722Mode::Kbps48]
        .into_iter()
        .enumerate()
    {
        let want_l = read_i16_vector(&format!("{APP2}{}", low[k]));
        assert_eq!(want_l.len(), input.len());
        let mut core = G722Adpcm::new();
        for (i, &w) in input.iter().enumerate() {
            let (rl, rh) = if w & 1 == 1 {
                core.reset();
                (1, 1)
            } else {
                let (rl, rh) = core.decode((w >> 8) as u8, mode);
                (rl << 1, rh << 1)
            };
            assert_eq!(rl, want_l[i], "{cod} → {}: low band, word {i}", low[k]);
            assert_eq!(rh, want_h[i], "{cod} → {high}: high band, word {i}");
        }
    }
}

#[test]
fn appendix2_encoder_sequences() {
    appendix2_encode("bt1c1.xmt", "bt2r1.cod");
    appendix2_encode("bt1c2.xmt", "bt2r2.cod");
}

#[test]
fn appendix2_decoder_sequences() {
    appendix2_decode("bt2r1.cod", ["bt3l1.rc1", "bt3l1.rc2", "bt3l1.rc3"], "bt3h1.rc0");
    appendix2_decode("bt2r2.cod", ["bt3l2.rc1", "bt3l2.rc2", "bt3l2.rc3"], "bt3h2.rc0");
    appendix2_decode("bt1d3.cod", ["bt3l3.rc1", "bt3l3.rc2", "bt3l3.rc3"], "bt3h3.rc0");
}
