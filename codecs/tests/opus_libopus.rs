//! Opus: our safe wrapper against direct libopus C calls (normal, PLC and FEC frames), our Ogg Opus
//! writer/reader against ffmpeg's libopus decoder, and the speech round-trip quality (PESQ-WB through
//! the Python `pesq` package, else an SNR bound).
#![allow(unsafe_code)]

mod common;

use std::ffi::c_int;
use std::process::Command;

use tutti_codecs::{
    encode_ogg_opus, read_ogg_opus, Decoder, Encoder, OpusDecoder, OpusEncoder, OpusEncoderConfig,
};

#[repr(C)]
struct RawDec {
    _p: [u8; 0],
}

extern "C" {
    fn opus_decoder_create(fs: i32, channels: c_int, error: *mut c_int) -> *mut RawDec;
    fn opus_decode(
        st: *mut RawDec,
        data: *const u8,
        len: i32,
        pcm: *mut i16,
        frame: c_int,
        fec: c_int,
    ) -> c_int;
    fn opus_decoder_destroy(st: *mut RawDec);
}

/// Reference decoder: libopus called directly, as an application would.
struct Direct(*mut RawDec, usize);

impl Direct {
    fn new(rate: i32, ch: usize) -> Self {
        let mut e = 0;
        // SAFETY: valid arguments and a valid pointer to `e`.
        let p = unsafe { opus_decoder_create(rate, ch as c_int, &mut e) };
        assert!(!p.is_null() && e == 0, "opus_decoder_create failed: {e}");
        Self(p, ch)
    }
    fn decode(&mut self, pkt: Option<&[u8]>, out: &mut [i16], fec: bool) -> usize {
        let (d, l) = pkt.map_or((std::ptr::null(), 0), |p| (p.as_ptr(), p.len() as i32));
        // SAFETY: `d` is null or points to `l` bytes; `out` holds `frame * channels` samples.
        let r = unsafe {
            opus_decode(
                self.0,
                d,
                l,
                out.as_mut_ptr(),
                (out.len() / self.1) as c_int,
                c_int::from(fec),
            )
        };
        assert!(r >= 0, "opus_decode: {r}");
        r as usize
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        // SAFETY: created by opus_decoder_create, destroyed once.
        unsafe { opus_decoder_destroy(self.0) }
    }
}

fn encode_all(pcm: &[i16], cfg: OpusEncoderConfig) -> Vec<Vec<u8>> {
    let mut enc = OpusEncoder::new(cfg).expect("encoder");
    let n = cfg.frame_samples * cfg.channels;
    let mut buf = vec![0u8; enc.max_payload_len(cfg.frame_samples)];
    pcm.chunks_exact(n)
        .map(|f| {
            let len = enc.encode(f, &mut buf).expect("encode");
            buf[..len].to_vec()
        })
        .collect()
}

#[test]
fn wrapper_decode_plc_and_fec_equal_direct_libopus_calls() {
    let speech = common::speech_16k(12.0);
    for (rate, ch) in [(16000u32, 1usize), (48000, 2)] {
        let pcm: Vec<i16> = if ch == 1 {
            speech.clone()
        } else {
            // 48 kHz stereo: sample-and-hold upsampling (quality irrelevant here), right = 0.8 × left.
            speech
                .iter()
                .flat_map(|&s| std::iter::repeat([s, (f32::from(s) * 0.8) as i16]).take(3))
                .flatten()
                .collect()
        };
        let cfg = OpusEncoderConfig::voip(rate, ch).with_bitrate(32000).with_fec(20);
        let packets = encode_all(&pcm, cfg);
        let frame = cfg.frame_samples;
        let mut ours = OpusDecoder::new(rate, ch).unwrap();
        let mut direct = Direct::new(rate as i32, ch);
        let mut a = vec![0i16; frame * ch];
        let mut b = vec![0i16; frame * ch];
        let (mut plc, mut fec) = (0, 0);
        for (i, p) in packets.iter().enumerate() {
            // Loss pattern: every 10th packet lost (FEC from the next one), every 37th two in a row
            // (first concealed by PLC, second by FEC).
            let lost = i % 10 == 5 || i % 37 == 20 || i % 37 == 21;
            let next_lost = (i + 1) % 10 == 5 || (i + 1) % 37 == 20 || (i + 1) % 37 == 21;
            let (na, nb) = if !lost {
                (
                    ours.decode(p, &mut a).unwrap(),
                    direct.decode(Some(p), &mut b, false),
                )
            } else if next_lost || i + 1 == packets.len() {
                plc += 1;
                (ours.conceal(&mut a).unwrap(), direct.decode(None, &mut b, false))
            } else {
                fec += 1;
                let next = &packets[i + 1];
                (
                    ours.decode_fec(next, &mut a).unwrap(),
                    direct.decode(Some(next), &mut b, true),
                )
            };
            assert_eq!(na, nb, "packet {i}: sample counts");
            assert_eq!(
                a, b,
                "{rate} Hz × {ch}: packet {i} (lost {lost}) differs from libopus"
            );
        }
        assert!(plc > 10 && fec > 50, "exercised {plc} PLC and {fec} FEC frames");
    }
}

#[test]
fn ogg_opus_file_decodes_like_ffmpeg_libopus() {
    let speech = common::speech_16k(6.0);
    let cfg = OpusEncoderConfig::voip(16000, 1).with_bitrate(24000);
    let bytes = encode_ogg_opus(&speech, cfg, 0x1234_5678).unwrap();
    let file = read_ogg_opus(&bytes).unwrap();
    assert_eq!(file.head.input_sample_rate, 16000);
    assert_eq!(
        file.head.pre_skip % 3,
        0,
        "pre-skip is the 16 kHz look-ahead in 48 kHz units"
    );
    let ours = file.decode().unwrap();
    assert_eq!(ours.len(), speech.len() * 3, "pre-skip and end trimming");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.opus");
    std::fs::write(&path, &bytes).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-c:a", "libopus", "-i"])
        .arg(&path)
        .args(["-f", "s16le", "-"])
        .output()
        .expect("ffmpeg must be installed (Debian ffmpeg, built with libopus; scripts/setup.sh)");
    assert!(
        out.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<i16> = out
        .stdout
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(
        ours.len(),
        theirs.len(),
        "length vs ffmpeg (pre-skip / end trimming)"
    );
    if let Some(k) = ours.iter().zip(&theirs).position(|(a, b)| a != b) {
        panic!("decode differs from ffmpeg's libopus at sample {k}");
    }
}

fn snr_db(reference: &[i16], test: &[i16]) -> f64 {
    let (mut s, mut n) = (0.0f64, 0.0f64);
    for (&r, &t) in reference.iter().zip(test) {
        s += f64::from(r).powi(2);
        n += (f64::from(r) - f64::from(t)).powi(2);
    }
    10.0 * (s / n.max(1e-9)).log10()
}

#[test]
fn speech_round_trip_quality_at_32_kbps() {
    let speech = common::speech_16k(10.0);
    let cfg = OpusEncoderConfig::voip(16000, 1).with_bitrate(32000);
    let mut enc = OpusEncoder::new(cfg).unwrap();
    let delay = enc.lookahead();
    drop(enc);
    let packets = encode_all(&speech, cfg);
    let mut dec = OpusDecoder::new(16000, 1).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0i16; 320];
    for p in &packets {
        let n = dec.decode(p, &mut buf).unwrap();
        out.extend_from_slice(&buf[..n]);
    }
    let decoded = &out[delay..];
    let reference = &speech[..decoded.len()];
    let snr = snr_db(reference, decoded);
    let dir = tempfile::tempdir().unwrap();
    let (rp, dp) = (dir.path().join("ref.raw"), dir.path().join("deg.raw"));
    std::fs::write(&rp, common::i16_bytes(reference)).unwrap();
    std::fs::write(&dp, common::i16_bytes(decoded)).unwrap();
    let script = "import sys, numpy as np\nfrom pesq import pesq\nr=np.fromfile(sys.argv[1],dtype='<i2').astype(float)\nd=np.fromfile(sys.argv[2],dtype='<i2').astype(float)\nprint(pesq(16000,r,d,'wb'))";
    match Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&rp)
        .arg(&dp)
        .output()
    {
        Ok(o) if o.status.success() => {
            let mos: f64 = String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse()
                .expect("pesq prints a number");
            eprintln!("Opus 32 kbit/s VOIP 16 kHz speech: PESQ-WB {mos:.2}, SNR {snr:.1} dB");
            assert!(mos >= 3.5, "PESQ-WB {mos} < 3.5");
        }
        _ => {
            // Without `pesq`: Opus is not waveform-matching, but at 32 kbit/s on clean speech its
            // delay-aligned SNR stays well above 5 dB (measured ≈ 12 dB with libopus 1.3.1).
            eprintln!("python3 pesq unavailable; SNR {snr:.1} dB");
            assert!(snr > 5.0, "SNR {snr} dB");
        }
    }
}
