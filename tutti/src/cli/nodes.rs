//! `tutti nodes [--json]`: lists every node type.

use serde_json::json;

use super::CliError;
use crate::registry;

/// Arguments of `tutti nodes`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `tutti nodes`.
pub fn run(args: &Args) -> Result<(), CliError> {
    let cfg = tutti_engine::StreamConfig::default();
    let mut nodes = Vec::new();
    for ty in registry::node_types() {
        // Latency is reported for the default configuration (48 kHz, mono, 10 ms blocks).
        let latency = match ty.build_default() {
            Ok(mut p) => p.prepare(&cfg).map(|()| p.latency()).unwrap_or(0),
            Err(_) => 0,
        };
        nodes.push((ty, latency));
    }
    if args.json {
        let list: Vec<_> = nodes
            .iter()
            .map(|(ty, latency)| {
                json!({
                    "name": ty.name,
                    "description": ty.description,
                    "inputs": ty.inputs,
                    "outputs": ty.outputs,
                    "params": ty.params.iter().map(|p| {
                        let mut v = json!({"name": p.name, "unit": p.unit, "min": p.min, "max": p.max,
                            "default": p.default, "description": p.description});
                        if !p.choices.is_empty() {
                            v["choices"] = json!(p.choices);
                        }
                        v
                    }).collect::<Vec<_>>(),
                    "options": ty.options.iter().map(|(n, d)| json!({"name": n, "description": d})).collect::<Vec<_>>(),
                    "latency_samples": latency,
                })
            })
            .collect();
        println!("{}", json!({ "nodes": list }));
    } else {
        for (ty, latency) in &nodes {
            println!(
                "{:<14} {}  [in: {}; out: {}; latency {} samples @48k]",
                ty.name,
                ty.description,
                ty.inputs.join(","),
                ty.outputs.join(","),
                latency
            );
            for p in ty.params {
                if p.choices.is_empty() {
                    println!(
                        "    {:<12} {:<6} {}..{} (default {})  {}",
                        p.name, p.unit, p.min, p.max, p.default, p.description
                    );
                } else {
                    println!(
                        "    {:<12} {:<6} {} (default {})  {}",
                        p.name,
                        "",
                        p.choices.join("|"),
                        p.choices[p.default as usize],
                        p.description
                    );
                }
            }
            for (n, d) in ty.options {
                println!("    {n:<12} {:<6} {d}", "(opt)");
            }
        }
    }
    Ok(())
}
