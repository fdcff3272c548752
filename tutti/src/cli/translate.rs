//! `tutti translate`: media translator (RFC 7667 §3.5.1) from a capture or live UDP to a destination.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;
use tutti_codecs::CodecSpec;

use super::CliError;
use crate::translate::{
    translate_capture, translate_udp, CaptureOptions, StreamReport, TranslateTemplate, UdpOptions,
};

/// Arguments of `tutti translate`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["pcap", "listen"])))]
pub struct Args {
    /// Translate every RTP stream of this capture (pcap or pcapng), replayed with its timing.
    #[arg(long, value_name = "CAP")]
    pcap: Option<PathBuf>,
    /// Receive RTP on HOST:PORT (RTCP on PORT+1 unless --rtcp-mux).
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Send the translated streams to HOST:PORT (RTCP to PORT+1 unless --rtcp-mux).
    #[arg(long, value_name = "HOST:PORT")]
    to: String,
    /// Output codec: pcmu, pcma, g722, g722-56, g722-48, opus[:BITRATE].
    #[arg(long, value_name = "C")]
    codec: String,
    /// Output packet time in ms: 10, 20, 30, 40 or 60 (Opus: not 30).
    #[arg(long, value_name = "MS", default_value_t = 20)]
    ptime: u32,
    /// Chain run on the way, at the output rate (e.g. `ns,agc`).
    #[arg(long, value_name = "SPEC")]
    chain: Option<String>,
    /// Print the per-stream statistics as one JSON document at the end.
    #[arg(long)]
    json: bool,
    /// Input codec (default: from the static payload type of each stream: 0 PCMU, 8 PCMA, 9 G.722).
    #[arg(long, value_name = "C")]
    in_codec: Option<String>,
    /// Input payload type (default: that of each stream's first packet).
    #[arg(long, value_name = "PT")]
    in_pt: Option<u8>,
    /// Output payload type (default: the codec's static type, else 96).
    #[arg(long, value_name = "PT")]
    pt: Option<u8>,
    /// RTP and RTCP on one port (RFC 5761) on both sides.
    #[arg(long)]
    rtcp_mux: bool,
    /// --listen: stop after S seconds (default: until Ctrl-C).
    #[arg(long, value_name = "S")]
    seconds: Option<f64>,
    /// --listen: print the statistics (JSON lines) every S seconds.
    #[arg(long, value_name = "S")]
    stats_every: Option<f64>,
    /// --pcap: replay speed (1 = the capture's timing, 0 = as fast as possible).
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    speed: f64,
    /// --pcap: also write what the translator sends (both directions) into this pcap.
    #[arg(long, value_name = "PCAP")]
    out: Option<PathBuf>,
}

fn addr(flag: &str, s: &str) -> Result<SocketAddr, CliError> {
    s.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| CliError::new(format!("{flag} {s}: expected HOST:PORT")))
}

fn codec(flag: &str, s: &str) -> Result<CodecSpec, CliError> {
    let c = CodecSpec::parse(s).map_err(|e| CliError::new(format!("{flag} {s}: {e}")))?;
    if matches!(c, CodecSpec::L16 { .. }) {
        return Err(CliError::new(format!(
            "{flag} {s}: the translator speaks pcmu, pcma, g722, g722-56, g722-48 and opus[:BITRATE]"
        )));
    }
    Ok(c)
}

/// Runs `tutti translate`.
pub fn run(a: &Args) -> Result<(), CliError> {
    for (flag, v) in [("--seconds", a.seconds), ("--stats-every", a.stats_every)] {
        if let Some(v) = v {
            if !(v > 0.0 && v.is_finite()) {
                return Err(CliError::new(format!("{flag} {v}: expected a positive number")));
            }
        }
    }
    let to = addr("--to", &a.to)?;
    let mut t = TranslateTemplate::new(codec("--codec", &a.codec)?);
    t.input = a
        .in_codec
        .as_deref()
        .map(|c| codec("--in-codec", c))
        .transpose()?;
    t.input_payload_type = a.in_pt;
    t.base.ptime_ms = a.ptime;
    t.base.chain = a.chain.clone();
    if let Some(pt) = a.pt {
        t.base.output_payload_type = pt;
    }
    t.base.ntp_at_zero = ntp_now();
    t.check().map_err(|e| CliError::new(e.to_string()))?;
    let reports = if let Some(p) = &a.pcap {
        translate_capture(
            &t,
            &CaptureOptions {
                path: p.clone(),
                to,
                speed: a.speed,
                out: a.out.clone(),
                no_send: false,
            },
        )
    } else {
        let listen = addr("--listen", a.listen.as_deref().unwrap_or_default())?;
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        // Ctrl-C stops the loop; the streams then say BYE. A handler that cannot be set only loses that.
        let _ = ctrlc::set_handler(move || s.store(true, Ordering::Relaxed));
        translate_udp(
            &t,
            &UdpOptions {
                listen,
                to,
                rtcp_mux: a.rtcp_mux,
                seconds: a.seconds,
                stop: Some(stop),
                stats_every: a.stats_every,
            },
            |r| {
                let v: Vec<_> = r.iter().map(StreamReport::to_json).collect();
                println!("{}", json!({ "streams": v }));
            },
        )
    }
    .map_err(|e| CliError::new(e.to_string()))?;
    if a.json {
        let v: Vec<_> = reports.iter().map(StreamReport::to_json).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "streams": v })).expect("JSON values serialise")
        );
    } else {
        for r in &reports {
            let (i, o) = (&r.stats.incoming, &r.stats.outgoing);
            let (iq, oq) = (&i.quality, &o.quality);
            println!(
                "stream {:08x} from {}: {} {} packets (lost {}, discarded {}) -> {} {} packets; \
                 held {:.1} ms, concealed {:.2} %, MOS {:.2}",
                r.ssrc,
                r.source,
                iq.packets,
                i.codec,
                iq.lost,
                iq.discarded,
                oq.packets,
                o.codec,
                iq.jitter_buffer_delay_ms,
                100.0 * iq.concealment_ratio,
                iq.mos
            );
        }
        if reports.is_empty() {
            println!("no RTP stream translated");
        }
    }
    Ok(())
}

/// The wall clock as a 64-bit NTP timestamp.
fn ntp_now() -> u64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() + 2_208_988_800;
    (secs << 32) + ((u64::from(d.subsec_nanos()) << 32) / 1_000_000_000)
}
