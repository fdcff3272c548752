//! `remix`: channel up/down-mix.
//!
//! # What
//! Converts mono to stereo (the same signal on both channels) or stereo to mono (the mean of the two
//! channels, so a centred source keeps its level), or passes audio through when the counts match.
//!
//! # Real-time safety
//! `process` copies and adds only.

use tutti_engine::{EngineError, Inputs, NodeArgs, NodeType, Outputs, ParamInfo, Processor, StreamConfig};

const PARAMS: &[ParamInfo] = &[ParamInfo::new(
    "channels",
    "",
    1.0,
    2.0,
    1.0,
    "output channel count",
)];

/// The `remix` node type.
pub(crate) const TYPE: NodeType = NodeType {
    name: "remix",
    description: "channel up/down-mix (mono <-> stereo)",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create: |a: &NodeArgs| {
        let ch = a.get("channels");
        if ch.fract() != 0.0 {
            return Err(a.error("channels", format!("expected 1 or 2, got {ch}")));
        }
        Ok(Box::new(Remix {
            out_channels: ch as usize,
        }))
    },
    stage: None,
};

/// Channel up/down-mixer.
#[derive(Debug, Clone)]
pub struct Remix {
    out_channels: usize,
}

impl Remix {
    /// A remixer producing `out_channels` (1 or 2) channels.
    pub fn new(out_channels: usize) -> Self {
        Self {
            out_channels: out_channels.clamp(1, 2),
        }
    }
}

impl Processor for Remix {
    fn name(&self) -> &'static str {
        "remix"
    }

    fn output_channels(&self, _port: usize, _cfg: &StreamConfig) -> usize {
        self.out_channels
    }

    fn prepare(&mut self, _cfg: &StreamConfig) -> Result<(), EngineError> {
        Ok(())
    }

    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let input = inputs.port(0);
        let mut out = outputs.port(0);
        match (input.channels(), self.out_channels) {
            (2, 1) => {
                let (l, r) = (input.channel(0), input.channel(1));
                for ((o, a), b) in out.channel_mut(0).iter_mut().zip(l).zip(r) {
                    *o = 0.5 * (a + b);
                }
            }
            (1, 2) => {
                out.channel_mut(0).copy_from_slice(input.channel(0));
                out.channel_mut(1).copy_from_slice(input.channel(0));
            }
            _ => out.copy_from(&input),
        }
    }

    fn reset(&mut self) {}

    fn params(&self) -> &'static [ParamInfo] {
        PARAMS
    }
}
