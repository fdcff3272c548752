//! Device enumeration for `tutti devices`.
//!
//! # What
//! Lists every cpal host compiled in (ALSA; JACK with the `jack` feature) with its devices, their default
//! input/output configuration and supported buffer sizes, and which devices are the defaults.
//!
//! # How
//! cpal's `available_hosts` / `Host::devices` / `default_{input,output}_config`. A host that cannot be
//! opened (e.g. no JACK server running) is listed with its error instead of devices. cpal's JACK host
//! prints its client-open failures on stdout (which would break `tutti devices --json`), so a JACK server
//! is first probed with a client of our own (`jack_server_error`; libjack's messages go to `log`, i.e.
//! nowhere) and cpal's JACK host is only created when one answers.
//!
//! # Real-time safety
//! Not real-time code.

use cpal::traits::{DeviceTrait, HostTrait};
use cpal::SupportedBufferSize;

/// A device's default configuration in one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// Default channel count.
    pub channels: u16,
    /// Default sample rate in Hz.
    pub sample_rate: u32,
    /// Default sample format (cpal's name, e.g. `f32`, `i16`).
    pub sample_format: String,
    /// Smallest buffer size in frames, when the backend reports a range.
    pub buffer_min: Option<u32>,
    /// Largest buffer size in frames, when the backend reports a range.
    pub buffer_max: Option<u32>,
}

/// One device of a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Device name (pass it to `--input` / `--output`).
    pub name: String,
    /// Default capture configuration, if the device captures.
    pub input: Option<PortConfig>,
    /// Default playback configuration, if the device plays.
    pub output: Option<PortConfig>,
}

/// One host and its devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// `alsa` or `jack`.
    pub name: String,
    /// Name of the default input device.
    pub default_input: Option<String>,
    /// Name of the default output device.
    pub default_output: Option<String>,
    /// The devices.
    pub devices: Vec<DeviceInfo>,
    /// Why the host could not be opened, if it could not.
    pub error: Option<String>,
}

fn port(cfg: Result<cpal::SupportedStreamConfig, cpal::DefaultStreamConfigError>) -> Option<PortConfig> {
    let cfg = cfg.ok()?;
    let (buffer_min, buffer_max) = match cfg.buffer_size() {
        SupportedBufferSize::Range { min, max } => (Some(*min), Some(*max)),
        SupportedBufferSize::Unknown => (None, None),
    };
    Some(PortConfig {
        channels: cfg.channels(),
        sample_rate: cfg.sample_rate().0,
        sample_format: cfg.sample_format().to_string(),
        buffer_min,
        buffer_max,
    })
}

/// Why no JACK server can be used, or `None` when one answers (the one `JACK_DEFAULT_SERVER` names, or
/// `default`). Opens and closes a client named `tutti_probe`; never starts a server.
#[cfg(feature = "jack")]
pub(crate) fn jack_server_error() -> Option<String> {
    match jack::Client::new("tutti_probe", jack::ClientOptions::NO_START_SERVER) {
        Ok(_) => None,
        Err(e) => {
            let server = std::env::var("JACK_DEFAULT_SERVER").unwrap_or_else(|_| "default".into());
            Some(format!("no JACK server '{server}' is running ({e})"))
        }
    }
}

/// Lists every compiled-in host with its devices.
pub fn devices() -> Vec<HostInfo> {
    let mut hosts = Vec::new();
    for id in cpal::available_hosts() {
        let name = id.name().to_ascii_lowercase();
        #[cfg(feature = "jack")]
        if id == cpal::HostId::Jack {
            if let Some(e) = jack_server_error() {
                hosts.push(HostInfo {
                    name,
                    default_input: None,
                    default_output: None,
                    devices: Vec::new(),
                    error: Some(e),
                });
                continue;
            }
        }
        let host = match cpal::host_from_id(id) {
            Ok(h) => h,
            Err(e) => {
                hosts.push(HostInfo {
                    name,
                    default_input: None,
                    default_output: None,
                    devices: Vec::new(),
                    error: Some(e.to_string()),
                });
                continue;
            }
        };
        let default_input = host.default_input_device().and_then(|d| d.name().ok());
        let default_output = host.default_output_device().and_then(|d| d.name().ok());
        let (devices, error) = match host.devices() {
            Ok(list) => (
                list.map(|d| DeviceInfo {
                    name: d.name().unwrap_or_else(|e| format!("<unnamed: {e}>")),
                    input: port(d.default_input_config()),
                    output: port(d.default_output_config()),
                })
                .collect(),
                None,
            ),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        let error = error.or_else(|| {
            (devices.is_empty() && default_input.is_none() && default_output.is_none())
                .then(|| "no devices (for JACK: is a server running?)".to_string())
        });
        hosts.push(HostInfo {
            name,
            default_input,
            default_output,
            devices,
            error,
        });
    }
    hosts
}
