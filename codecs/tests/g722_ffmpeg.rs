//! G.722 interop with ffmpeg on Debian's `asterisk-core-sounds-en-g722` prompts: our decode equals
//! `ffmpeg -f g722 -i X -f s16le -` byte for byte, and re-encoding that PCM equals ffmpeg's G.722
//! encoder (`-c:a g722 -f g722`) byte for byte.
//!
//! The default test checks every prompt in one batched ffmpeg run per direction (one process, one
//! decoder per input); set `TUTTI_G722_PROMPTS=N` to limit it to every k-th prompt (N in total).

use std::path::{Path, PathBuf};
use std::process::Command;

use tutti_codecs::{Decoder, Encoder, G722Decoder, G722Encoder, G722Mode};

fn prompts() -> Vec<PathBuf> {
    let out = Command::new("dpkg")
        .args(["-L", "asterisk-core-sounds-en-g722"])
        .output()
        .expect("dpkg must be runnable to list asterisk-core-sounds-en-g722 (install it: scripts/setup.sh)");
    assert!(
        out.status.success(),
        "package asterisk-core-sounds-en-g722 is not installed (scripts/setup.sh installs it)"
    );
    let mut files: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.ends_with(".g722"))
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() > 100,
        "expected hundreds of prompts, found {}",
        files.len()
    );
    if let Some(n) = std::env::var("TUTTI_G722_PROMPTS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let step = (files.len() / n.max(1)).max(1);
        files = files.into_iter().step_by(step).take(n).collect();
    }
    files
}

/// Runs one ffmpeg process with an input/output pair per job: `(input args, input, output args, output)`.
fn ffmpeg_batch(jobs: &[(Vec<&str>, PathBuf, Vec<&str>, PathBuf)]) {
    // Chunks keep the command line and open-file count moderate.
    for chunk in jobs.chunks(100) {
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-v", "error", "-nostdin", "-y"]);
        for (iargs, input, _, _) in chunk {
            cmd.args(iargs).arg("-i").arg(input);
        }
        for (k, (_, _, oargs, output)) in chunk.iter().enumerate() {
            cmd.args(["-map", &format!("{k}:a")]).args(oargs).arg(output);
        }
        let st = cmd
            .status()
            .expect("ffmpeg must be installed (Debian package ffmpeg; scripts/setup.sh)");
        assert!(st.success(), "ffmpeg failed: {st}");
    }
}

fn read_s16(p: &Path) -> Vec<i16> {
    let b = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    b.chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

#[test]
fn prompts_decode_and_reencode_like_ffmpeg() {
    let files = prompts();
    let dir = tempfile::tempdir().expect("temporary directory");
    // Decode with ffmpeg.
    let jobs: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            (
                vec!["-f", "g722"],
                f.clone(),
                vec!["-f", "s16le"],
                dir.path().join(format!("{i}.pcm")),
            )
        })
        .collect();
    ffmpeg_batch(&jobs);
    let mut total_samples = 0usize;
    let mut enc_jobs = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let codes = std::fs::read(f).expect("prompt readable");
        let want = read_s16(&dir.path().join(format!("{i}.pcm")));
        let mut dec = G722Decoder::new(G722Mode::Kbps64);
        let mut got = vec![0i16; codes.len() * 2];
        dec.decode(&codes, &mut got).expect("decode");
        assert_eq!(got.len(), want.len(), "{}: length", f.display());
        if let Some(k) = got.iter().zip(&want).position(|(a, b)| a != b) {
            panic!(
                "{}: decode differs from ffmpeg at sample {k}: {} vs {}",
                f.display(),
                got[k],
                want[k]
            );
        }
        total_samples += got.len();
        enc_jobs.push((
            vec!["-f", "s16le", "-ar", "16000", "-ac", "1"],
            dir.path().join(format!("{i}.pcm")),
            vec!["-c:a", "g722", "-f", "g722"],
            dir.path().join(format!("{i}.g722")),
        ));
    }
    // Re-encode the decoded PCM with ffmpeg and with us.
    ffmpeg_batch(&enc_jobs);
    for (i, f) in files.iter().enumerate() {
        let pcm = read_s16(&dir.path().join(format!("{i}.pcm")));
        let want = std::fs::read(dir.path().join(format!("{i}.g722"))).expect("ffmpeg output");
        let mut enc = G722Encoder::new(G722Mode::Kbps64);
        let mut got = vec![0u8; pcm.len() / 2];
        enc.encode(&pcm[..pcm.len() & !1], &mut got).expect("encode");
        assert_eq!(got.len(), want.len(), "{}: encoded length", f.display());
        if let Some(k) = got.iter().zip(&want).position(|(a, b)| a != b) {
            panic!("{}: encode differs from ffmpeg at octet {k}", f.display());
        }
    }
    eprintln!(
        "{} prompts, {total_samples} samples: decode and encode equal ffmpeg",
        files.len()
    );
}
