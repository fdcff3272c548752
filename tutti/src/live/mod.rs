//! Live audio: a chain between a capture device and a playback device (`tutti live`, `tutti devices`).
//!
//! # What
//! [`run`] opens an input and an output stream on a cpal host (ALSA, or JACK with the `jack` feature),
//! runs a chain graph on what the input captures and plays the result, until `--seconds` elapse or Ctrl-C.
//! Parameters change while running through [`Command`]s (`set NODE.PARAM VALUE` on stdin). At the end it
//! reports xruns, callback load and the estimated round-trip latency ([`LiveReport`]). [`devices`] lists
//! the hosts and their devices.
//!
//! # How
//! cpal has no duplex stream, so the two callbacks are joined by a wait-free single-producer
//! single-consumer ring (`rtrb`; Lamport 1977) of interleaved input samples. The engine
//! ([`tutti_engine::GraphRunner`]) runs inside the output callback: a [`Rechunker`] pulls one engine block
//! of input from the ring whenever it needs one, processes it and hands the output out in whatever
//! buffer size the device asks for. The output starts once the ring holds one engine block plus one device
//! buffer (priming; not counted as underruns). Nodes with a far-end input (`aec`) receive the previous
//! output block, i.e. what was just sent to the output device. Parameter changes go through the
//! [`tutti_engine::GraphController`] (range-checked on the control side, applied at the next block).
//!
//! # Real-time safety
//! Both callbacks only copy samples, push/pop the ring, update atomics ([`LiveStats`]) and run the graph
//! runner (itself wait-free). Flush-to-zero is set on callback entry ([`tutti_engine::DenormalGuard`]).
//! Nothing in them allocates, locks or logs (`tests/live_rt.rs` proves the output path with the counting
//! allocator).

mod devices;
mod duplex;
mod path;
mod rechunk;
mod stats;

pub use devices::{devices, DeviceInfo, HostInfo, PortConfig};
pub use duplex::{run, Command, LiveConfig, LiveReport};
pub use path::{build_path, InputSink, OutputEngine, Path};
pub use rechunk::Rechunker;
pub use stats::{LiveStats, StatsSnapshot};

/// Which cpal host to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    /// ALSA (Linux default).
    Alsa,
    /// JACK (needs the `jack` cargo feature and a running JACK server).
    Jack,
}

impl HostKind {
    /// Parses `alsa` or `jack`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "alsa" => Ok(Self::Alsa),
            "jack" => Ok(Self::Jack),
            other => Err(format!("--host: unknown host '{other}' (alsa or jack)")),
        }
    }

    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Alsa => "alsa",
            Self::Jack => "jack",
        }
    }
}

/// Parses a stdin command line: `set NODE.PARAM VALUE`; returns `None` for blank lines.
///
/// `VALUE` is a number or, for enumerated parameters, the name of a choice (resolved by [`run`]).
pub fn parse_command(line: &str) -> Result<Option<Command>, String> {
    let mut words = line.split_whitespace();
    let Some(verb) = words.next() else { return Ok(None) };
    match verb {
        "set" => {
            let (Some(target), Some(value), None) = (words.next(), words.next(), words.next()) else {
                return Err(format!("'{}': expected 'set NODE.PARAM VALUE'", line.trim()));
            };
            let Some((node, param)) = target.split_once('.') else {
                return Err(format!("'{target}': expected NODE.PARAM, e.g. ns.level"));
            };
            if node.is_empty() || param.is_empty() {
                return Err(format!("'{target}': expected NODE.PARAM, e.g. ns.level"));
            }
            Ok(Some(Command::Set {
                node: node.to_string(),
                param: param.to_string(),
                value: value.to_string(),
            }))
        }
        "stop" | "quit" => Ok(Some(Command::Stop)),
        other => Err(format!("'{other}': unknown command (set NODE.PARAM VALUE, stop)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_set_commands() {
        assert_eq!(
            parse_command("set ns.level 12").unwrap(),
            Some(Command::Set {
                node: "ns".into(),
                param: "level".into(),
                value: "12".into()
            })
        );
        assert_eq!(parse_command("   ").unwrap(), None);
        assert_eq!(parse_command("stop").unwrap(), Some(Command::Stop));
        assert!(parse_command("set ns 12").unwrap_err().contains("NODE.PARAM"));
        assert!(parse_command("set ns.level").is_err());
        assert!(parse_command("set .level 3").is_err());
        assert!(parse_command("jump").unwrap_err().contains("unknown command"));
    }

    #[test]
    fn parses_hosts() {
        assert_eq!(HostKind::parse("JACK").unwrap(), HostKind::Jack);
        assert!(HostKind::parse("pulse").unwrap_err().contains("--host"));
    }
}
