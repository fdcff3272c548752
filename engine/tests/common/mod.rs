//! Small processors used by the engine's behaviour tests.
#![allow(dead_code)]

use tutti_engine::{EngineError, Inputs, Outputs, ParamInfo, Processor, Smoothed, StreamConfig};

/// Copies input 0 to output 0.
pub struct Pass;

impl Processor for Pass {
    fn name(&self) -> &'static str {
        "pass"
    }
    fn prepare(&mut self, _cfg: &StreamConfig) -> Result<(), EngineError> {
        Ok(())
    }
    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        outputs.port(0).copy_from(&inputs.port(0));
    }
    fn reset(&mut self) {}
}

const GAIN_PARAMS: &[ParamInfo] = &[ParamInfo::new("gain", "", 0.0, 4.0, 1.0, "linear gain")];

/// Multiplies by a smoothed linear gain (parameter `gain`, 0..=4, 5 ms ramp).
pub struct Gain {
    g: Smoothed,
    init: f32,
}

impl Gain {
    pub fn new(g: f32) -> Self {
        Self {
            g: Smoothed::new(g, 1),
            init: g,
        }
    }
}

impl Processor for Gain {
    fn name(&self) -> &'static str {
        "gain"
    }
    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.g = Smoothed::with_time(self.init, 5.0, cfg.sample_rate);
        Ok(())
    }
    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let i = inputs.port(0);
        let mut o = outputs.port(0);
        let frames = i.frames();
        for c in 0..i.channels() {
            let mut g = self.g;
            let (src, dst) = (i.channel(c), o.channel_mut(c));
            for k in 0..frames {
                dst[k] = src[k] * g.next();
            }
        }
        self.g.advance(frames as u32);
    }
    fn reset(&mut self) {}
    fn params(&self) -> &'static [ParamInfo] {
        GAIN_PARAMS
    }
    fn set_param(&mut self, index: usize, value: f32) {
        if index == 0 {
            self.g.set_target(value);
        }
    }
}

/// Delays by `n` frames (a latency of `n`); its delay line is state that must survive edits.
pub struct Delay {
    n: usize,
    line: Vec<Vec<f32>>,
    pos: usize,
}

impl Delay {
    pub fn new(n: usize) -> Self {
        Self {
            n,
            line: Vec::new(),
            pos: 0,
        }
    }
}

impl Processor for Delay {
    fn name(&self) -> &'static str {
        "delay"
    }
    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.line = vec![vec![0.0; self.n.max(1)]; cfg.channels];
        self.pos = 0;
        Ok(())
    }
    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let i = inputs.port(0);
        let mut o = outputs.port(0);
        if self.n == 0 {
            o.copy_from(&i);
            return;
        }
        let mut pos = self.pos;
        for c in 0..i.channels() {
            pos = self.pos;
            let line = &mut self.line[c];
            let (src, dst) = (i.channel(c), o.channel_mut(c));
            for k in 0..src.len() {
                dst[k] = line[pos];
                line[pos] = src[k];
                pos = (pos + 1) % self.n;
            }
        }
        self.pos = pos;
    }
    fn reset(&mut self) {
        self.line.iter_mut().for_each(|l| l.fill(0.0));
    }
    fn latency(&self) -> usize {
        self.n
    }
}

/// Sums its two inputs.
pub struct Sum;

impl Processor for Sum {
    fn name(&self) -> &'static str {
        "sum"
    }
    fn num_inputs(&self) -> usize {
        2
    }
    fn prepare(&mut self, _cfg: &StreamConfig) -> Result<(), EngineError> {
        Ok(())
    }
    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let (a, b) = (inputs.port(0), inputs.port(1));
        let mut o = outputs.port(0);
        for ((d, x), y) in o.as_mut_slice().iter_mut().zip(a.as_slice()).zip(b.as_slice()) {
            *d = x + y;
        }
    }
    fn reset(&mut self) {}
}

/// Mixes any number of channels down to mono.
pub struct Downmix;

impl Processor for Downmix {
    fn name(&self) -> &'static str {
        "downmix"
    }
    fn output_channels(&self, _port: usize, _cfg: &StreamConfig) -> usize {
        1
    }
    fn prepare(&mut self, _cfg: &StreamConfig) -> Result<(), EngineError> {
        Ok(())
    }
    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let i = inputs.port(0);
        let mut o = outputs.port(0);
        let n = i.channels() as f32;
        let out = o.channel_mut(0);
        out.fill(0.0);
        for c in 0..i.channels() {
            for (d, s) in out.iter_mut().zip(i.channel(c)) {
                *d += s / n;
            }
        }
    }
    fn reset(&mut self) {}
}

/// A sine generator (no inputs): amplitude 0.5, `hz` Hz.
pub struct Sine {
    hz: f64,
    phase: f64,
    step: f64,
}

impl Sine {
    pub fn new(hz: f64) -> Self {
        Self {
            hz,
            phase: 0.0,
            step: 0.0,
        }
    }
}

impl Processor for Sine {
    fn name(&self) -> &'static str {
        "sine"
    }
    fn num_inputs(&self) -> usize {
        0
    }
    fn prepare(&mut self, cfg: &StreamConfig) -> Result<(), EngineError> {
        self.step = std::f64::consts::TAU * self.hz / f64::from(cfg.sample_rate);
        Ok(())
    }
    fn process(&mut self, _inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let mut o = outputs.port(0);
        let ch = o.channels();
        let frames = o.frames();
        let start = self.phase;
        for c in 0..ch {
            let mut ph = start;
            for d in o.channel_mut(c) {
                *d = (0.5 * ph.sin()) as f32;
                ph += self.step;
            }
        }
        self.phase = (start + self.step * frames as f64) % std::f64::consts::TAU;
    }
    fn reset(&mut self) {
        self.phase = 0.0;
    }
}

/// A node that (wrongly) allocates in `process`: the zero-allocation checks must catch it.
pub struct Allocating;

impl Processor for Allocating {
    fn name(&self) -> &'static str {
        "allocating"
    }
    fn prepare(&mut self, _cfg: &StreamConfig) -> Result<(), EngineError> {
        Ok(())
    }
    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        let tmp: Vec<f32> = inputs.port(0).as_slice().to_vec();
        outputs
            .port(0)
            .as_mut_slice()
            .copy_from_slice(std::hint::black_box(&tmp));
    }
    fn reset(&mut self) {}
}

/// A processor whose `prepare` fails.
pub struct Refuses;

impl Processor for Refuses {
    fn name(&self) -> &'static str {
        "refuses"
    }
    fn prepare(&mut self, _cfg: &StreamConfig) -> Result<(), EngineError> {
        Err(EngineError::Prepare {
            node: "refuses".into(),
            detail: "never works".into(),
        })
    }
    fn process(&mut self, _inputs: &Inputs<'_>, _outputs: &mut Outputs<'_>) {}
    fn reset(&mut self) {}
}

/// A mono-only processor (input 0 expects exactly one channel).
pub struct MonoOnly;

impl Processor for MonoOnly {
    fn name(&self) -> &'static str {
        "mono_only"
    }
    fn input_channels(&self, _port: usize, _cfg: &StreamConfig) -> usize {
        1
    }
    fn output_channels(&self, _port: usize, _cfg: &StreamConfig) -> usize {
        1
    }
    fn prepare(&mut self, _cfg: &StreamConfig) -> Result<(), EngineError> {
        Ok(())
    }
    fn process(&mut self, inputs: &Inputs<'_>, outputs: &mut Outputs<'_>) {
        outputs.port(0).copy_from(&inputs.port(0));
    }
    fn reset(&mut self) {}
}
