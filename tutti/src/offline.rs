//! Offline rendering of chains and graphs through the real-time graph code (`tutti process`).
//!
//! # What
//! [`render`] runs a [`Pipeline`] (a chain spec or a graph file) over whole files, block by block, through
//! the same [`tutti_engine::Graph`] the real-time side runs, as fast as the CPU allows, and reports the
//! real-time factor, the graph latency and each node's cost per block.
//!
//! # How
//! A chain is cut at nodes that change the rate or the duration (`resample`, `time_stretch`): the parts
//! between them run as graphs at their own rate, and each cut node streams the audio through its
//! [`tutti_engine::StreamStage`]. A node with a second input named `far` (the AEC) gets the `--far`
//! signal there. The last block is zero-padded; outputs are trimmed to the stream's length.
//!
//! # Real-time safety
//! None needed: this is the offline driver. The graph's `process` it calls is the real-time code.

use std::time::Instant;

use tutti_engine::{Graph, GraphBuilder, NodeId, NodeType, StreamConfig, StreamStage};

use crate::chain::{self, NodeSpec};
use crate::graphfile::GraphFile;
use crate::wav::Audio;

/// What to render.
#[derive(Debug, Clone)]
pub enum Pipeline {
    /// A linear chain (parsed chain spec).
    Chain(Vec<NodeSpec>),
    /// A general graph from a graph file.
    Graph(GraphFile),
}

/// One node's measured cost.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeCost {
    /// Node label (type name, or graph-file id).
    pub name: String,
    /// Average nanoseconds per processing block.
    pub ns_per_block: f64,
}

/// The result of [`render`].
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The output audio.
    pub audio: Audio,
    /// Input frames processed.
    pub frames: usize,
    /// Input duration in seconds.
    pub seconds: f64,
    /// Audio seconds per wall-clock second.
    pub realtime_factor: f64,
    /// Total latency of the graphs (in frames at the input rate).
    pub latency_samples: usize,
    /// Per-node cost.
    pub nodes: Vec<NodeCost>,
}

/// Parses a chain spec or loads nothing: convenience for callers holding text.
pub fn parse_chain(spec: &str) -> Result<Pipeline, String> {
    chain::parse(spec).map(Pipeline::Chain).map_err(|e| e.to_string())
}

enum Step {
    Graph {
        graph: Graph,
        far_input: bool,
        out_channels: usize,
    },
    Stage(Box<dyn StreamStage>, &'static str),
}

fn find_type(types: &[NodeType], name: &str, text: &str) -> Result<NodeType, String> {
    types
        .iter()
        .find(|t| t.name == name)
        .copied()
        .ok_or_else(|| format!("chain spec: '{text}': unknown node type '{name}' (see `tutti nodes`)"))
}

/// Builds the steps of a chain: graph segments between stream stages.
fn chain_steps(
    nodes: &[NodeSpec],
    types: &[NodeType],
    mut rate: u32,
    mut channels: usize,
    block_ms: f64,
    has_far: bool,
) -> Result<(Vec<Step>, bool), String> {
    let mut steps = Vec::new();
    let mut far_used = false;
    let mut i = 0;
    while i < nodes.len() {
        let ty = find_type(types, &nodes[i].name, &nodes[i].text)?;
        if let Some(stage) = ty.build_stage(&nodes[i].args, rate, channels) {
            let stage = stage.map_err(|e| format!("chain spec: '{}': {e}", nodes[i].text))?;
            rate = stage.output_rate();
            steps.push(Step::Stage(stage, ty.name));
            i += 1;
            continue;
        }
        // A graph segment up to the next stage node.
        let cfg = StreamConfig::new(rate, channels, block_ms).map_err(|e| format!("--block-ms: {e}"))?;
        let mut b = GraphBuilder::new(cfg);
        let input = b.add_input("in", channels);
        let far = has_far.then(|| b.add_input("far", channels));
        let mut prev: NodeId = input;
        let mut ch = channels;
        while i < nodes.len() {
            let ty = find_type(types, &nodes[i].name, &nodes[i].text)?;
            if ty.stage.is_some() {
                break;
            }
            let p = ty
                .build(&nodes[i].args)
                .map_err(|e| format!("chain spec: '{}': {e}", nodes[i].text))?;
            let node_cfg = cfg.with_channels(ch);
            let out_ch = if p.num_outputs() > 0 {
                p.output_channels(0, &node_cfg)
            } else {
                ch
            };
            let far_port = ty.inputs.iter().position(|n| *n == "far");
            let id = b.add_node(ty.name, p);
            b.connect(prev, 0, id, 0)
                .map_err(|e| format!("chain spec: '{}': {e}", nodes[i].text))?;
            if let Some(port) = far_port {
                match far {
                    Some(f) if steps.is_empty() => {
                        b.connect(f, 0, id, port)
                            .map_err(|e| format!("chain spec: '{}': {e}", nodes[i].text))?;
                        far_used = true;
                    }
                    Some(_) => {
                        return Err(format!(
                            "chain spec: '{}': the far-end input can only feed nodes before any rate change",
                            nodes[i].text
                        ))
                    }
                    None => {
                        return Err(format!(
                            "chain spec: '{}': this node needs --far (the far-end signal)",
                            nodes[i].text
                        ))
                    }
                }
            }
            prev = id;
            ch = out_ch;
            i += 1;
        }
        let out = b.add_output("out", ch);
        b.connect(prev, 0, out, 0).map_err(|e| format!("chain: {e}"))?;
        let mut graph = b.build().map_err(|e| format!("chain: {e}"))?;
        // Offline runs are short: measure every block so `ns_per_block` averages them all.
        graph.set_profile_every(1);
        steps.push(Step::Graph {
            graph,
            far_input: far.is_some(),
            out_channels: ch,
        });
        channels = ch;
    }
    Ok((steps, far_used))
}

/// Builds a chain as one graph at a single rate (for live use): inputs `in` and, when a node of the chain
/// has a `far` input port, `far` (fed to that node); one output `out`. Nodes that change the rate or the
/// duration (`resample`, `time_stretch`) are refused. Returns the graph and whether it has a `far` input.
pub(crate) fn chain_graph(
    nodes: &[NodeSpec],
    types: &[NodeType],
    rate: u32,
    channels: usize,
    block_ms: f64,
) -> Result<(Graph, bool), String> {
    let mut has_far = false;
    for n in nodes {
        let ty = find_type(types, &n.name, &n.text)?;
        if ty.stage.is_some() {
            return Err(format!(
                "chain spec: '{}': changes the rate or duration; not available live",
                n.text
            ));
        }
        has_far |= ty.inputs.contains(&"far");
    }
    let (mut steps, _) = chain_steps(nodes, types, rate, channels, block_ms, has_far)?;
    match steps.pop() {
        Some(Step::Graph { graph, far_input, .. }) if steps.is_empty() => Ok((graph, far_input)),
        _ => Err("chain spec: the chain must contain at least one node".into()),
    }
}

fn port_index(names: &[&str], port: &Option<String>, what: &str) -> Result<usize, String> {
    match port {
        None => Ok(0),
        Some(p) => match p.parse::<usize>() {
            Ok(i) => Ok(i),
            Err(_) => names
                .iter()
                .position(|n| n == p)
                .ok_or_else(|| format!("{what}: no port '{p}' (ports: {})", names.join(", "))),
        },
    }
}

/// Builds a graph file into one graph step. `--in` feeds the first input, `--far` the second.
fn graph_step(g: &GraphFile, types: &[NodeType], cfg: StreamConfig) -> Result<Step, String> {
    let mut b = GraphBuilder::new(cfg);
    let mut ids: Vec<(String, NodeId, Option<NodeType>)> = Vec::new();
    for name in &g.inputs {
        ids.push((name.clone(), b.add_input(name, cfg.channels), None));
    }
    // Output channel counts are decided by what feeds them; we require the stream's channel count.
    for name in &g.outputs {
        ids.push((name.clone(), b.add_output(name, cfg.channels), None));
    }
    for n in &g.nodes {
        let ty = types
            .iter()
            .find(|t| t.name == n.type_name)
            .copied()
            .ok_or_else(|| format!("nodes.{}: unknown node type '{}'", n.id, n.type_name))?;
        if ty.stage.is_some() {
            return Err(format!(
                "nodes.{}: '{}' changes the rate or duration; use it in a --chain",
                n.id, ty.name
            ));
        }
        let p = ty.build(&n.args).map_err(|e| format!("nodes.{}: {e}", n.id))?;
        ids.push((n.id.clone(), b.add_node(&n.id, p), Some(ty)));
    }
    for (from, to) in &g.edges {
        let edge = format!(
            "edge '{}{} -> {}{}'",
            from.node,
            from.port.as_deref().map(|p| format!(":{p}")).unwrap_or_default(),
            to.node,
            to.port.as_deref().map(|p| format!(":{p}")).unwrap_or_default()
        );
        let find = |name: &str| {
            ids.iter()
                .find(|(n, _, _)| n == name)
                .ok_or_else(|| format!("{edge}: unknown node or port '{name}'"))
        };
        let (_, fid, fty) = find(&from.node)?;
        let (_, tid, tty) = find(&to.node)?;
        let fp = port_index(fty.map_or(&["out"][..], |t| t.outputs), &from.port, &edge)?;
        let tp = port_index(tty.map_or(&["in"][..], |t| t.inputs), &to.port, &edge)?;
        b.connect(*fid, fp, *tid, tp)
            .map_err(|e| format!("{edge}: {e}"))?;
    }
    let mut graph = b.build().map_err(|e| format!("graph: {e}"))?;
    graph.set_profile_every(1);
    Ok(Step::Graph {
        graph,
        far_input: g.inputs.len() > 1,
        out_channels: cfg.channels,
    })
}

fn run_graph(graph: &mut Graph, input: &Audio, far: Option<&Audio>, out_channels: usize) -> Audio {
    let cfg = graph.config();
    let frames = cfg.block_frames;
    let total = input.frames();
    let ch = input.channels.len();
    let mut in_buf = vec![0.0f32; ch * frames];
    let mut far_buf = vec![0.0f32; ch * frames];
    let mut out_buf = vec![0.0f32; out_channels * frames];
    let mut out: Vec<Vec<f32>> = vec![Vec::with_capacity(total); out_channels];
    let mut pos = 0;
    while pos < total {
        let take = frames.min(total - pos);
        fill_block(&mut in_buf, &input.channels, pos, take, frames);
        let ins: Vec<&[f32]> = match far {
            Some(f) => {
                fill_block(&mut far_buf, &f.channels, pos, take, frames);
                vec![&in_buf, &far_buf]
            }
            None => vec![&in_buf],
        };
        {
            let mut outs: [&mut [f32]; 1] = [&mut out_buf];
            graph.process(&ins, &mut outs);
        }
        for (c, o) in out.iter_mut().enumerate() {
            o.extend_from_slice(&out_buf[c * frames..c * frames + take]);
        }
        pos += take;
        crate::progress::tick(pos, total);
    }
    Audio {
        sample_rate: cfg.sample_rate,
        channels: out,
    }
}

fn fill_block(buf: &mut [f32], chans: &[Vec<f32>], pos: usize, take: usize, frames: usize) {
    buf.fill(0.0);
    for (c, ch) in chans.iter().enumerate() {
        // A signal shorter than the input (e.g. --far) reads as silence past its end.
        let n = take.min(ch.len().saturating_sub(pos));
        if n > 0 {
            buf[c * frames..c * frames + n].copy_from_slice(&ch[pos..pos + n]);
        }
    }
}

/// Renders `pipeline` over `input` (and `far`, the far-end reference for nodes such as `aec`).
///
/// `far` must have the input's sample rate and channel count; it is zero-padded or cut to the input's
/// length.
pub fn render(
    pipeline: &Pipeline,
    types: &[NodeType],
    input: &Audio,
    far: Option<&Audio>,
    block_ms: f64,
) -> Result<Rendered, String> {
    let rate = input.sample_rate;
    let channels = input.channels.len();
    let far = match far {
        Some(f) if f.sample_rate != rate => {
            return Err(format!(
                "--far: sample rate {} Hz differs from --in's {} Hz",
                f.sample_rate, rate
            ))
        }
        Some(f) if f.channels.len() != channels => {
            return Err(format!(
                "--far: {} channels, but --in has {}",
                f.channels.len(),
                channels
            ))
        }
        other => other,
    };
    let mut steps = match pipeline {
        Pipeline::Chain(nodes) => {
            let (steps, far_used) = chain_steps(nodes, types, rate, channels, block_ms, far.is_some())?;
            if far.is_some() && !far_used {
                return Err("--far: no node of the chain takes a far-end input (e.g. aec)".into());
            }
            steps
        }
        Pipeline::Graph(g) => {
            let cfg = StreamConfig::new(rate, channels, block_ms).map_err(|e| format!("--block-ms: {e}"))?;
            if g.inputs.len() > 2 {
                return Err(format!(
                    "--graph: {} inputs; tutti process feeds at most two (--in, --far)",
                    g.inputs.len()
                ));
            }
            if g.inputs.len() == 2 && far.is_none() {
                return Err(format!("--graph: input '{}' needs --far", g.inputs[1]));
            }
            if g.outputs.len() != 1 {
                return Err(format!(
                    "--graph: {} outputs; tutti process writes exactly one (--out)",
                    g.outputs.len()
                ));
            }
            vec![graph_step(g, types, cfg)?]
        }
    };
    let started = Instant::now();
    let mut audio = input.clone();
    let mut latency_frames_in = 0.0f64;
    let mut nodes = Vec::new();
    let mut first = true;
    for step in &mut steps {
        match step {
            Step::Graph {
                graph,
                far_input,
                out_channels,
            } => {
                let use_far = if *far_input && first { far } else { None };
                let silent;
                let use_far = match (use_far, *far_input) {
                    (Some(f), _) => Some(f),
                    (None, true) => {
                        silent = Audio {
                            sample_rate: audio.sample_rate,
                            channels: vec![vec![0.0; audio.frames()]; audio.channels.len()],
                        };
                        Some(&silent)
                    }
                    (None, false) => None,
                };
                let out = run_graph(graph, &audio, use_far, *out_channels);
                latency_frames_in += graph.latency() as f64 * f64::from(rate) / f64::from(audio.sample_rate);
                for s in graph.node_stats() {
                    nodes.push(NodeCost {
                        name: s.label.clone(),
                        ns_per_block: s.ns_per_block,
                    });
                }
                audio = out;
            }
            Step::Stage(stage, name) => {
                let mut out: Vec<Vec<f32>> = vec![Vec::new(); audio.channels.len()];
                let ins: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
                let t0 = Instant::now();
                stage.push(&ins, &mut out);
                stage.finish(&mut out);
                let blocks = (audio.frames() as f64 / (f64::from(audio.sample_rate) * block_ms / 1000.0))
                    .ceil()
                    .max(1.0);
                nodes.push(NodeCost {
                    name: name.to_string(),
                    ns_per_block: t0.elapsed().as_nanos() as f64 / blocks,
                });
                audio = Audio {
                    sample_rate: stage.output_rate(),
                    channels: out,
                };
            }
        }
        first = false;
    }
    crate::progress::done();
    let wall = started.elapsed().as_secs_f64();
    let seconds = input.frames() as f64 / f64::from(rate);
    Ok(Rendered {
        audio,
        frames: input.frames(),
        seconds,
        realtime_factor: if wall > 0.0 { seconds / wall } else { f64::INFINITY },
        latency_samples: latency_frames_in.round() as usize,
        nodes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A far-end file shorter (or longer) than the input is padded with silence (or cut), never a panic.
    #[test]
    fn far_shorter_or_longer_than_input() {
        let types = crate::registry::node_types();
        let p = parse_chain("gain(db=0)").unwrap();
        let input = Audio {
            sample_rate: 16000,
            channels: vec![vec![0.1; 16000 + 37]],
        };
        for far_len in [0usize, 5, 1600, 16000 + 37, 40000] {
            let far = Audio {
                sample_rate: 16000,
                channels: vec![vec![0.2; far_len]],
            };
            let chain = parse_chain("aec").unwrap();
            let r = render(&chain, &types, &input, Some(&far), 10.0).unwrap();
            assert_eq!(r.audio.frames(), input.frames(), "far {far_len}");
        }
        let r = render(&p, &types, &input, None, 10.0).unwrap();
        assert_eq!(r.audio.channels[0], input.channels[0]);
    }
}
