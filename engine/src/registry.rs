//! Node types: how a node is described and built from a chain spec's `key=value` arguments.
//!
//! # What
//! A [`NodeType`] names a kind of node (`"hpf"`), describes its ports and parameters, and has a factory that
//! builds a boxed [`Processor`] from [`NodeArgs`]. Crates that provide nodes (effects, the facade's RTP
//! adapters) export `&'static [NodeType]` tables; the facade joins them into one registry.
//!
//! # Real-time safety
//! Construction happens on the control side and may allocate; nothing here runs on the real-time path.

use crate::{EngineError, ParamInfo, Processor};

/// Description and factory of one node type.
#[derive(Clone, Copy)]
pub struct NodeType {
    /// Name used in chain specs and graph files, e.g. `"hpf"`.
    pub name: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// Names of the input ports (e.g. `["in", "far"]` for the AEC).
    pub inputs: &'static [&'static str],
    /// Names of the output ports.
    pub outputs: &'static [&'static str],
    /// Run-time parameters (also accepted as construction arguments).
    pub params: &'static [ParamInfo],
    /// Construction-only options that are not numbers (e.g. `ir` = a WAV file path), as (name, description).
    pub options: &'static [(&'static str, &'static str)],
    /// Builds the processor from its arguments (already checked against `params` and `options`).
    pub create: fn(&NodeArgs) -> Result<Box<dyn Processor>, EngineError>,
    /// For nodes that change the rate or duration (`resample`, `time_stretch`): the offline stream stage
    /// that offline renderers cut chains at (see [`crate::StreamStage`]); `None` for ordinary nodes.
    pub stage: Option<crate::StageFactory>,
}

impl std::fmt::Debug for NodeType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeType")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl NodeType {
    /// Parses `key=value` pairs against this type's parameters and options, then builds the node.
    pub fn build(&self, pairs: &[(String, String)]) -> Result<Box<dyn Processor>, EngineError> {
        let args = NodeArgs::parse(self, pairs)?;
        (self.create)(&args)
    }

    /// Parses `pairs` and builds the node's offline stream stage, if it has one.
    pub fn build_stage(
        &self,
        pairs: &[(String, String)],
        rate: u32,
        channels: usize,
    ) -> Option<Result<Box<dyn crate::StreamStage>, EngineError>> {
        let stage = self.stage?;
        Some(NodeArgs::parse(self, pairs).and_then(|a| stage(&a, rate, channels)))
    }

    /// Builds the node with all defaults.
    pub fn build_default(&self) -> Result<Box<dyn Processor>, EngineError> {
        self.build(&[])
    }
}

/// Checked construction arguments of a node: one value per parameter (given or default) plus options.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeArgs {
    node: &'static str,
    params: &'static [ParamInfo],
    values: Vec<f32>,
    given: Vec<bool>,
    options: Vec<(&'static str, String)>,
}

impl NodeArgs {
    /// Checks `pairs` against `ty`: unknown keys, malformed numbers and out-of-range values are errors
    /// that name the node, the key and the value.
    pub fn parse(ty: &NodeType, pairs: &[(String, String)]) -> Result<Self, EngineError> {
        let mut values: Vec<f32> = ty.params.iter().map(|p| p.default).collect();
        let mut given = vec![false; values.len()];
        let mut options = Vec::new();
        for (k, v) in pairs {
            let bad = |detail: String| EngineError::BadParam {
                node: ty.name.to_string(),
                param: k.clone(),
                detail,
            };
            if let Some(i) = ty.params.iter().position(|p| p.name == k) {
                values[i] = ty.params[i].parse(v).map_err(bad)?;
                given[i] = true;
            } else if let Some((name, _)) = ty.options.iter().find(|(n, _)| n == k) {
                options.push((*name, v.clone()));
            } else {
                let mut known: Vec<&str> = ty.params.iter().map(|p| p.name).collect();
                known.extend(ty.options.iter().map(|(n, _)| *n));
                return Err(bad(if known.is_empty() {
                    "this node takes no parameters".to_string()
                } else {
                    format!("unknown parameter (known: {})", known.join(", "))
                }));
            }
        }
        Ok(Self {
            node: ty.name,
            params: ty.params,
            values,
            given,
            options,
        })
    }

    /// Value of parameter `name` (given or default).
    ///
    /// # Panics
    /// When `name` is not one of the node type's parameters: that is a bug in the node's factory.
    pub fn get(&self, name: &str) -> f32 {
        let i = self.index(name);
        self.values[i]
    }

    /// True when parameter `name` was given explicitly.
    pub fn is_given(&self, name: &str) -> bool {
        self.given[self.index(name)]
    }

    /// All parameter values in the order of the node type's `params`.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// The option `name`, if given.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// An error about option or parameter `param` of this node.
    pub fn error(&self, param: &str, detail: impl Into<String>) -> EngineError {
        EngineError::BadParam {
            node: self.node.to_string(),
            param: param.to_string(),
            detail: detail.into(),
        }
    }

    fn index(&self, name: &str) -> usize {
        self.params
            .iter()
            .position(|p| p.name == name)
            .unwrap_or_else(|| panic!("node '{}' has no parameter '{name}' (factory bug)", self.node))
    }
}
