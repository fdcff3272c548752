//! `tutti conference`: a UDP conference server around the sans-IO [`Conference`].
//!
//! # What
//! Listens on one UDP port (RTP and RTCP multiplexed, RFC 5761). Legs come from the configuration file
//! (codec, payload type, where to send, how to recognise their packets, SRTP key, chain, gains) or join by
//! sending RTP to the port (symmetric RTP: the mix goes back to the packet's source; codec from the payload
//! type). Legs that fall silent for the timeout, or send RTCP BYE, are removed with a BYE of our own.
//! Statistics (one JSON line per leg set, each leg with its call detail record so far) on SIGUSR1 or
//! every `stats_every_s`; a call detail record (`"event": "cdr"`, [`crate::cdr`]) for every leg that
//! ends, including at shutdown. Recordings of the full mix
//! and of the legs that consented (`record = true`), encrypted at rest when a key is configured.
//!
//! # How
//! Three threads around the split conference of [`super::runtime`]: the mix tick runs every packet time
//! as a task on an engine [`Scheduler`] worker (absolute-time wake-ups, deadline accounting); a network
//! thread moves datagrams between the socket and the task's rings, stamping arrivals on the runtime's
//! clock; the main thread admits joining legs (building them is what allocates), retires expired ones
//! (their BYE, their statistics), writes recordings from the task's audio rings and prints statistics.
//!
//! # Real-time safety
//! The worker runs only the allocation-free task; the socket system calls, file writes and allocations
//! happen on the two other threads. The scheduler counts allocations on its worker, and the statistics
//! report them (`scheduler.rt_allocations`, expected 0) with the tick's busy time and deadline misses.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtrb::{Consumer, Producer, RingBuffer};
use serde::Deserialize;
use serde_json::json;
use tutti_codecs::{CodecSpec, RtpFormat};
use tutti_engine::{Scheduler, SchedulerConfig, SchedulerStats, TaskOptions};
use tutti_rtp::{CryptoAttribute, SrtpProfile};

use super::config::{ConferenceConfig, LegConfig, LegId, MixRate};
use super::core::{leg_codec, Conference};
use super::leg::MTU;
use super::recorder::Recording;
use super::runtime::{split, ConferenceControl, Datagram, Event, NetEnds, Route, RuntimeOptions};
use crate::cdr::Cdr;

/// One `[[leg]]` of the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegEntry {
    /// Label.
    pub name: String,
    /// Codec (`pcmu`, `pcma`, `g722`, `opus[:BITRATE]`, `l16[:RATE]`).
    pub codec: String,
    /// Where the mix is sent (`HOST:PORT`).
    pub remote: String,
    /// RTP payload type (default: the codec's static type, else 96).
    pub payload_type: Option<u8>,
    /// Recognise the leg's packets by this SSRC (default: by source address = `remote`).
    pub remote_ssrc: Option<u32>,
    /// Our SSRC towards the leg.
    pub ssrc: Option<u32>,
    /// SDES-SRTP master key and salt, base64 (both directions).
    pub srtp_key: Option<String>,
    /// SRTP suite (default `AES_CM_128_HMAC_SHA1_80`).
    pub srtp_suite: Option<String>,
    /// Chain for this leg (`""`: none; default: the conference's).
    pub chain: Option<String>,
    /// Input gain in dB.
    #[serde(default)]
    pub gain_in_db: f32,
    /// Output gain in dB.
    #[serde(default)]
    pub gain_out_db: f32,
    /// Muted.
    #[serde(default)]
    pub muted: bool,
    /// Deaf.
    #[serde(default)]
    pub deaf: bool,
    /// The participant consented to being recorded (written to `record_dir` only then).
    #[serde(default)]
    pub record: bool,
}

/// The configuration file of `tutti conference` (TOML).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// UDP address to listen on (`HOST:PORT`).
    pub listen: String,
    /// Mix rate: 8000, 16000, 32000, 48000 or "highest" (the highest audio rate among the configured
    /// legs, fixed at start; 48000 when no leg is configured).
    #[serde(default)]
    pub mix_rate: Option<toml::Value>,
    /// Packet time in ms (default 20).
    #[serde(default)]
    pub ptime_ms: Option<u32>,
    /// Most simultaneous talkers (default 3).
    #[serde(default)]
    pub talkers: Option<usize>,
    /// Chain for every leg (e.g. "hpf,ns,agc").
    #[serde(default)]
    pub chain: Option<String>,
    /// Seconds of silence after which a leg is removed (default 30).
    #[serde(default)]
    pub leg_timeout_s: Option<f64>,
    /// Accept legs that join by sending RTP (default true).
    #[serde(default)]
    pub allow_join: Option<bool>,
    /// Dynamic payload types for joining legs, e.g. `{ 96 = "opus", 97 = "g722" }`.
    #[serde(default)]
    pub payload_types: BTreeMap<String, String>,
    /// Most legs (default 256).
    #[serde(default)]
    pub max_legs: Option<usize>,
    /// Directory for recordings: `mix.wav` (with `record_mix`) and `<leg>.wav` for legs with `record = true`.
    #[serde(default)]
    pub record_dir: Option<String>,
    /// Record the full mix.
    #[serde(default)]
    pub record_mix: bool,
    /// Encrypt recordings at rest (AES-256-GCM STREAM) with the key in this file (`.wav.enc` files; see
    /// `tutti record decrypt`). `record_encrypt = true` takes the key from `TUTTI_RECORD_KEY` instead.
    #[serde(default)]
    pub record_key_file: Option<String>,
    /// Encrypt recordings with the key from `TUTTI_RECORD_KEY`.
    #[serde(default)]
    pub record_encrypt: bool,
    /// Configured legs.
    #[serde(default)]
    pub leg: Vec<LegEntry>,
}

impl ServerConfig {
    /// Reads and checks a configuration file.
    ///
    /// # Errors
    /// One line naming the file and the field.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let c: Self = toml::from_str(&text).map_err(|e| {
            format!(
                "{}: {}",
                path.display(),
                e.to_string().lines().collect::<Vec<_>>().join(" ")
            )
        })?;
        c.listen
            .parse::<SocketAddr>()
            .map_err(|e| format!("{}: listen = \"{}\": {e}", path.display(), c.listen))?;
        Ok(c)
    }
}

fn parse_codec(s: &str, what: &str) -> Result<CodecSpec, String> {
    CodecSpec::parse(s).map_err(|e| format!("{what}: codec \"{s}\": {e}"))
}

/// Options of [`serve`] beyond the file.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Stop after this long (default: until Ctrl-C).
    pub seconds: Option<f64>,
    /// Print statistics every this many seconds.
    pub stats_every: Option<f64>,
}

/// What the control side keeps of a leg.
struct CtlLeg {
    remote: SocketAddr,
    by_ssrc: Option<u32>,
    rec: Option<(Consumer<f32>, Recording)>,
}

/// Moves what a recording ring holds into its file.
fn drain(c: &mut Consumer<f32>, rec: &mut Recording) -> Result<(), String> {
    let n = c.slots();
    if n == 0 {
        return Ok(());
    }
    let chunk = c
        .read_chunk(n)
        .expect("`slots()` samples are readable: this is the ring's only consumer");
    let (a, b) = chunk.as_slices();
    rec.append(a)?;
    rec.append(b)?;
    chunk.commit_all();
    Ok(())
}

/// A recording ring of two seconds at `rate`.
fn record_ring(rate: u32) -> (Producer<f32>, Consumer<f32>) {
    RingBuffer::new(rate as usize * 2)
}

/// The network driver: datagrams in (with their arrival time on the runtime's clock), datagrams out.
fn net_loop(sock: UdpSocket, mut net: NetEnds, stop: Arc<AtomicBool>) {
    let _ = sock.set_read_timeout(Some(Duration::from_millis(1)));
    let mut buf = [0u8; MTU];
    while !stop.load(Ordering::Relaxed) {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                // A full ring drops the datagram (the real-time side is far behind); the leg's jitter
                // buffer sees it as loss.
                let _ = net.rx.push(Datagram::new(from, net.clock.elapsed(), &buf[..n]));
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                        | std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::ConnectionReset
                ) => {}
            Err(e) => {
                eprintln!("tutti conference: receive: {e}");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        while let Ok(d) = net.tx.pop() {
            let _ = sock.send_to(d.bytes(), d.addr);
        }
    }
}

fn mix_rate_of(cfg: &ServerConfig, fname: &str) -> Result<MixRate, String> {
    Ok(match &cfg.mix_rate {
        None => MixRate::Fixed(16000),
        Some(toml::Value::String(s)) if s == "highest" => {
            // The mix tick runs on a real-time worker where nothing is rebuilt: "highest" is the highest
            // rate among the configured legs, fixed at start; without configured legs, 48 kHz (legs that
            // join later may be of any rate).
            let mut r = if cfg.leg.is_empty() { 48000 } else { 8000 };
            for (i, l) in cfg.leg.iter().enumerate() {
                let c = parse_codec(&l.codec, &format!("{fname}: leg[{i}] '{}'", l.name))?;
                let a = leg_codec(c, MixRate::Highest).info().audio_rate;
                r = r.max(
                    [8000, 16000, 32000, 48000]
                        .into_iter()
                        .find(|&x| x >= a)
                        .unwrap_or(48000),
                );
            }
            MixRate::Fixed(r)
        }
        Some(toml::Value::Integer(r)) => MixRate::Fixed(*r as u32),
        Some(v) => {
            return Err(format!(
                "{fname}: mix_rate = {v}: expected 8000, 16000, 32000, 48000 or \"highest\""
            ))
        }
    })
}

fn leg_config(l: &LegEntry, what: &str) -> Result<(LegConfig, SocketAddr), String> {
    let codec = parse_codec(&l.codec, what)?;
    let remote: SocketAddr = l
        .remote
        .parse()
        .map_err(|e| format!("{what}: remote = \"{}\": {e}", l.remote))?;
    let mut lc = LegConfig::new(l.name.clone(), codec);
    if let Some(pt) = l.payload_type {
        if pt > 127 {
            return Err(format!("{what}: payload_type = {pt}: expected 0-127"));
        }
        lc.payload_type = pt;
    }
    lc.local_ssrc = l.ssrc;
    lc.chain = l.chain.clone();
    lc.gain_in_db = l.gain_in_db;
    lc.gain_out_db = l.gain_out_db;
    lc.muted = l.muted;
    lc.deaf = l.deaf;
    if let Some(k) = &l.srtp_key {
        let suite = l.srtp_suite.as_deref().unwrap_or("AES_CM_128_HMAC_SHA1_80");
        let profile = SrtpProfile::from_sdes_name(suite)
            .ok_or_else(|| format!("{what}: srtp_suite = \"{suite}\": unknown"))?;
        lc.srtp =
            Some(CryptoAttribute::from_base64_key(profile, k).map_err(|e| format!("{what}: srtp_key: {e}"))?);
    }
    Ok((lc, remote))
}

fn scheduler_json(s: &SchedulerStats) -> serde_json::Value {
    let w = s.workers.first().cloned().unwrap_or_default();
    json!({
        "ticks": s.ticks, "deadline_misses": s.deadline_misses, "rt_allocations": w.rt_allocations,
        "rt_frees": w.rt_frees, "busy_p50_us": w.busy.p50_ns as f64 / 1000.0,
        "busy_p99_us": w.busy.p99_ns as f64 / 1000.0, "busy_max_us": w.busy.max_ns as f64 / 1000.0,
        "realtime_priority": w.realtime_priority,
    })
}

/// Runs the server until Ctrl-C or `opts.seconds`; prints statistics as JSON lines on stdout.
///
/// The mix tick runs on an engine [`Scheduler`] worker ([`super::ConferenceTask`]); a network thread
/// moves datagrams between the socket and the task's rings; this thread admits and retires legs, writes
/// recordings and prints statistics (see [`super::runtime`]).
///
/// # Errors
/// One line for a bad configuration or a socket that cannot be opened.
pub fn serve(file: &Path, cfg: &ServerConfig, opts: &ServeOptions) -> Result<(), String> {
    let fname = file.display().to_string();
    let mut cc = ConferenceConfig {
        chain: cfg.chain.clone(),
        max_legs: cfg.max_legs.unwrap_or(256),
        ..ConferenceConfig::default()
    };
    if let Some(p) = cfg.ptime_ms {
        cc.ptime_ms = p;
    }
    if let Some(t) = cfg.talkers {
        cc.talkers.max_talkers = t;
    }
    if let Some(t) = cfg.leg_timeout_s {
        if !(t > 0.0 && t.is_finite()) {
            return Err(format!(
                "{fname}: leg_timeout_s = {t}: expected a positive number"
            ));
        }
        cc.leg_timeout = Duration::from_secs_f64(t);
    }
    cc.mix_rate = mix_rate_of(cfg, &fname)?;
    let now_sys = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    cc.ntp_at_zero = ((now_sys.as_secs() + 2_208_988_800) << 32)
        + ((u64::from(now_sys.subsec_nanos()) << 32) / 1_000_000_000);
    cc.seed = now_sys.as_nanos() as u64;
    let mut dynamic: BTreeMap<u8, CodecSpec> = BTreeMap::new();
    for (pt, codec) in &cfg.payload_types {
        let n: u8 = pt
            .parse()
            .ok()
            .filter(|p| (96..=127).contains(p))
            .ok_or_else(|| {
                format!("{fname}: payload_types: \"{pt}\" is not a dynamic payload type (96-127)")
            })?;
        dynamic.insert(n, parse_codec(codec, &format!("{fname}: payload_types.{pt}"))?);
    }
    let entries: Vec<(LegConfig, SocketAddr)> = cfg
        .leg
        .iter()
        .enumerate()
        .map(|(i, l)| leg_config(l, &format!("{fname}: leg[{i}] '{}'", l.name)))
        .collect::<Result<_, _>>()?;
    let conf = Conference::new(cc).map_err(|e| format!("{fname}: {e}"))?;
    let mix_rate = conf.mix_rate();
    let key = if cfg.record_key_file.is_some() || cfg.record_encrypt {
        Some(
            crate::record::load_key(cfg.record_key_file.as_deref().map(Path::new))
                .map_err(|e| format!("{fname}: {e}"))?,
        )
    } else {
        None
    };
    let rec_dir = cfg.record_dir.as_deref().map(Path::new);
    if let Some(d) = rec_dir {
        std::fs::create_dir_all(d).map_err(|e| format!("{fname}: record_dir {}: {e}", d.display()))?;
    } else if cfg.record_mix || cfg.leg.iter().any(|l| l.record) {
        return Err(format!("{fname}: record_mix / record = true need record_dir"));
    }
    let sock = UdpSocket::bind(&cfg.listen).map_err(|e| format!("{fname}: listen {}: {e}", cfg.listen))?;
    let ctl_sock = sock
        .try_clone()
        .map_err(|e| format!("{fname}: listen {}: {e}", cfg.listen))?;
    let mut mix_rec = None;
    let mut ropts = RuntimeOptions {
        allow_join: cfg.allow_join.unwrap_or(true),
        ..RuntimeOptions::default()
    };
    if let (Some(d), true) = (rec_dir, cfg.record_mix) {
        let (p, c) = record_ring(mix_rate);
        mix_rec = Some((c, Recording::create(d, "mix", mix_rate, key.as_ref())?));
        ropts.mix_record = Some(p);
    }
    let (mut ctl, task, net) = split(conf, ropts).map_err(|e| format!("{fname}: {e}"))?;
    let mut legs: BTreeMap<LegId, CtlLeg> = BTreeMap::new();
    for ((lc, remote), l) in entries.into_iter().zip(&cfg.leg) {
        let what = format!("{fname}: leg '{}'", l.name);
        let (record, rec) = match (rec_dir, l.record) {
            (Some(d), true) => {
                let (p, c) = record_ring(mix_rate);
                (
                    Some(p),
                    Some((c, Recording::create(d, &l.name, mix_rate, key.as_ref())?)),
                )
            }
            _ => (None, None),
        };
        let route = Route {
            remote,
            by_ssrc: l.remote_ssrc,
            record,
        };
        let id = ctl.add_leg(lc, route, None).map_err(|e| format!("{what}: {e}"))?;
        legs.insert(
            id,
            CtlLeg {
                remote,
                by_ssrc: l.remote_ssrc,
                rec,
            },
        );
    }
    let mut sched = Scheduler::new(SchedulerConfig {
        workers: 1,
        max_tasks_per_worker: 4,
        queue_capacity: 4,
        track_allocations: true,
        ..SchedulerConfig::default()
    })
    .map_err(|e| format!("scheduler: {e}"))?;
    let ptime = ctl.ptime();
    sched
        .add(Box::new(task), TaskOptions::every(ptime))
        .map_err(|e| format!("scheduler: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let usr1 = Arc::new(AtomicBool::new(false));
    {
        let s = stop.clone();
        let _ = ctrlc::set_handler(move || s.store(true, Ordering::Relaxed));
    }
    let _ = signal_hook::flag::register(signal_hook::consts::SIGUSR1, usr1.clone());
    let net_stop = Arc::new(AtomicBool::new(false));
    let net_thread = {
        let s = net_stop.clone();
        std::thread::Builder::new()
            .name("tutti-net".into())
            .spawn(move || net_loop(sock, net, s))
            .map_err(|e| format!("network thread: {e}"))?
    };
    eprintln!(
        "tutti conference: listening on {} ({} configured legs, mix {} Hz)",
        ctl_sock
            .local_addr()
            .map_or(cfg.listen.clone(), |a| a.to_string()),
        legs.len(),
        mix_rate
    );
    let wall_at_zero = std::time::SystemTime::now() - ctl.now();
    let mut server = Server {
        wall_at_zero,
        local: ctl_sock.local_addr().ok(),
        ctl,
        legs,
        dynamic,
        sock: ctl_sock,
        pending: Vec::new(),
        shutting_down: false,
    };
    let stats_every = opts.stats_every.map(|s| Duration::from_secs_f64(s.max(0.1)));
    let mut next_stats = stats_every;
    let end = opts.seconds.map(Duration::from_secs_f64);
    let mut asked: Option<&'static str> = None;
    let result = loop {
        std::thread::sleep(Duration::from_millis(5));
        match server.poll(&sched, &mut asked) {
            Ok(()) => {}
            Err(e) => break Err(e),
        }
        if let Some((c, rec)) = mix_rec.as_mut() {
            if let Err(e) = drain(c, rec) {
                break Err(e);
            }
        }
        let now = server.ctl.now();
        let mut want = usr1.swap(false, Ordering::Relaxed);
        if let (Some(every), Some(next)) = (stats_every, next_stats.as_mut()) {
            if now >= *next {
                want = true;
                *next += every;
            }
        }
        if want && asked.is_none() && server.ctl.request_stats() {
            asked = Some("stats");
        }
        if stop.load(Ordering::Relaxed) || end.is_some_and(|e| now >= e) {
            break Ok(());
        }
    };
    // Final statistics, then every leg leaves with a BYE.
    let give_up = Instant::now() + Duration::from_secs(2) + 4 * ptime;
    if result.is_ok() {
        while asked.is_some() && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(2));
            server.poll(&sched, &mut asked)?;
        }
        if server.ctl.request_stats() {
            asked = Some("final");
            while asked.is_some() && Instant::now() < give_up {
                std::thread::sleep(Duration::from_millis(2));
                server.poll(&sched, &mut asked)?;
            }
        }
    }
    server.shutting_down = true;
    let ids: Vec<LegId> = server.legs.keys().copied().collect();
    for id in ids {
        let _ = server.ctl.remove_leg(id);
    }
    while !server.legs.is_empty() && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(2));
        server.poll(&sched, &mut asked)?;
    }
    drop(sched);
    net_stop.store(true, Ordering::Relaxed);
    let _ = net_thread.join();
    // Legs the worker never gave back (it stopped first) still have their recordings here.
    for (_, l) in std::mem::take(&mut server.legs) {
        if let Some((mut c, mut rec)) = l.rec {
            drain(&mut c, &mut rec)?;
            rec.finish()?;
        }
    }
    if let Some((mut c, mut rec)) = mix_rec {
        drain(&mut c, &mut rec)?;
        rec.finish()?;
    }
    result
}

/// The control side of a running server.
struct Server {
    /// Wall-clock time of conference time zero (for call detail records).
    wall_at_zero: std::time::SystemTime,
    local: Option<SocketAddr>,
    ctl: ConferenceControl,
    legs: BTreeMap<LegId, CtlLeg>,
    dynamic: BTreeMap<u8, CodecSpec>,
    sock: UdpSocket,
    pending: Vec<serde_json::Value>,
    shutting_down: bool,
}

impl Server {
    /// Handles the real-time side's events and moves recorded audio to its files.
    fn poll(&mut self, sched: &Scheduler, asked: &mut Option<&'static str>) -> Result<(), String> {
        while let Some(e) = self.ctl.poll_event() {
            match e {
                Event::Join(d) => self.join(d),
                Event::Expired(id) => {
                    let _ = self.ctl.remove_leg(id);
                }
                Event::Retired(leg, route) => {
                    let id = leg.id();
                    let (stats, byes) = leg.finish(self.ctl.now());
                    for b in byes {
                        let _ = self.sock.send_to(&b, route.remote);
                    }
                    if !self.shutting_down {
                        println!("{}", json!({"event": "leg_removed", "leg": stats.to_json()}));
                    }
                    let cdr = Cdr::from_leg_stats(
                        &stats,
                        self.wall_at_zero,
                        self.ctl.now(),
                        Some(route.remote),
                        self.local,
                    );
                    println!("{}", cdr.to_json());
                    if let Some(l) = self.legs.remove(&id) {
                        if let Some((mut c, mut rec)) = l.rec {
                            drain(&mut c, &mut rec)?;
                            rec.finish()?;
                        }
                    }
                }
                Event::Rejected(leg, route) => {
                    eprintln!(
                        "tutti conference: leg {} for {} was refused",
                        leg.id(),
                        route.remote
                    );
                    self.legs.remove(&leg.id());
                }
                Event::LegStats(s) => {
                    // A record as the leg would close now, on demand (SIGUSR1, `--stats-every`).
                    let remote = self.legs.get(&s.id).map(|l| l.remote);
                    let cdr = Cdr::from_leg_stats(&s, self.wall_at_zero, self.ctl.now(), remote, self.local);
                    let mut j = s.to_json();
                    j["cdr"] = cdr.to_json();
                    self.pending.push(j);
                }
                Event::Stats(cs, counters) => {
                    let mut conference = cs.to_json();
                    conference["rx_routed"] = counters.rx_routed.into();
                    conference["rx_unrouted"] = counters.rx_unrouted.into();
                    conference["tx_dropped"] = counters.tx_dropped.into();
                    conference["events_dropped"] = counters.events_dropped.into();
                    conference["record_dropped"] = counters.record_dropped.into();
                    println!(
                        "{}",
                        json!({
                            "event": asked.take().unwrap_or("stats"),
                            "time_s": self.ctl.now().as_secs_f64(),
                            "conference": conference,
                            "scheduler": scheduler_json(&sched.stats()),
                            "legs": std::mem::take(&mut self.pending),
                        })
                    );
                }
            }
        }
        for l in self.legs.values_mut() {
            if let Some((c, rec)) = l.rec.as_mut() {
                drain(c, rec)?;
            }
        }
        Ok(())
    }

    /// An unknown RTP source: a leg joins with the codec its payload type names (symmetric RTP).
    fn join(&mut self, d: Datagram) {
        let from = d.addr;
        if self
            .legs
            .values()
            .any(|l| l.by_ssrc.is_none() && l.remote == from)
        {
            return; // joined already; its route is active from the next tick
        }
        let pt = d.bytes()[1] & 0x7f;
        let codec = self
            .dynamic
            .get(&pt)
            .copied()
            .or_else(|| match tutti_codecs::static_payload_type(pt) {
                Some(RtpFormat::Audio(c)) if c.info().channels == 1 => Some(c),
                _ => None,
            });
        let Some(codec) = codec else { return };
        let mut lc = LegConfig::new(format!("{from}"), codec);
        lc.payload_type = pt;
        // Joining legs gave no consent: never recorded.
        let route = Route {
            remote: from,
            by_ssrc: None,
            record: None,
        };
        match self.ctl.add_leg(lc, route, Some(d)) {
            Ok(id) => {
                self.legs.insert(
                    id,
                    CtlLeg {
                        remote: from,
                        by_ssrc: None,
                        rec: None,
                    },
                );
                eprintln!("tutti conference: {from} joined ({})", codec.cli_name());
            }
            Err(e) => eprintln!("tutti conference: {from} cannot join: {e}"),
        }
    }
}
