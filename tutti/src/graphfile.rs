//! Graph files (`--graph FILE.toml`): general graphs with named inputs and outputs.
//!
//! # What
//! A TOML description of a processing graph:
//!
//! ```toml
//! inputs = ["in", "far"]          # external inputs (default ["in"])
//! outputs = ["out"]               # external outputs (default ["out"])
//! edges = ["in -> h", "h -> a", "far -> a:far", "a -> out"]
//!
//! [nodes.h]                       # node id "h"
//! type = "hpf"                    # node type (see `tutti nodes`)
//! hz = 100                        # every other key is a parameter or option
//!
//! [nodes.a]
//! type = "aec"
//! tail_ms = 300
//! ```
//!
//! An edge is `FROM -> TO`; each end is an input/output name or `node[:port]`, where `port` is an index or
//! a port name from `tutti nodes` (default 0).
//!
//! # How
//! Parsed with the `toml` crate into [`GraphFile`]; errors name the file and the key or edge at fault.

use std::collections::BTreeMap;
use std::path::Path;

/// One node of a graph file.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphNode {
    /// Node id (the table name).
    pub id: String,
    /// Node type name.
    pub type_name: String,
    /// Parameters and options as text.
    pub args: Vec<(String, String)>,
}

/// One end of an edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Node id or external input/output name.
    pub node: String,
    /// Port index or name; `None` means port 0.
    pub port: Option<String>,
}

/// A parsed graph file.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphFile {
    /// External input names.
    pub inputs: Vec<String>,
    /// External output names.
    pub outputs: Vec<String>,
    /// Nodes in file order (sorted by id).
    pub nodes: Vec<GraphNode>,
    /// Edges as (from, to).
    pub edges: Vec<(Endpoint, Endpoint)>,
}

fn value_text(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn endpoint(s: &str) -> Option<Endpoint> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    Some(match s.split_once(':') {
        Some((n, p)) if !n.trim().is_empty() && !p.trim().is_empty() => Endpoint {
            node: n.trim().to_string(),
            port: Some(p.trim().to_string()),
        },
        Some(_) => return None,
        None => Endpoint {
            node: s.to_string(),
            port: None,
        },
    })
}

impl GraphFile {
    /// Reads and parses `path`; errors start with the file name.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses graph-file text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| format!("invalid TOML: {}", e.message()))?;
        let names = |key: &str, default: &str| -> Result<Vec<String>, String> {
            match doc.get(key) {
                None => Ok(vec![default.to_string()]),
                Some(toml::Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| format!("'{key}': expected strings"))
                    })
                    .collect(),
                Some(_) => Err(format!("'{key}': expected an array of names")),
            }
        };
        let inputs = names("inputs", "in")?;
        let outputs = names("outputs", "out")?;
        for key in doc.keys() {
            if !["inputs", "outputs", "edges", "nodes"].contains(&key.as_str()) {
                return Err(format!(
                    "unknown key '{key}' (expected inputs, outputs, edges, [nodes.ID])"
                ));
            }
        }
        let mut nodes = Vec::new();
        let table: BTreeMap<String, toml::Value> = match doc.get("nodes") {
            Some(toml::Value::Table(t)) => t.clone().into_iter().collect(),
            Some(_) => return Err("'nodes': expected tables [nodes.ID]".into()),
            None => BTreeMap::new(),
        };
        for (id, v) in table {
            let toml::Value::Table(t) = v else {
                return Err(format!("nodes.{id}: expected a table"));
            };
            if inputs.contains(&id) || outputs.contains(&id) {
                return Err(format!("nodes.{id}: id clashes with an input/output name"));
            }
            let type_name = t
                .get("type")
                .and_then(|v| v.as_str())
                .ok_or_else(|| format!("nodes.{id}: missing 'type'"))?
                .to_string();
            let mut args = Vec::new();
            for (k, v) in &t {
                if k == "type" {
                    continue;
                }
                let text = value_text(v)
                    .ok_or_else(|| format!("nodes.{id}.{k}: expected a number, string or bool"))?;
                args.push((k.clone(), text));
            }
            nodes.push(GraphNode { id, type_name, args });
        }
        let mut edges = Vec::new();
        if let Some(e) = doc.get("edges") {
            let arr = e
                .as_array()
                .ok_or("'edges': expected an array of \"A -> B\" strings")?;
            for item in arr {
                let s = item.as_str().ok_or("'edges': expected strings")?;
                let (a, b) = s
                    .split_once("->")
                    .ok_or_else(|| format!("edge '{s}': expected 'FROM -> TO'"))?;
                let (Some(from), Some(to)) = (endpoint(a), endpoint(b)) else {
                    return Err(format!("edge '{s}': expected 'node[:port] -> node[:port]'"));
                };
                edges.push((from, to));
            }
        }
        Ok(Self {
            inputs,
            outputs,
            nodes,
            edges,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_graph() {
        let g = GraphFile::parse(
            r#"
inputs = ["in", "far"]
edges = ["in -> h", "h -> a", "far -> a:far", "a -> out"]
[nodes.h]
type = "hpf"
hz = 100
[nodes.a]
type = "aec"
tail_ms = 300
"#,
        )
        .unwrap();
        assert_eq!(g.inputs, vec!["in", "far"]);
        assert_eq!(g.outputs, vec!["out"]);
        assert_eq!(g.nodes.len(), 2);
        assert_eq!(g.nodes[1].args, vec![("hz".to_string(), "100".to_string())]);
        assert_eq!(
            g.edges[2].1,
            Endpoint {
                node: "a".into(),
                port: Some("far".into())
            }
        );
    }

    #[test]
    fn errors_name_the_key() {
        assert!(GraphFile::parse("[nodes.x]\nhz=1")
            .unwrap_err()
            .contains("nodes.x"));
        assert!(GraphFile::parse("edges=[\"a b\"]").unwrap_err().contains("a b"));
        assert!(GraphFile::parse("foo=1").unwrap_err().contains("foo"));
        assert!(GraphFile::parse("edges=[\"a: -> b\"]")
            .unwrap_err()
            .contains("a: -> b"));
    }
}
