//! Building an embedded engine's graph from a chain spec or a graph file, keeping each node's parameters
//! and meters at hand (the compiled [`Graph`] does not expose its processors).
//!
//! # What
//! [`from_chain`] and [`from_graph_file`] build one [`Graph`] at a single rate with external input 0
//! (`in`, the near-end), input 1 (`far`, the far-end reference) when a node takes one, and one output, plus
//! a [`NodeInfo`] per processor node: its label (the type name in a chain, the node id in a graph file),
//! its parameter table and its [`Meters`].
//!
//! # How
//! As `tutti process` does (see [`crate::offline`]): a chain is `in → n1 → … → out`, and every node with
//! an input port named `far` (the AEC) is fed from the `far` input; a graph file is wired by its edges.
//! Nodes that change the rate or the duration (`resample`, `time_stretch`) are refused: an embedded engine
//! exchanges equal numbers of frames in and out.
//!
//! # Real-time safety
//! Control side only: building allocates.

use std::sync::Arc;

use tutti_engine::{Graph, GraphBuilder, Meters, NodeId, NodeType, ParamInfo, StreamConfig};

use super::EmbedError;
use crate::chain;
use crate::graphfile::GraphFile;

/// One processor node of an embedded engine.
#[derive(Debug, Clone)]
pub(crate) struct NodeInfo {
    /// Label used by `node.param` names and statistics.
    pub label: String,
    /// Node type name.
    pub type_name: &'static str,
    /// Id in the graph.
    pub id: NodeId,
    /// The node's run-time parameters.
    pub params: &'static [ParamInfo],
    /// The node's meters, if it publishes any.
    pub meters: Option<Arc<Meters>>,
}

/// A built graph and what the engine needs to know about it.
pub(crate) struct Built {
    pub graph: Graph,
    pub has_far: bool,
    pub out_channels: usize,
    pub nodes: Vec<NodeInfo>,
}

fn find_type(types: &[NodeType], name: &str, at: &str) -> Result<NodeType, EmbedError> {
    types
        .iter()
        .find(|t| t.name == name)
        .copied()
        .ok_or_else(|| EmbedError::Spec {
            detail: format!("{at}: unknown node type '{name}' (see `tutti nodes`)"),
        })
}

fn spec_err(at: &str, e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Spec {
        detail: format!("{at}: {e}"),
    }
}

/// Builds a chain spec (`hpf,aec,ns,agc`) into a graph at `cfg`.
pub(crate) fn from_chain(spec: &str, types: &[NodeType], cfg: StreamConfig) -> Result<Built, EmbedError> {
    let nodes = chain::parse(spec).map_err(|e| EmbedError::Spec {
        detail: e.to_string(),
    })?;
    let mut resolved = Vec::with_capacity(nodes.len());
    for n in &nodes {
        let at = format!("chain spec: '{}'", n.text);
        let ty = find_type(types, &n.name, &at)?;
        if ty.stage.is_some() {
            return Err(spec_err(
                &at,
                "changes the rate or duration; not available in an embedded engine",
            ));
        }
        resolved.push((ty, at));
    }
    let has_far = resolved.iter().any(|(t, _)| t.inputs.contains(&"far"));
    let mut b = GraphBuilder::new(cfg);
    let input = b.add_input("in", cfg.channels);
    let far = has_far.then(|| b.add_input("far", cfg.channels));
    let mut infos = Vec::with_capacity(nodes.len());
    let (mut prev, mut ch) = (input, cfg.channels);
    for (n, (ty, at)) in nodes.iter().zip(&resolved) {
        let p = ty.build(&n.args).map_err(|e| spec_err(at, e))?;
        let node_cfg = cfg.with_channels(ch);
        let out_ch = if p.num_outputs() > 0 {
            p.output_channels(0, &node_cfg)
        } else {
            ch
        };
        let meters = p.meters();
        let id = b.add_node(ty.name, p);
        b.connect(prev, 0, id, 0).map_err(|e| spec_err(at, e))?;
        if let (Some(port), Some(f)) = (ty.inputs.iter().position(|i| *i == "far"), far) {
            b.connect(f, 0, id, port).map_err(|e| spec_err(at, e))?;
        }
        infos.push(NodeInfo {
            label: ty.name.to_string(),
            type_name: ty.name,
            id,
            params: ty.params,
            meters,
        });
        prev = id;
        ch = out_ch;
    }
    let out = b.add_output("out", ch);
    b.connect(prev, 0, out, 0).map_err(|e| spec_err("chain", e))?;
    let graph = b.build().map_err(|e| spec_err("chain", e))?;
    Ok(Built {
        graph,
        has_far,
        out_channels: ch,
        nodes: infos,
    })
}

fn port_index(names: &[&str], port: &Option<String>, at: &str) -> Result<usize, EmbedError> {
    match port {
        None => Ok(0),
        Some(p) => match p.parse::<usize>() {
            Ok(i) => Ok(i),
            Err(_) => names
                .iter()
                .position(|n| n == p)
                .ok_or_else(|| spec_err(at, format!("no port '{p}' (ports: {})", names.join(", ")))),
        },
    }
}

/// Builds graph-file text (see [`crate::graphfile`]) into a graph at `cfg`: its first input is the
/// near-end, its second (if any) the far-end; it must have exactly one output.
pub(crate) fn from_graph_file(
    toml: &str,
    types: &[NodeType],
    cfg: StreamConfig,
) -> Result<Built, EmbedError> {
    let g = GraphFile::parse(toml).map_err(|e| EmbedError::Spec {
        detail: format!("graph: {e}"),
    })?;
    if g.inputs.is_empty() || g.inputs.len() > 2 {
        return Err(spec_err(
            "graph",
            format!(
                "{} inputs; an engine has one (near-end) or two (near-end, far-end)",
                g.inputs.len()
            ),
        ));
    }
    if g.outputs.len() != 1 {
        return Err(spec_err(
            "graph",
            format!("{} outputs; an engine has exactly one", g.outputs.len()),
        ));
    }
    let mut b = GraphBuilder::new(cfg);
    let mut ids: Vec<(String, NodeId, Option<NodeType>)> = Vec::new();
    for name in &g.inputs {
        ids.push((name.clone(), b.add_input(name, cfg.channels), None));
    }
    for name in &g.outputs {
        ids.push((name.clone(), b.add_output(name, cfg.channels), None));
    }
    let mut infos = Vec::with_capacity(g.nodes.len());
    for n in &g.nodes {
        let at = format!("nodes.{}", n.id);
        let ty = find_type(types, &n.type_name, &at)?;
        if ty.stage.is_some() {
            return Err(spec_err(
                &at,
                format!(
                    "'{}' changes the rate or duration; not available in an engine",
                    ty.name
                ),
            ));
        }
        let p = ty.build(&n.args).map_err(|e| spec_err(&at, e))?;
        let meters = p.meters();
        let id = b.add_node(&n.id, p);
        ids.push((n.id.clone(), id, Some(ty)));
        infos.push(NodeInfo {
            label: n.id.clone(),
            type_name: ty.name,
            id,
            params: ty.params,
            meters,
        });
    }
    for (from, to) in &g.edges {
        let show = |e: &crate::graphfile::Endpoint| match &e.port {
            Some(p) => format!("{}:{p}", e.node),
            None => e.node.clone(),
        };
        let at = format!("edge '{} -> {}'", show(from), show(to));
        let find = |name: &str| {
            ids.iter()
                .find(|(n, _, _)| n == name)
                .ok_or_else(|| spec_err(&at, format!("unknown node or port '{name}'")))
        };
        let (_, fid, fty) = find(&from.node)?;
        let (_, tid, tty) = find(&to.node)?;
        let fp = port_index(fty.map_or(&["out"][..], |t| t.outputs), &from.port, &at)?;
        let tp = port_index(tty.map_or(&["in"][..], |t| t.inputs), &to.port, &at)?;
        b.connect(*fid, fp, *tid, tp).map_err(|e| spec_err(&at, e))?;
    }
    let graph = b.build().map_err(|e| spec_err("graph", e))?;
    Ok(Built {
        graph,
        has_far: g.inputs.len() == 2,
        out_channels: cfg.channels,
        nodes: infos,
    })
}
