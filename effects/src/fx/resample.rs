//! `resample`: sample-rate conversion through rubato, as a streaming wrapper and an offline stream stage.
//!
//! # What
//! [`StreamResampler`] converts a stream of planar audio from one integer rate to another with exact
//! length bookkeeping: the resampler's own delay is removed from the front, and after
//! [`StreamResampler::finish`] the output holds exactly `round(n_in · rate_out / rate_in)` frames (the
//! length sox produces). [`resample_signal`] does a whole mono signal at once (IR loading, tests).
//!
//! The `resample(rate=R)` node changes the sample rate, which a fixed-rate real-time graph cannot do: its
//! `create` fails with an error saying so, and its stream stage does the work in `tutti process`, which
//! cuts the chain at the node and runs the following segment at `R`.
//!
//! # How
//! rubato's synchronous FFT resampler (`FftFixedIn`: the input is cut in chunks, each chunk is upsampled
//! in the frequency domain by the rate ratio's numerator/denominator with an anti-aliasing low-pass
//! (Blackman–Harris window) and overlap-added). Its reported `output_delay` is skipped at the start; at
//! the end the stream is padded with zeros until the expected number of frames is out.
//!
//! # Real-time safety
//! [`StreamResampler::push`] does not allocate as long as the output vectors have spare capacity (the
//! FFT buffers are allocated in `new`); the stream stage is offline and not real-time.

use rubato::{FftFixedIn, Resampler as _};
use tutti_engine::{EngineError, NodeArgs, ParamInfo, Processor, StreamStage};

const CHUNK: usize = 1024;

/// Input chunk for `rate_in → rate_out`: a whole, even number of the ratio's input periods of about
/// [`CHUNK`] frames. Even makes rubato's FFT sizes even, so its reported delay (`fft_size_out / 2`) is
/// exact rather than half a sample short.
fn chunk_for(rate_in: u32, rate_out: u32) -> usize {
    let (mut a, mut b) = (rate_in as usize, rate_out as usize);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    let period = rate_in as usize / a;
    let mut units = CHUNK.div_ceil(period).max(1);
    if units % 2 == 1 {
        units += 1;
    }
    period * units
}

static PARAMS: &[ParamInfo] = &[ParamInfo::new(
    "rate",
    "Hz",
    1000.0,
    384_000.0,
    48_000.0,
    "output sample rate",
)];

/// The `resample` node type.
pub(crate) const TYPE: tutti_engine::NodeType = tutti_engine::NodeType {
    name: "resample",
    description: "sample-rate conversion (rubato FFT resampler); a stream stage of `tutti process`",
    inputs: &["in"],
    outputs: &["out"],
    params: PARAMS,
    options: &[],
    create,
    stage: Some(stage),
};

fn create(args: &NodeArgs) -> Result<Box<dyn Processor>, EngineError> {
    Err(args.error(
        "rate",
        format!(
            "resample changes the sample rate (to {} Hz), which a fixed-rate real-time graph cannot do; \
             it works as a stream stage in `tutti process`, which runs the rest of the chain at the new rate",
            args.get("rate")
        ),
    ))
}

fn stage(args: &NodeArgs, rate: u32, channels: usize) -> Result<Box<dyn StreamStage>, EngineError> {
    let out = args.get("rate");
    if out.fract() != 0.0 {
        return Err(args.error("rate", format!("expected a whole number of Hz, got {out}")));
    }
    let r =
        StreamResampler::new(rate, out as u32, channels).map_err(|e| args.error("rate", e.to_string()))?;
    Ok(Box::new(ResampleStage(r)))
}

struct ResampleStage(StreamResampler);

impl StreamStage for ResampleStage {
    fn name(&self) -> &'static str {
        "resample"
    }

    fn output_rate(&self) -> u32 {
        self.0.rate_out
    }

    fn push(&mut self, input: &[&[f32]], output: &mut [Vec<f32>]) {
        self.0.push(input, output);
    }

    fn finish(&mut self, output: &mut [Vec<f32>]) {
        self.0.finish(output);
    }
}

/// Streaming sample-rate converter with exact output length (see the module docs).
pub struct StreamResampler {
    inner: Option<FftFixedIn<f32>>,
    rate_in: u32,
    rate_out: u32,
    channels: usize,
    chunk: Vec<Vec<f32>>,
    chunk_len: usize,
    fill: usize,
    out: Vec<Vec<f32>>,
    skip: usize,
    in_total: u64,
    out_total: u64,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("rate_in", &self.rate_in)
            .field("rate_out", &self.rate_out)
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl StreamResampler {
    /// A converter from `rate_in` to `rate_out` Hz for `channels` planar channels.
    pub fn new(rate_in: u32, rate_out: u32, channels: usize) -> Result<Self, EngineError> {
        if rate_in == 0 || rate_out == 0 || channels == 0 {
            return Err(EngineError::BadParam {
                node: "resample".into(),
                param: "rate".into(),
                detail: format!("cannot convert {rate_in} Hz to {rate_out} Hz with {channels} channels"),
            });
        }
        let chunk = chunk_for(rate_in, rate_out);
        let inner = if rate_in == rate_out {
            None
        } else {
            Some(
                FftFixedIn::<f32>::new(rate_in as usize, rate_out as usize, chunk, 1, channels).map_err(
                    |e| EngineError::BadParam {
                        node: "resample".into(),
                        param: "rate".into(),
                        detail: format!("{rate_in} Hz → {rate_out} Hz: {e}"),
                    },
                )?,
            )
        };
        let (out, skip) = match &inner {
            Some(r) => (r.output_buffer_allocate(true), r.output_delay()),
            None => (Vec::new(), 0),
        };
        Ok(Self {
            inner,
            rate_in,
            rate_out,
            channels,
            chunk: vec![vec![0.0; chunk]; channels],
            chunk_len: chunk,
            fill: 0,
            out,
            skip,
            in_total: 0,
            out_total: 0,
        })
    }

    /// Output rate in Hz.
    pub fn rate_out(&self) -> u32 {
        self.rate_out
    }

    /// Input rate in Hz.
    pub fn rate_in(&self) -> u32 {
        self.rate_in
    }

    /// Frames the output will hold after [`StreamResampler::finish`] for the input pushed so far.
    pub fn expected_len(&self) -> u64 {
        (self.in_total * u64::from(self.rate_out) + u64::from(self.rate_in) / 2) / u64::from(self.rate_in)
    }

    /// Feeds planar `input` (one slice per channel, equal lengths) and appends the ready output frames
    /// to `output` (one vector per channel).
    pub fn push(&mut self, input: &[&[f32]], output: &mut [Vec<f32>]) {
        let n = input.first().map_or(0, |c| c.len());
        self.in_total += n as u64;
        if self.inner.is_none() {
            for (c, o) in output.iter_mut().enumerate().take(self.channels) {
                o.extend_from_slice(input.get(c).copied().unwrap_or(&[]));
            }
            self.out_total += n as u64;
            return;
        }
        let mut pos = 0;
        while pos < n {
            let take = (self.chunk_len - self.fill).min(n - pos);
            for c in 0..self.channels {
                let src = input.get(c).copied().unwrap_or(&[]);
                let dst = &mut self.chunk[c][self.fill..self.fill + take];
                if src.len() >= pos + take {
                    dst.copy_from_slice(&src[pos..pos + take]);
                } else {
                    dst.fill(0.0);
                }
            }
            self.fill += take;
            pos += take;
            if self.fill == self.chunk_len {
                self.run_chunk(output, u64::MAX);
            }
        }
    }

    fn run_chunk(&mut self, output: &mut [Vec<f32>], limit: u64) {
        let Some(r) = self.inner.as_mut() else { return };
        let produced = match r.process_into_buffer(&self.chunk, &mut self.out, None) {
            Ok((_, produced)) => produced,
            Err(_) => 0,
        };
        self.fill = 0;
        let skip = self.skip.min(produced);
        self.skip -= skip;
        let avail = (produced - skip) as u64;
        let take = avail.min(limit.saturating_sub(self.out_total)) as usize;
        for (o, src) in output.iter_mut().zip(&self.out) {
            o.extend_from_slice(&src[skip..skip + take]);
        }
        self.out_total += take as u64;
    }

    /// Ends the stream: flushes the converter and appends the remaining frames so that the total output
    /// is exactly [`StreamResampler::expected_len`] frames.
    pub fn finish(&mut self, output: &mut [Vec<f32>]) {
        let want = self.expected_len();
        if self.inner.is_none() {
            return;
        }
        // Each zero-padded chunk yields about CHUNK·ratio frames; bound the loop generously.
        let mut guard = 0;
        while self.out_total < want && guard < 64 + (self.skip / self.chunk_len) * 4 {
            for c in &mut self.chunk {
                c[self.fill..].fill(0.0);
            }
            self.fill = self.chunk_len;
            self.run_chunk(output, want);
            guard += 1;
        }
    }

    /// Clears all state (a new stream starts).
    pub fn reset(&mut self) {
        if let Some(r) = self.inner.as_mut() {
            r.reset();
            self.skip = r.output_delay();
        }
        self.fill = 0;
        self.in_total = 0;
        self.out_total = 0;
    }
}

/// Resamples a whole mono signal from `rate_in` to `rate_out` (length `round(len · out/in)`).
pub fn resample_signal(x: &[f32], rate_in: u32, rate_out: u32) -> Result<Vec<f32>, EngineError> {
    let mut r = StreamResampler::new(rate_in, rate_out, 1)?;
    let mut out = vec![Vec::new()];
    r.push(&[x], &mut out);
    r.finish(&mut out);
    Ok(out.pop().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_lengths() {
        for (a, b, n) in [
            (48_000, 44_100, 12_345),
            (8000, 48_000, 999),
            (44_100, 16_000, 5),
            (16_000, 16_000, 77),
        ] {
            let x = vec![0.1f32; n];
            let y = resample_signal(&x, a, b).unwrap();
            let want = (n as u64 * b as u64 + a as u64 / 2) / a as u64;
            assert_eq!(y.len() as u64, want, "{a}->{b} n={n}");
        }
    }

    #[test]
    fn node_refuses_realtime_use() {
        let e = TYPE
            .build(&[("rate".into(), "16000".into())])
            .err()
            .expect("must fail");
        assert!(e.to_string().contains("stream stage"), "{e}");
    }
}
