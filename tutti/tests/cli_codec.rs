//! `tutti codec encode|decode` through the built binary: ffmpeg as the decode oracle (and G.722 encode
//! oracle), the ITU-T G.191 vectors as the G.711 encode oracle, ffmpeg's libopus for Ogg Opus files.

use std::path::Path;

mod common;

use common::{ffmpeg, s16le as s16, tutti, tutti_ok as ok, vectors as vectors_dir};

/// The 16-bit PCM data of a WAV file written by tutti (canonical 44-byte header from hound).
fn wav_pcm(path: &Path) -> (u32, u16, Vec<i16>) {
    let b = std::fs::read(path).expect("WAV written");
    assert_eq!(&b[..4], b"RIFF");
    let channels = u16::from_le_bytes([b[22], b[23]]);
    let rate = u32::from_le_bytes([b[24], b[25], b[26], b[27]]);
    let data = b.windows(4).position(|w| w == b"data").expect("data chunk") + 8;
    (
        rate,
        channels,
        b[data..]
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect(),
    )
}

fn write_wav(path: &Path, rate: u32, channels: u16, pcm: &[i16]) {
    let mut b = Vec::new();
    let data_len = (pcm.len() * 2) as u32;
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
    b.extend_from_slice(&(channels * 2).to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in pcm {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).expect("write WAV");
}

/// Asserts equal sequences, reporting the length and the first difference only.
fn same<T: PartialEq + std::fmt::Debug>(got: &[T], want: &[T], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    if let Some(k) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!("{what}: first difference at {k}: {:?} vs {:?}", got[k], want[k]);
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

#[test]
fn g722_decode_of_an_asterisk_prompt_equals_ffmpeg() {
    let prompt = "/usr/share/asterisk/sounds/en_US_f_Allison/tt-monkeys.g722";
    assert!(
        Path::new(prompt).is_file(),
        "{prompt} missing: install asterisk-core-sounds-en-g722 (scripts/setup.sh)"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.wav");
    let json = ok(&[
        "codec",
        "decode",
        "--codec",
        "g722",
        "--in",
        prompt,
        "--out",
        s(&out),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("one JSON document");
    let (rate, ch, pcm) = wav_pcm(&out);
    assert_eq!((rate, ch), (16000, 1));
    let want = s16(&ffmpeg(&["-f", "g722", "-i", prompt, "-f", "s16le", "-"]));
    same(&pcm, &want, "G.722 decode vs ffmpeg");
    assert_eq!(v["frames"], pcm.len());
    assert_eq!(v["bytes"], std::fs::metadata(prompt).unwrap().len());
    assert!((v["bitrate"].as_f64().unwrap() - 64000.0).abs() < 1.0);
}

#[test]
fn g711_decode_equals_ffmpeg_and_encode_equals_g191() {
    let dir = tempfile::tempdir().unwrap();
    // Every code, several times: ffmpeg's G.711 decoders are exact (only its encoders round differently).
    let codes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let raw = dir.path().join("x.ul");
    std::fs::write(&raw, &codes).unwrap();
    for (codec, fmt) in [("pcmu", "mulaw"), ("pcma", "alaw")] {
        let out = dir.path().join(format!("{codec}.wav"));
        ok(&[
            "codec",
            "decode",
            "--codec",
            codec,
            "--in",
            s(&raw),
            "--out",
            s(&out),
        ]);
        let (rate, _, pcm) = wav_pcm(&out);
        assert_eq!(rate, 8000);
        let want = s16(&ffmpeg(&[
            "-f",
            fmt,
            "-ar",
            "8000",
            "-ac",
            "1",
            "-i",
            s(&raw),
            "-f",
            "s16le",
            "-",
        ]));
        same(&pcm, &want, codec);
    }
    // Encode: the G.191 sweep (all 65 536 inputs) through the CLI equals sweep-r.u / sweep-r.a.
    let vec = vectors_dir().join("itu-stl/g711");
    let src = std::fs::read(vec.join("sweep.src"))
        .unwrap_or_else(|e| panic!("{}: {e} (set TUTTI_TESTVECTORS)", vec.join("sweep.src").display()));
    let wav = dir.path().join("sweep.wav");
    write_wav(&wav, 8000, 1, &s16(&src));
    for (codec, reference) in [("pcmu", "sweep-r.u"), ("pcma", "sweep-r.a")] {
        let out = dir.path().join(format!("sweep.{codec}"));
        ok(&[
            "codec",
            "encode",
            "--codec",
            codec,
            "--in",
            s(&wav),
            "--out",
            s(&out),
        ]);
        let got = std::fs::read(&out).unwrap();
        let want: Vec<u8> = std::fs::read(vec.join(reference))
            .unwrap()
            .chunks_exact(2)
            .map(|c| c[0])
            .collect();
        same(&got, &want, codec);
    }
}

#[test]
fn g722_encode_equals_ffmpeg_and_resamples_other_rates() {
    let dir = tempfile::tempdir().unwrap();
    // Speech: an Asterisk prompt decoded by ffmpeg.
    let prompt = "/usr/share/asterisk/sounds/en_US_f_Allison/tt-weasels.g722";
    let pcm = s16(&ffmpeg(&["-f", "g722", "-i", prompt, "-f", "s16le", "-"]));
    let wav = dir.path().join("in16k.wav");
    write_wav(&wav, 16000, 1, &pcm);
    let out = dir.path().join("x.g722");
    ok(&[
        "codec",
        "encode",
        "--codec",
        "g722",
        "--in",
        s(&wav),
        "--out",
        s(&out),
    ]);
    let want = ffmpeg(&["-i", s(&wav), "-c:a", "g722", "-f", "g722", "-"]);
    same(&std::fs::read(&out).unwrap(), &want, "G.722 encode vs ffmpeg");
    // 56 kbit/s: same octets with the auxiliary LSB cleared.
    let out56 = dir.path().join("x56.g722");
    ok(&[
        "codec",
        "encode",
        "--codec",
        "g722-56",
        "--in",
        s(&wav),
        "--out",
        s(&out56),
    ]);
    let got56 = std::fs::read(&out56).unwrap();
    assert!(got56.iter().zip(&want).all(|(a, b)| *a == b & 0xFE));
    // A 48 kHz stereo input is downmixed and resampled to 16 kHz: about a third of the frames, and the
    // decoded result tracks the 16 kHz original.
    let stereo48: Vec<i16> = pcm.iter().flat_map(|&v| [v, v, v, v, v, v]).collect();
    let wav48 = dir.path().join("in48k.wav");
    write_wav(&wav48, 48000, 2, &stereo48);
    let json = ok(&[
        "codec",
        "encode",
        "--codec",
        "g722",
        "--in",
        s(&wav48),
        "--out",
        s(&out),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["frames"], pcm.len());
    assert_eq!(v["sample_rate"], 16000);
    assert_eq!(std::fs::read(&out).unwrap().len(), pcm.len() / 2);
}

#[test]
fn opus_files_are_ogg_opus_that_ffmpeg_libopus_decodes_like_we_do() {
    let dir = tempfile::tempdir().unwrap();
    let prompt = "/usr/share/asterisk/sounds/en_US_f_Allison/tt-monkeys.g722";
    let pcm = s16(&ffmpeg(&["-f", "g722", "-i", prompt, "-f", "s16le", "-"]));
    let wav = dir.path().join("in.wav");
    write_wav(&wav, 16000, 1, &pcm);
    let opus = dir.path().join("x.opus");
    let json = ok(&[
        "codec",
        "encode",
        "--codec",
        "opus:24000",
        "--in",
        s(&wav),
        "--out",
        s(&opus),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let br = v["bitrate"].as_f64().unwrap();
    assert!(
        (15_000.0..40_000.0).contains(&br),
        "Ogg Opus file bitrate {br} for a 24 kbit/s target"
    );
    let out = dir.path().join("y.wav");
    ok(&[
        "codec",
        "decode",
        "--codec",
        "opus",
        "--in",
        s(&opus),
        "--out",
        s(&out),
    ]);
    let (rate, ch, ours) = wav_pcm(&out);
    assert_eq!((rate, ch), (48000, 1));
    assert_eq!(
        ours.len(),
        pcm.len() * 3,
        "pre-skip and end trimming restore the input length"
    );
    let theirs = s16(&ffmpeg(&["-c:a", "libopus", "-i", s(&opus), "-f", "s16le", "-"]));
    same(&ours, &theirs, "Opus decode vs ffmpeg's libopus");
}

#[test]
fn errors_are_one_line_naming_the_culprit_and_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never.wav");
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "codec",
                "decode",
                "--codec",
                "gsm",
                "--in",
                "/nonexistent",
                "--out",
                s(&out),
            ],
            "--codec",
        ),
        (
            &[
                "codec",
                "decode",
                "--codec",
                "opus:abc",
                "--in",
                "/nonexistent",
                "--out",
                s(&out),
            ],
            "--codec",
        ),
        (
            &[
                "codec",
                "decode",
                "--codec",
                "g722",
                "--in",
                "/nonexistent/x.g722",
                "--out",
                s(&out),
            ],
            "/nonexistent/x.g722",
        ),
        (
            &[
                "codec",
                "encode",
                "--codec",
                "pcmu",
                "--in",
                "/nonexistent/in.wav",
                "--out",
                s(&out),
            ],
            "/nonexistent/in.wav",
        ),
    ];
    for (args, needle) in cases {
        let o = tutti(args);
        assert!(!o.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.contains(needle), "{err} should name {needle}");
        assert!(o.stdout.is_empty());
        assert!(!out.exists());
    }
    // A corrupt Ogg file: error names the input, no output written.
    let bad = dir.path().join("bad.opus");
    std::fs::write(&bad, b"OggS not really").unwrap();
    let o = tutti(&[
        "codec",
        "decode",
        "--codec",
        "opus",
        "--in",
        s(&bad),
        "--out",
        s(&out),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.opus"));
    assert!(!out.exists());
}
