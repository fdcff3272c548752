//! Stream stages: offline processing steps that change the sample rate or the duration.
//!
//! # What
//! Most nodes map one block in to one block out at the same rate. A few cannot: `resample` changes the
//! rate, `time_stretch` changes the duration. For offline rendering (`tutti process`) a chain is cut at such
//! nodes into segments; each segment runs as a graph at its own rate, and the [`StreamStage`] between two
//! segments converts the stream.
//!
//! # Real-time safety
//! None: a stage appends to growing vectors. Live, rate conversion happens inside nodes that own a fixed
//! resampler (e.g. the conference's RTP adapters).

use crate::{EngineError, NodeArgs};

/// An offline, streaming rate- or duration-changing step.
pub trait StreamStage: Send {
    /// Node type name.
    fn name(&self) -> &'static str;

    /// Sample rate of the output, in Hz.
    fn output_rate(&self) -> u32;

    /// Feeds planar `input` (one slice per channel, equal lengths) and appends whatever output is ready to
    /// `output` (one vector per channel).
    fn push(&mut self, input: &[&[f32]], output: &mut [Vec<f32>]);

    /// Signals the end of the input and appends the remaining output.
    fn finish(&mut self, output: &mut [Vec<f32>]);
}

/// Factory of a stream stage: arguments, input sample rate, channel count.
pub type StageFactory = fn(&NodeArgs, u32, usize) -> Result<Box<dyn StreamStage>, EngineError>;
