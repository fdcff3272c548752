//! `tutti conference`: a UDP conference server around the sans-IO [`Conference`].
//!
//! # What
//! Listens on one UDP port (RTP and RTCP multiplexed, RFC 5761). Legs come from the configuration file
//! (codec, payload type, where to send, how to recognise their packets, SRTP key, chain, gains) or join by
//! sending RTP to the port (symmetric RTP: the mix goes back to the packet's source; codec from the payload
//! type). Legs that fall silent for the timeout, or send RTCP BYE, are removed with a BYE of our own.
//! Statistics (one JSON line per leg set) on SIGUSR1 or every `stats_every_s`. Recordings of the full mix
//! and of the legs that consented (`record = true`), encrypted at rest when a key is configured.
//!
//! # How
//! A thin driver: it reads datagrams until the next tick is due (receive timeout = time left), hands each to
//! its leg with its arrival time, runs [`Conference::tick`] every packet time on an absolute schedule (no
//! drift), and sends what the legs produced. The conference clock is the driver's monotonic clock.
//!
//! # Real-time safety
//! The mix tick is the real-time code (allocation-free, tested); this driver makes the socket system calls
//! around it and adds or removes legs between ticks.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;
use tutti_codecs::{CodecSpec, RtpFormat};
use tutti_rtp::{CryptoAttribute, SrtpProfile};

use super::config::{ConferenceConfig, LegConfig, LegId, MixRate};
use super::core::Conference;
use super::leg::MTU;
use super::recorder::Recording;

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
    /// Mix rate: 8000, 16000, 32000, 48000 or "highest".
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

/// How incoming datagrams find their leg.
#[derive(Debug, Clone, Copy)]
struct Route {
    id: LegId,
    remote: SocketAddr,
    by_ssrc: Option<u32>,
    /// Index into the recordings (consenting legs only).
    rec: Option<usize>,
}

/// Options of [`serve`] beyond the file.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Stop after this long (default: until Ctrl-C).
    pub seconds: Option<f64>,
    /// Print statistics every this many seconds.
    pub stats_every: Option<f64>,
}

fn ssrc_of(d: &[u8]) -> Option<u32> {
    match tutti_rtp::classify(d) {
        tutti_rtp::PacketKind::Rtp => d.get(8..12).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        tutti_rtp::PacketKind::Rtcp => d.get(4..8).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        _ => None,
    }
}

/// Runs the server until Ctrl-C or `opts.seconds`; prints statistics as JSON lines on stdout.
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
    cc.mix_rate = match &cfg.mix_rate {
        None => MixRate::Fixed(16000),
        Some(toml::Value::String(s)) if s == "highest" => MixRate::Highest,
        Some(toml::Value::Integer(r)) => MixRate::Fixed(*r as u32),
        Some(v) => {
            return Err(format!(
                "{fname}: mix_rate = {v}: expected 8000, 16000, 32000, 48000 or \"highest\""
            ))
        }
    };
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
    let mut conf = Conference::new(cc).map_err(|e| format!("{fname}: {e}"))?;
    let sock = UdpSocket::bind(&cfg.listen).map_err(|e| format!("{fname}: listen {}: {e}", cfg.listen))?;
    let start = Instant::now();
    let mut routes: Vec<Route> = Vec::new();
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
    let mut recs: Vec<Option<Recording>> = Vec::new();
    let mut mix_rec = match (rec_dir, cfg.record_mix) {
        (Some(d), true) => Some(Recording::create(d, "mix", conf.mix_rate(), key.as_ref())?),
        _ => None,
    };
    for (i, l) in cfg.leg.iter().enumerate() {
        let what = format!("{fname}: leg[{i}] '{}'", l.name);
        let codec = parse_codec(&l.codec, &what)?;
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
            lc.srtp = Some(
                CryptoAttribute::from_base64_key(profile, k).map_err(|e| format!("{what}: srtp_key: {e}"))?,
            );
        }
        let id = conf
            .add_leg(lc, Duration::ZERO)
            .map_err(|e| format!("{what}: {e}"))?;
        let rec = match (rec_dir, l.record) {
            (Some(d), true) => {
                recs.push(Some(Recording::create(
                    d,
                    &l.name,
                    conf.mix_rate(),
                    key.as_ref(),
                )?));
                Some(recs.len() - 1)
            }
            _ => None,
        };
        routes.push(Route {
            id,
            remote,
            by_ssrc: l.remote_ssrc,
            rec,
        });
    }
    let allow_join = cfg.allow_join.unwrap_or(true);
    let stop = Arc::new(AtomicBool::new(false));
    let usr1 = Arc::new(AtomicBool::new(false));
    {
        let s = stop.clone();
        let _ = ctrlc::set_handler(move || s.store(true, Ordering::Relaxed));
    }
    let _ = signal_hook::flag::register(signal_hook::consts::SIGUSR1, usr1.clone());
    eprintln!(
        "tutti conference: listening on {} ({} configured legs, mix {} Hz)",
        sock.local_addr().map_or(cfg.listen.clone(), |a| a.to_string()),
        routes.len(),
        conf.mix_rate()
    );
    let ptime = conf.ptime();
    let mut buf = vec![0u8; MTU];
    let mut out = vec![0u8; MTU];
    let mut tick: u32 = 0;
    let mut next_stats = opts.stats_every.map(|s| Duration::from_secs_f64(s.max(0.1)));
    let end = opts.seconds.map(Duration::from_secs_f64);
    let print_stats = |conf: &Conference, routes: &[Route], event: &str| {
        let legs: Vec<_> = routes
            .iter()
            .filter_map(|r| conf.leg_stats(r.id).ok())
            .map(|s| s.to_json())
            .collect();
        println!(
            "{}",
            json!({"event": event, "time_s": start.elapsed().as_secs_f64(), "conference": conf.stats().to_json(), "legs": legs})
        );
    };
    loop {
        let due = ptime * tick;
        // Receive until the tick is due.
        loop {
            let now = start.elapsed();
            if now >= due {
                break;
            }
            let _ = sock.set_read_timeout(Some((due - now).max(Duration::from_micros(100))));
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let at = start.elapsed();
                    let d = &buf[..n];
                    let ssrc = ssrc_of(d);
                    let route = routes
                        .iter()
                        .find(|r| r.by_ssrc.is_some() && r.by_ssrc == ssrc)
                        .or_else(|| routes.iter().find(|r| r.by_ssrc.is_none() && r.remote == from))
                        .copied();
                    match route {
                        Some(r) => {
                            let _ = conf.receive(r.id, at, d);
                        }
                        None if allow_join && tutti_rtp::classify(d) == tutti_rtp::PacketKind::Rtp => {
                            let pt = d[1] & 0x7f;
                            let codec =
                                dynamic.get(&pt).copied().or_else(
                                    || match tutti_codecs::static_payload_type(pt) {
                                        Some(RtpFormat::Audio(c)) if c.info().channels == 1 => Some(c),
                                        _ => None,
                                    },
                                );
                            if let Some(codec) = codec {
                                let mut lc = LegConfig::new(format!("{from}"), codec);
                                lc.payload_type = pt;
                                match conf.add_leg(lc, at) {
                                    Ok(id) => {
                                        // Joining legs gave no consent: never recorded.
                                        let r = Route {
                                            id,
                                            remote: from,
                                            by_ssrc: None,
                                            rec: None,
                                        };
                                        routes.push(r);
                                        let _ = conf.receive(id, at, d);
                                        eprintln!("tutti conference: {from} joined ({})", codec.cli_name());
                                    }
                                    Err(e) => eprintln!("tutti conference: {from} cannot join: {e}"),
                                }
                            }
                        }
                        None => {}
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("listen {}: {e}", cfg.listen)),
            }
        }
        conf.tick(due);
        for r in &routes {
            while let Some(n) = conf.poll_transmit(r.id, &mut out) {
                let _ = sock.send_to(&out[..n], r.remote);
            }
        }
        // Recordings: what each consenting leg hears, and the full mix.
        for r in &routes {
            if let (Some(i), Some(heard)) = (r.rec, conf.heard(r.id)) {
                if let Some(rec) = recs[i].as_mut() {
                    rec.append(heard)?;
                }
            }
        }
        if let Some(m) = mix_rec.as_mut() {
            m.append(conf.full_mix())?;
        }
        for id in conf.expired(due) {
            if let Some(pos) = routes.iter().position(|r| r.id == id) {
                let r = routes.remove(pos);
                if let Some(rec) = r.rec.and_then(|i| recs[i].take()) {
                    rec.finish()?;
                }
                if let Ok((stats, byes)) = conf.remove_leg(id, due) {
                    for b in byes {
                        let _ = sock.send_to(&b, r.remote);
                    }
                    println!("{}", json!({"event": "leg_removed", "leg": stats.to_json()}));
                }
            }
        }
        tick += 1;
        if usr1.swap(false, Ordering::Relaxed) {
            print_stats(&conf, &routes, "stats");
        }
        if let (Some(every), Some(next)) = (opts.stats_every, next_stats.as_mut()) {
            if due >= *next {
                print_stats(&conf, &routes, "stats");
                *next += Duration::from_secs_f64(every.max(0.1));
            }
        }
        if stop.load(Ordering::Relaxed) || end.is_some_and(|e| due >= e) {
            break;
        }
    }
    let now = start.elapsed();
    print_stats(&conf, &routes, "final");
    for rec in recs.into_iter().flatten() {
        rec.finish()?;
    }
    if let Some(m) = mix_rec {
        m.finish()?;
    }
    for r in &routes {
        if let Ok((_, byes)) = conf.remove_leg(r.id, now) {
            for b in byes {
                let _ = sock.send_to(&b, r.remote);
            }
        }
    }
    Ok(())
}
