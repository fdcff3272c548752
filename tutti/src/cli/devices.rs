//! `tutti devices [--json]`: lists the audio hosts and their devices.

use serde_json::json;

use super::CliError;
use crate::live::{self, PortConfig};

/// Arguments of `tutti devices`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
}

fn port_json(p: &Option<PortConfig>) -> serde_json::Value {
    match p {
        None => serde_json::Value::Null,
        Some(p) => json!({
            "channels": p.channels, "sample_rate": p.sample_rate, "sample_format": p.sample_format,
            "buffer_frames_min": p.buffer_min, "buffer_frames_max": p.buffer_max,
        }),
    }
}

fn port_text(p: &Option<PortConfig>) -> String {
    match p {
        None => "-".into(),
        Some(p) => format!("{} ch {} Hz {}", p.channels, p.sample_rate, p.sample_format),
    }
}

/// Runs `tutti devices`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let hosts = live::devices();
    if args.json {
        let list: Vec<_> = hosts
            .iter()
            .map(|h| {
                json!({
                    "name": h.name, "default_input": h.default_input, "default_output": h.default_output,
                    "error": h.error,
                    "devices": h.devices.iter().map(|d| json!({
                        "name": d.name, "input": port_json(&d.input), "output": port_json(&d.output),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", json!({ "hosts": list }));
        return Ok(());
    }
    for h in &hosts {
        println!("host {}", h.name);
        if let Some(e) = &h.error {
            println!("  ({e})");
        }
        for d in &h.devices {
            let mut marks = String::new();
            if h.default_input.as_deref() == Some(d.name.as_str()) {
                marks.push_str(" [default input]");
            }
            if h.default_output.as_deref() == Some(d.name.as_str()) {
                marks.push_str(" [default output]");
            }
            println!(
                "  {}{marks}\n    in: {}  out: {}",
                d.name,
                port_text(&d.input),
                port_text(&d.output)
            );
        }
    }
    Ok(())
}
