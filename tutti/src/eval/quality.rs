//! PESQ-WB and STOI through the `pesq` and `pystoi` Python packages, when they are importable.
//!
//! # What
//! [`Quality::probe`] checks once whether `python3` can import `numpy`, `pesq` and `pystoi`;
//! [`Quality::score`] scores a batch of (reference, degraded) pairs in one Python process: PESQ-WB
//! (ITU-T P.862.2, the `pesq` package's reference C code, 16 kHz) and STOI (C. H. Taal et al., IEEE TASLP
//! 19(7), 2011, the `pystoi` package). A pair that the metric cannot score (e.g. PESQ finds no utterance)
//! gets `None`; so does everything when the packages are missing (the report then says "n/a").
//!
//! # How
//! Signals go to the scratch directory as raw little-endian f32 files; a short script reads the job list
//! on stdin and prints one JSON line per pair.
//!
//! # Real-time safety
//! Offline only: files and a child process.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::EvalError;

const PROBE: &str = "import numpy, pesq, pystoi";

const SCRIPT: &str = r#"
import sys, json, numpy as np
from pesq import pesq
from pystoi import stoi
for line in sys.stdin:
    job = json.loads(line)
    ref = np.fromfile(job["ref"], dtype="<f4").astype(np.float64)
    deg = np.fromfile(job["deg"], dtype="<f4").astype(np.float64)
    out = {"pesq": None, "stoi": None}
    try:
        out["pesq"] = float(pesq(job["rate"], ref, deg, "wb"))
    except Exception as e:
        out["pesq_error"] = str(e)
    try:
        out["stoi"] = float(stoi(ref, deg, job["rate"], extended=False))
    except Exception as e:
        out["stoi_error"] = str(e)
    print(json.dumps(out), flush=True)
"#;

/// PESQ-WB and STOI of one pair.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Scores {
    /// PESQ-WB MOS-LQO (1.04–4.64), if scored.
    pub pesq_wb: Option<f64>,
    /// STOI (0–1), if scored.
    pub stoi: Option<f64>,
}

/// The Python metric packages, if available.
#[derive(Debug, Clone)]
pub struct Quality {
    available: bool,
    scratch: PathBuf,
}

impl Quality {
    /// Probes `python3` for the packages; `scratch` holds the temporary signal files.
    pub fn probe(scratch: &Path) -> Self {
        let available = Command::new("python3")
            .args(["-c", PROBE])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        Self {
            available,
            scratch: scratch.to_path_buf(),
        }
    }

    /// Whether PESQ and STOI can be computed.
    pub fn available(&self) -> bool {
        self.available
    }

    /// Scores each `(reference, degraded)` pair at `rate` (16 kHz for PESQ-WB). All `None` when the
    /// packages are missing.
    pub fn score(&self, pairs: &[(&[f32], &[f32])], rate: u32) -> Result<Vec<Scores>, EvalError> {
        if !self.available || pairs.is_empty() {
            return Ok(vec![Scores::default(); pairs.len()]);
        }
        let io = |what: &Path, e: std::io::Error| EvalError::Io {
            path: what.display().to_string(),
            detail: e.to_string(),
        };
        let mut jobs = String::new();
        let mut files = Vec::new();
        for (k, (r, d)) in pairs.iter().enumerate() {
            let rp = self.scratch.join(format!("q{k}-ref.f32"));
            let dp = self.scratch.join(format!("q{k}-deg.f32"));
            let n = r.len().min(d.len());
            for (p, x) in [(&rp, &r[..n]), (&dp, &d[..n])] {
                let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
                std::fs::write(p, bytes).map_err(|e| io(p, e))?;
            }
            jobs.push_str(
                &serde_json::json!({"ref": rp.display().to_string(), "deg": dp.display().to_string(), "rate": rate})
                    .to_string(),
            );
            jobs.push('\n');
            files.push(rp);
            files.push(dp);
        }
        let result = run_script(&jobs);
        for f in &files {
            let _ = std::fs::remove_file(f);
        }
        let stdout = result?;
        let lines: Vec<&str> = stdout.lines().collect();
        if lines.len() != pairs.len() {
            return Err(EvalError::Metric {
                what: "pesq/pystoi".into(),
                detail: format!("expected {} results, got {}", pairs.len(), lines.len()),
            });
        }
        lines
            .iter()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).map_err(|e| EvalError::Metric {
                    what: "pesq/pystoi".into(),
                    detail: format!("bad output line '{l}': {e}"),
                })?;
                Ok(Scores {
                    pesq_wb: v["pesq"].as_f64(),
                    stoi: v["stoi"].as_f64(),
                })
            })
            .collect()
    }
}

fn run_script(jobs: &str) -> Result<String, EvalError> {
    let err = |detail: String| EvalError::Metric {
        what: "python3 (pesq/pystoi)".into(),
        detail,
    };
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(e.to_string()))?;
    child
        .stdin
        .take()
        .expect("stdin was requested as piped")
        .write_all(jobs.as_bytes())
        .map_err(|e| err(e.to_string()))?;
    let out = child.wait_with_output().map_err(|e| err(e.to_string()))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        return Err(err(msg.lines().last().unwrap_or("failed").to_string()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
