//! `tutti live` end to end on a real audio server: JACK (Debian `jackd2`) with its dummy backend.
//!
//! A tone from `jack_simple_client` (jackd2's example client) is connected to `tutti live`'s input; both
//! the tone and tutti's output are recorded by `jack_rec` (another jackd2 tool) in one file, so the level
//! ratio is measured by tools outside Tutti. Checks: the chain's gain (−6 dB) is applied, a `set` command
//! on stdin changes it while running (−12 dB), and the JSON report carries xruns, load and latency.
//! `tutti devices --json` prints one JSON document on stdout with and without a JACK server.
//! Needs jackd2 (scripts/setup.sh installs it) and a build with `--features jack` (scripts/test.sh).
//!
//! Robustness on a loaded machine: the test runs its own server (`JACK_DEFAULT_SERVER`, a name from a
//! small pool, see `start_jack`), the server's readiness and every client's ports are polled for (no fixed sleeps
//! before acting), the server tolerates slow clients (`-t` client timeout of 10 s), the gain change is
//! recorded only after tutti acknowledges it on stderr, tutti runs until a `stop` line (its `--seconds` is
//! only a watchdog), and levels are medians over 50 ms windows so that an xrun's dropout does not bias them.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

fn tool(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A JACK server (a name from the pool of `start_jack`), stopped (by its own pid) on drop.
struct Jack {
    child: Child,
    name: String,
    /// The pool name's lock (held while the server runs; released when the process ends).
    _lock: std::fs::File,
}

impl Drop for Jack {
    fn drop(&mut self) {
        // SIGTERM so that jackd unregisters and removes its shared memory; SIGKILL only if it lingers.
        stop_child(&mut self.child, "-TERM");
    }
}

/// A client process stopped on drop: SIGINT first (jackd2's example clients and tutti close their JACK
/// clients on it, so that the server frees their semaphores), SIGKILL if it lingers.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        stop_child(&mut self.0, "-INT");
    }
}

/// Sends `signal` to `child` (by its pid), waits up to 20 s for it to exit, then kills it.
fn stop_child(child: &mut Child, signal: &str) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The tests of this file run one at a time: a JACK client that looks for an absent server (the
/// `devices` test) goes through JACK's shared-memory registry and semaphores, which the other test's
/// running server uses too; run side by side, the server lost its clients (`XRun: client =
/// cpal_client_out was not finished`, then "Driver is not running") in 2 of 2 runs on a 2-core machine,
/// while either test alone passes.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    // A failed test poisons the lock; the next one still runs alone.
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn jack_cmd(server: &str, prog: &str) -> Command {
    let mut c = Command::new(prog);
    c.env("JACK_DEFAULT_SERVER", server)
        .env("JACK_NO_START_SERVER", "1");
    c
}

/// Starts `jackd -d dummy` under a name from a small fixed pool (`tutti_<tag>_0…3`) and waits until it
/// answers. JACK's shared-memory registry holds at most 8 servers and reclaims a dead server's entry only
/// when a server of the same name starts again, so names unique per process (the earlier scheme) filled
/// the registry after a few killed runs ("Too many servers already active"); a fixed pool reuses the
/// entries. A name another run holds (an exclusive lock on `$TMPDIR/<name>.jack.lock`) is skipped.
fn start_jack(tag: &str) -> Jack {
    let mut logs = String::new();
    for k in 0..4 {
        let name = format!("tutti_{tag}_{k}");
        // An exclusive lock on a file per name keeps concurrent runs (e.g. two `cargo test`s) apart;
        // the kernel releases it when a run dies, however it dies.
        let lock = std::fs::File::create(std::env::temp_dir().join(format!("{name}.jack.lock")))
            .expect("temp dir is writable");
        if lock.try_lock().is_err() || server_running(&name) {
            continue; // a concurrent run uses this name
        }
        // Semaphores a killed client of an earlier server of this name left behind would start the new
        // clients with stale counts: remove them (no server of this name runs, and the lock keeps
        // other runs from starting one).
        if let Ok(dir) = std::fs::read_dir("/dev/shm") {
            let tail = format!("_{name}_");
            for e in dir.flatten() {
                let f = e.file_name().to_string_lossy().into_owned();
                if f.starts_with("jack_sem.") && f.contains(&tail) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let log_path = log_path(&name);
        let log = std::fs::File::create(&log_path).expect("temp dir is writable");
        let child = Command::new("jackd")
            .args([
                "--no-realtime",
                "-n",
                &name,
                "-t",
                "10000",
                "-d",
                "dummy",
                "-r",
                "48000",
                "-p",
                "256",
            ])
            .env("JACK_NO_AUDIO_RESERVATION", "1")
            .stdout(Stdio::from(log.try_clone().expect("log file handle clones")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("jackd starts (checked with command -v)");
        let mut jack = Jack {
            child,
            name,
            _lock: lock,
        };
        let t0 = Instant::now();
        let mut exited = false;
        while t0.elapsed() < Duration::from_secs(30) {
            if matches!(jack.child.try_wait(), Ok(Some(_))) {
                exited = true;
                break;
            }
            if server_running(&jack.name) {
                return jack;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        assert!(
            !log.contains("Too many servers"),
            "JACK's server registry is full of stale entries (servers killed without clean-up): with no \
             jackd running, remove /dev/shm/jack-shm-registry. jackd said:\n{log}"
        );
        if exited && log.contains("already active") {
            logs.push_str(&log);
            continue; // another run uses this name: try the next one
        }
        panic!("jackd -d dummy ({}) did not start:\n{log}", jack.name);
    }
    panic!("every JACK server name of the pool is in use:\n{logs}");
}

/// Whether a JACK server of this name answers (`jack_wait -c` prints `running` or `not running`).
fn server_running(name: &str) -> bool {
    jack_cmd(name, "jack_wait")
        .args(["-c", "-s", name])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "running")
}

/// Where jackd's output goes (kept after the test for diagnosis; overwritten by the next run).
fn log_path(server: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{server}.jackd.log"))
}

/// The end of jackd's log, for failure messages.
fn jack_log(server: &str) -> String {
    let log = std::fs::read_to_string(log_path(server)).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    format!(
        "jackd log ({}):\n{}",
        log_path(server).display(),
        lines[lines.len().saturating_sub(30)..].join("\n")
    )
}

/// Waits until no port of `client` is listed any more.
fn wait_client_gone(server: &str, client: &str) {
    let t0 = Instant::now();
    let prefix = format!("{client}:");
    while t0.elapsed() < Duration::from_secs(30) {
        if !ports(server).lines().any(|l| l.trim().starts_with(&prefix)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "JACK client {client} did not go away; ports now:\n{}",
        ports(server)
    );
}

fn ports_connections(server: &str) -> String {
    jack_cmd(server, "jack_lsp")
        .arg("-c")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn ports(server: &str) -> String {
    jack_cmd(server, "jack_lsp")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn wait_ports(server: &str, want: &[&str]) {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(30) {
        let p = ports(server);
        if want.iter().all(|w| p.lines().any(|l| l.trim() == *w)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "JACK ports {want:?} did not appear; ports now:\n{}\n{}",
        ports(server),
        jack_log(server)
    );
}

/// Connects two ports and checks with `jack_lsp -c` that the connection exists (retries a few times).
fn connect(server: &str, a: &str, b: &str) {
    for _ in 0..10 {
        let st = jack_cmd(server, "jack_connect")
            .args([a, b])
            .stderr(Stdio::null())
            .status()
            .expect("jack_connect runs");
        let listed = jack_cmd(server, "jack_lsp")
            .args(["-c", a])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == b));
        if listed {
            return;
        }
        // Not listed yet (e.g. a port still registering, st = {st}): try again.
        let _ = st;
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "could not connect {a} to {b}; ports now:\n{}\n{}",
        ports(server),
        jack_log(server)
    );
}

/// Records `ports` for `secs` seconds with jack_rec; returns one Vec per port.
fn record(server: &str, file: &Path, secs: u32, ports: &[&str]) -> Vec<Vec<f64>> {
    let out = jack_cmd(server, "jack_rec")
        .args([
            "-f",
            file.to_str().expect("utf-8 temp path"),
            "-d",
            &secs.to_string(),
            "-b",
            "32",
        ])
        .args(ports)
        .output()
        .expect("jack_rec runs");
    assert!(
        out.status.success(),
        "jack_rec failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        jack_log(server)
    );
    let mut r = hound::WavReader::open(file).expect("jack_rec wrote a WAV file");
    let spec = r.spec();
    let n = spec.channels as usize;
    let v: Vec<f64> = match spec.sample_format {
        hound::SampleFormat::Float => r
            .samples::<f32>()
            .map(|s| f64::from(s.expect("sample")))
            .collect(),
        hound::SampleFormat::Int => r
            .samples::<i32>()
            .map(|s| f64::from(s.expect("sample")))
            .collect(),
    };
    let mut ch = vec![Vec::new(); n];
    for (i, s) in v.into_iter().enumerate() {
        ch[i % n].push(s);
    }
    ch
}

fn rms(x: &[f64]) -> f64 {
    (x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// Level of channel 1 relative to channel 0 in dB: the median over 50 ms windows after the first
/// 0.2 s, so that a dropout caused by a server xrun on a loaded machine does not bias it.
fn ratio_db(rec: &[Vec<f64>], server: &str) -> f64 {
    let (w, skip) = (2400, 9600);
    let n = rec[0].len().min(rec[1].len());
    assert!(n > skip + 4 * w, "recording too short: {n} frames");
    let mut r: Vec<f64> = (skip..n - w)
        .step_by(w)
        .filter_map(|i| {
            let (a, b) = (rms(&rec[0][i..i + w]), rms(&rec[1][i..i + w]));
            (a > 0.0 && b > 0.0).then(|| 20.0 * (b / a).log10())
        })
        .collect();
    assert!(
        r.len() >= 4,
        "the recorded tone or output is silent; ports:\n{}\n{}",
        ports_connections(server),
        jack_log(server)
    );
    r.sort_by(f64::total_cmp);
    r[r.len() / 2]
}

// The feature check is constant per build on purpose: a build without JACK fails with a clear message.
#[allow(clippy::assertions_on_constants)]
fn require_jack() {
    assert!(
        cfg!(feature = "jack"),
        "tutti must be built with JACK support for this test: cargo test -p tutti --features jack \
         (./scripts/test.sh does)"
    );
    for t in [
        "jackd",
        "jack_wait",
        "jack_lsp",
        "jack_connect",
        "jack_rec",
        "jack_simple_client",
    ] {
        assert!(
            tool(t),
            "'{t}' not found: install Debian jackd2 (./scripts/setup.sh does)"
        );
    }
}

/// Runs `tutti devices --json` against `server`; returns the JSON document (stdout must be exactly one).
fn devices_json(server: &str) -> serde_json::Value {
    let out = jack_cmd(server, env!("CARGO_BIN_EXE_tutti"))
        .args(["devices", "--json"])
        .output()
        .expect("tutti runs");
    assert!(
        out.status.success(),
        "tutti devices failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout of tutti devices --json is not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn jack_host(doc: &serde_json::Value) -> &serde_json::Value {
    doc["hosts"]
        .as_array()
        .expect("hosts is an array")
        .iter()
        .find(|h| h["name"] == "jack")
        .unwrap_or_else(|| panic!("no jack host listed: {doc}"))
}

#[test]
fn devices_json_is_one_document_without_a_jack_server() {
    let _serial = serial();
    require_jack();
    let server = format!("tutti_absent_{}", std::process::id());
    let doc = devices_json(&server);
    let jack = jack_host(&doc);
    let err = jack["error"]
        .as_str()
        .unwrap_or_else(|| panic!("the JACK host reports why: {doc}"));
    assert!(err.contains(&server), "the error names the server: {err}");
    assert_eq!(jack["devices"].as_array().map(Vec::len), Some(0), "{doc}");
    // `tutti live --host jack` fails with the same clear error and leaves stdout empty.
    let out = jack_cmd(&server, env!("CARGO_BIN_EXE_tutti"))
        .args([
            "live",
            "--host",
            "jack",
            "--chain",
            "gain",
            "--seconds",
            "1",
            "--json",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("tutti runs");
    assert!(!out.status.success(), "tutti live without a server must fail");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no JACK server"), "{stderr}");
}

/// Reads tutti's stderr lines on a thread; the receiver gets each line and the full text is returned by
/// the thread when stderr closes.
fn stderr_lines(child: &mut Child) -> (mpsc::Receiver<String>, std::thread::JoinHandle<String>) {
    let err = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            eprintln!("tutti stderr: {line}");
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    (rx, h)
}

fn wait_line(rx: &mpsc::Receiver<String>, want: &str) {
    let t0 = Instant::now();
    let mut seen = Vec::new();
    while t0.elapsed() < Duration::from_secs(30) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) if l.contains(want) => return,
            Ok(l) => seen.push(l),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    panic!("tutti never printed '{want}'; stderr so far: {seen:?}");
}

#[test]
fn live_chain_between_jack_ports_applies_gain_and_reports_xruns() {
    let _serial = serial();
    require_jack();
    // JACK's dummy driver in non-realtime mode sometimes drops every client of a fresh server on this
    // 2-core VM ("XRun: client = cpal_client_out was not finished", then "Driver is not running"; seen
    // in about half of the runs of 2026-11-26, with the same binary passing in between). One retry
    // on a fresh server; a second failure fails the test with its own message.
    if std::panic::catch_unwind(live_chain_scenario).is_err() {
        eprintln!("live chain scenario failed once (see above); retrying on a fresh JACK server");
        live_chain_scenario();
    }
}

fn live_chain_scenario() {
    let dir = tempfile::tempdir().expect("temp dir");
    let jack = start_jack("live");
    let server = jack.name.clone();

    let _tone = Proc(
        jack_cmd(&server, "jack_simple_client")
            .args(["tt_tone", &server])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("jack_simple_client starts"),
    );
    // `--seconds` is a watchdog only: the test stops tutti with a `stop` line once it has recorded.
    let mut live = Proc(
        jack_cmd(&server, env!("CARGO_BIN_EXE_tutti"))
            .args([
                "live",
                "--host",
                "jack",
                "--chain",
                "gain(db=-6)",
                "--seconds",
                "120",
                "--json",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tutti starts"),
    );
    let (lines, stderr_all) = stderr_lines(&mut live.0);
    wait_ports(
        &server,
        &["tt_tone:output1", "cpal_client_in:in_0", "cpal_client_out:out_0"],
    );
    connect(&server, "tt_tone:output1", "cpal_client_in:in_0");

    let rec1 = record(
        &server,
        &dir.path().join("rec1.wav"),
        2,
        &["tt_tone:output1", "cpal_client_out:out_0"],
    );
    let db1 = ratio_db(&rec1, &server);
    assert!((db1 + 6.02).abs() < 0.3, "gain(db=-6) measured {db1:.2} dB");

    // Change the gain while running through stdin; record once tutti has acknowledged it.
    let stdin = live.0.stdin.as_mut().expect("stdin is piped");
    writeln!(stdin, "set gain.db -12").expect("tutti reads stdin");
    stdin.flush().expect("flush stdin");
    wait_line(&lines, "ok gain.db = -12");
    let rec2 = record(
        &server,
        &dir.path().join("rec2.wav"),
        2,
        &["tt_tone:output1", "cpal_client_out:out_0"],
    );
    let db2 = ratio_db(&rec2, &server);
    assert!(
        (db2 + 12.04).abs() < 0.3,
        "after 'set gain.db -12' measured {db2:.2} dB"
    );

    writeln!(stdin, "stop").expect("tutti reads stdin");
    stdin.flush().expect("flush stdin");
    let mut out = Vec::new();
    std::io::Read::read_to_end(live.0.stdout.as_mut().expect("stdout is piped"), &mut out)
        .expect("read tutti's stdout");
    let status = live.0.wait().expect("tutti finishes");
    let stderr = stderr_all.join().expect("stderr reader ends");
    assert!(status.success(), "tutti live failed: {stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "not one JSON document on stdout ({e}): {}",
            String::from_utf8_lossy(&out)
        )
    });
    assert_eq!(doc["host"], "jack");
    assert_eq!(doc["sample_rate"], 48000);
    assert_eq!(doc["buffer_frames"]["output"], 256, "JACK period is 256 frames");
    for k in ["xruns", "input_overruns", "output_underruns", "stream_errors"] {
        assert!(doc[k].is_u64(), "{k} reported: {doc}");
    }
    // JACK ran tutti's output client in every cycle jack_rec recorded (both are clients of one graph),
    // so tutti counted at least that many output callbacks.
    let recorded = (rec1[0].len() + rec2[0].len()) as u64;
    let out_cb = doc["callbacks"]["output"].as_u64().expect("output callbacks");
    assert!(
        out_cb * 256 >= recorded,
        "only {out_cb} output callbacks of 256 frames for {recorded} recorded frames: {doc}"
    );
    assert!(
        doc["callback_load"]["avg"]
            .as_f64()
            .is_some_and(|l| l > 0.0 && l < 1.0),
        "{doc}"
    );
    let lat = doc["latency_ms"]["avg"].as_f64().expect("latency");
    // At least one period in and out (2 × 5.33 ms) plus the engine's 10 ms block.
    assert!(lat > 15.0 && lat < 200.0, "latency {lat} ms: {doc}");
    assert_eq!(doc["param_changes"], 1);
    assert_eq!(doc["command_errors"], 0);

    // With the server running, `tutti devices --json` lists cpal's two clients in one JSON document.
    // (After tutti's own clients are gone, so that the names are free.)
    wait_client_gone(&server, "cpal_client_in");
    wait_client_gone(&server, "cpal_client_out");
    let doc = devices_json(&server);
    let host = jack_host(&doc);
    assert!(host["error"].is_null(), "{doc}");
    assert_eq!(host["default_input"], "cpal_client_in", "{doc}");
    assert_eq!(host["default_output"], "cpal_client_out", "{doc}");
    drop(jack);
}
