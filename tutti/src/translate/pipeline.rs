//! The audio path of a translator: decoder/PLC → 10 ms blocks → resampler → chain → output frames →
//! encoder, with the delay of the resampler and chain taken out so that output sample `i` of a talkspurt
//! is input sample `i` (the talker's timing is kept to the sample).
//!
//! # Real-time safety
//! Every buffer is allocated in [`Pipeline::new`]; `decode`, `conceal`, `silence` and `end_talkspurt`
//! allocate nothing.

use tutti_codecs::{CodecInfo, CodecSpec, Decoder, Encoder};
use tutti_engine::Graph;

use super::config::{TranslateError, TranslatorConfig};
use crate::conference::dsp::{from_i16, to_i16};
use crate::conference::{FrameResampler, MTU};

/// One encoded output frame of the current talkspurt.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame<'a> {
    /// The codec payload (empty when the encoder failed).
    pub payload: &'a [u8],
    /// Index of the frame in its talkspurt (0 = the first, which carries the marker bit).
    pub index: u32,
}

/// The audio path (see the module docs).
pub(crate) struct Pipeline {
    decoder: Box<dyn Decoder>,
    pub(crate) in_info: CodecInfo,
    pub(crate) out_info: CodecInfo,
    in_block: usize,
    /// Opus PLC works in multiples of 2.5 ms.
    conceal_unit: usize,
    dec: Vec<i16>,
    in_fifo: Vec<f32>,
    in_n: usize,
    up: Option<FrameResampler>,
    chain: Option<Graph>,
    chain_out: Vec<f32>,
    packer: Packer,
    /// Delay of resampler + chain in output samples.
    pub(crate) latency: usize,
    skip: usize,
    active: bool,
    seg_in_samples: u64,
}

/// Output side: frames of the packet time, encoded.
struct Packer {
    encoder: Box<dyn Encoder>,
    fifo: Vec<f32>,
    n: usize,
    frame: usize,
    pcm: Vec<i16>,
    payload: Vec<u8>,
    /// Output samples of this talkspurt (after the skipped delay).
    samples: u64,
    /// Frames sent in this talkspurt.
    frames: u32,
    /// Output samples beyond this count are dropped (the silence pushed through at the end of a talkspurt).
    limit: u64,
}

impl Packer {
    fn push(&mut self, y: &[f32], sink: &mut dyn FnMut(Frame<'_>)) {
        let room = self.limit.saturating_sub(self.samples).min(y.len() as u64) as usize;
        let y = &y[..room];
        let mut pos = 0;
        while pos < y.len() {
            let m = (y.len() - pos).min(self.frame - self.n);
            self.fifo[self.n..self.n + m].copy_from_slice(&y[pos..pos + m]);
            self.n += m;
            pos += m;
            self.samples += m as u64;
            if self.n == self.frame {
                self.emit(sink);
            }
        }
    }

    fn emit(&mut self, sink: &mut dyn FnMut(Frame<'_>)) {
        to_i16(&self.fifo[..self.frame], &mut self.pcm);
        self.n = 0;
        let n = self.encoder.encode(&self.pcm, &mut self.payload).unwrap_or(0);
        let index = self.frames;
        self.frames += 1;
        sink(Frame {
            payload: &self.payload[..n],
            index,
        });
    }
}

impl Pipeline {
    /// Sets the output encoder's bitrate, FEC and expected loss (rate adaptation); false when the output
    /// codec has a fixed rate or refused.
    pub(crate) fn adapt(&mut self, d: tutti_rtp::RateDecision) -> bool {
        self.packer
            .encoder
            .adapt(d.bitrate_bps, d.fec, d.expected_loss_pct)
            .unwrap_or(false)
    }
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("in", &self.in_info.name)
            .field("out", &self.out_info.name)
            .field("latency", &self.latency)
            .finish_non_exhaustive()
    }
}

/// The codec as the translator runs it: mono (an Opus stream is decoded and encoded as mono).
pub(crate) fn mono(spec: CodecSpec) -> CodecSpec {
    match spec {
        CodecSpec::Opus {
            sample_rate, bitrate, ..
        } => CodecSpec::Opus {
            sample_rate,
            channels: 1,
            bitrate,
        },
        other => other,
    }
}

impl Pipeline {
    /// Builds the path for a configuration (allocates everything).
    pub(crate) fn new(cfg: &TranslatorConfig) -> Result<Self, TranslateError> {
        let codec = |e: tutti_codecs::CodecError| TranslateError::Codec {
            detail: e.to_string(),
        };
        let (input, output) = (mono(cfg.input), mono(cfg.output));
        let decoder = input.decoder().map_err(codec)?;
        let encoder = output.encoder().map_err(codec)?;
        let (in_info, out_info) = (decoder.info(), encoder.info());
        let in_block = in_info.audio_rate as usize / 100;
        let out_block = out_info.audio_rate as usize / 100;
        let out_frame = out_info.audio_rate as usize * cfg.ptime_ms as usize / 1000;
        let up = if in_info.audio_rate == out_info.audio_rate {
            None
        } else {
            Some(
                FrameResampler::new(in_info.audio_rate, out_info.audio_rate, in_block).map_err(|detail| {
                    TranslateError::Config {
                        field: "rates",
                        detail,
                    }
                })?,
            )
        };
        let spec = cfg.chain.as_deref().unwrap_or("").trim();
        let chain = if spec.is_empty() {
            None
        } else {
            let nodes = crate::chain::parse(spec).map_err(|e| TranslateError::Chain {
                detail: e.to_string(),
            })?;
            let types = crate::registry::node_types();
            let (g, far) = crate::offline::chain_graph(&nodes, &types, out_info.audio_rate, 1, 10.0)
                .map_err(|detail| TranslateError::Chain { detail })?;
            if far {
                return Err(TranslateError::Chain {
                    detail: format!(
                        "'{spec}': nodes with a far-end input (aec) have no far end in a translator"
                    ),
                });
            }
            Some(g)
        };
        let latency = up.as_ref().map_or(0, FrameResampler::delay) + chain.as_ref().map_or(0, Graph::latency);
        // The longest packet (120 ms) at the input rate.
        let dec_len = in_info.audio_rate as usize * 120 / 1000;
        Ok(Self {
            decoder,
            in_info,
            out_info,
            in_block,
            conceal_unit: if matches!(input, CodecSpec::Opus { .. }) {
                in_info.audio_rate as usize / 400
            } else {
                1
            },
            dec: vec![0; dec_len],
            in_fifo: vec![0.0; in_block],
            in_n: 0,
            up,
            chain,
            chain_out: vec![0.0; out_block],
            packer: Packer {
                encoder,
                fifo: vec![0.0; out_frame],
                n: 0,
                frame: out_frame,
                pcm: vec![0; out_frame],
                payload: vec![0; MTU],
                samples: 0,
                frames: 0,
                limit: u64::MAX,
            },
            latency,
            skip: latency,
            active: false,
            seg_in_samples: 0,
        })
    }

    /// Whether a talkspurt is running.
    pub(crate) fn is_active(&self) -> bool {
        self.active
    }

    /// Starts a talkspurt (the resampler starts from silence; its and the chain's delay are skipped).
    pub(crate) fn start_talkspurt(&mut self) {
        if let Some(r) = self.up.as_mut() {
            r.reset();
        }
        self.in_n = 0;
        self.packer.n = 0;
        self.packer.samples = 0;
        self.packer.frames = 0;
        self.skip = self.latency;
        self.active = true;
        self.seg_in_samples = 0;
    }

    /// Ends the talkspurt: pushes silence through until every input sample is out, pads the last frame
    /// with silence and sends it.
    pub(crate) fn end_talkspurt(&mut self, sink: &mut dyn FnMut(Frame<'_>)) {
        if !self.active {
            return;
        }
        let target =
            self.seg_in_samples * u64::from(self.out_info.audio_rate) / u64::from(self.in_info.audio_rate);
        self.packer.limit = target;
        while self.packer.samples < target {
            self.in_fifo[self.in_n..].fill(0.0);
            self.in_n = self.in_block;
            self.process_block(sink);
        }
        let p = &mut self.packer;
        p.limit = u64::MAX;
        if p.n > 0 {
            p.fifo[p.n..].fill(0.0);
            p.n = p.frame;
            p.emit(sink);
        }
        self.active = false;
    }

    /// Samples per channel `payload` decodes to, when the payload is valid and fits the buffer.
    pub(crate) fn payload_samples(&self, payload: &[u8]) -> Option<usize> {
        self.decoder
            .payload_samples(payload)
            .ok()
            .filter(|&n| n > 0 && n <= self.dec.len())
    }

    /// Decodes a payload into the talkspurt; `Err` when the decoder failed (nothing fed).
    pub(crate) fn decode(&mut self, payload: &[u8], sink: &mut dyn FnMut(Frame<'_>)) -> Result<usize, ()> {
        let n = self.decoder.decode(payload, &mut self.dec).map_err(|_| ())?;
        let n = n.min(self.dec.len());
        self.feed_dec(n, sink);
        Ok(n)
    }

    /// Feeds `n` samples of the codec's concealment (in chunks of at most 10 ms).
    pub(crate) fn conceal(&mut self, mut n: usize, sink: &mut dyn FnMut(Frame<'_>)) {
        while n > 0 {
            let m = n.min(self.in_block) / self.conceal_unit * self.conceal_unit;
            if m == 0 {
                self.silence(n, sink);
                return;
            }
            let got = self.decoder.conceal(&mut self.dec[..m]).unwrap_or(0);
            if got < m {
                self.dec[got..m].fill(0);
            }
            self.feed_dec(m, sink);
            n -= m;
        }
    }

    /// Feeds `n` samples of silence.
    pub(crate) fn silence(&mut self, n: usize, sink: &mut dyn FnMut(Frame<'_>)) {
        let mut left = n;
        while left > 0 {
            let m = left.min(self.in_block - self.in_n);
            self.in_fifo[self.in_n..self.in_n + m].fill(0.0);
            self.in_n += m;
            left -= m;
            self.seg_in_samples += m as u64;
            if self.in_n == self.in_block {
                self.process_block(sink);
            }
        }
    }

    fn feed_dec(&mut self, n: usize, sink: &mut dyn FnMut(Frame<'_>)) {
        let mut pos = 0;
        while pos < n {
            let m = (n - pos).min(self.in_block - self.in_n);
            from_i16(
                &self.dec[pos..pos + m],
                &mut self.in_fifo[self.in_n..self.in_n + m],
            );
            self.in_n += m;
            pos += m;
            self.seg_in_samples += m as u64;
            if self.in_n == self.in_block {
                self.process_block(sink);
            }
        }
    }

    /// One 10 ms block: resampler, chain, latency skip, output frames.
    fn process_block(&mut self, sink: &mut dyn FnMut(Frame<'_>)) {
        self.in_n = 0;
        let y: &[f32] = match self.up.as_mut() {
            Some(r) => r.process(&self.in_fifo),
            None => &self.in_fifo,
        };
        let y: &[f32] = match self.chain.as_mut() {
            Some(g) => {
                g.process(&[y], &mut [&mut self.chain_out]);
                &self.chain_out
            }
            None => y,
        };
        let skip = self.skip.min(y.len());
        self.skip -= skip;
        self.packer.push(&y[skip..], sink);
    }
}
