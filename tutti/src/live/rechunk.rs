//! Re-chunking between a device's callback size and the engine's fixed block.
//!
//! # What
//! Audio devices call back with a number of frames of their choosing (it may change from call to call);
//! the engine processes fixed blocks of `block` frames. [`Rechunker::render`] fills one output callback
//! of any length: whenever its processed block is used up it pulls exactly one block of interleaved input
//! from the input source, de-interleaves it, runs the engine on it and hands the result out frame by
//! frame. Every input frame is processed once and every output frame comes from exactly one processed
//! frame, so nothing is lost or duplicated; the price is up to one block of extra latency.
//!
//! The far-end block (for nodes such as `aec`) is the previous output block: what was sent to the output
//! device just before the block being processed.
//!
//! # How
//! A classic FIFO adapter (the "block size adaptation" of e.g. JUCE/PortAudio buffer adapters): one
//! processed block is kept with a read position.
//!
//! # Real-time safety
//! [`Rechunker::render`] only copies between buffers allocated in [`Rechunker::new`]: no allocation, lock
//! or system call (proven by `tests/live_rt.rs` with the counting allocator).

/// Adapts arbitrary device callback sizes to fixed engine blocks (see the module docs).
#[derive(Debug, Clone)]
pub struct Rechunker {
    block: usize,
    in_ch: usize,
    out_ch: usize,
    dev_in_ch: usize,
    input: Vec<f32>,
    far: Vec<f32>,
    output: Vec<f32>,
    scratch: Vec<f32>,
    pos: usize,
}

impl Rechunker {
    /// A re-chunker for `block`-frame engine blocks with `in_ch` engine input channels, `out_ch` engine
    /// output channels and `dev_in_ch` interleaved channels in the input source. Allocates its buffers.
    pub fn new(block: usize, in_ch: usize, out_ch: usize, dev_in_ch: usize) -> Self {
        let block = block.max(1);
        let (in_ch, out_ch, dev_in_ch) = (in_ch.max(1), out_ch.max(1), dev_in_ch.max(1));
        Self {
            block,
            in_ch,
            out_ch,
            dev_in_ch,
            input: vec![0.0; in_ch * block],
            far: vec![0.0; in_ch * block],
            output: vec![0.0; out_ch * block],
            scratch: vec![0.0; dev_in_ch * block],
            pos: block,
        }
    }

    /// The engine block length in frames.
    pub fn block(&self) -> usize {
        self.block
    }

    /// Interleaved input samples pulled per engine block (`block × dev_in_ch`).
    pub fn pull_len(&self) -> usize {
        self.block * self.dev_in_ch
    }

    /// Processed frames waiting to be sent to the device.
    pub fn pending_frames(&self) -> usize {
        self.block - self.pos
    }

    /// Fills `out` (interleaved, `dev_out_ch` channels; engine output channel `c % out_ch` goes to device
    /// channel `c`).
    ///
    /// `pull(buf)` must fill `buf` (`pull_len()` interleaved samples, `dev_in_ch` channels) with the next
    /// input block and return `true`, or return `false` when not enough input is available (an underrun:
    /// the block is processed from silence). `process(input, far, output)` runs the engine on one block:
    /// `input` and `far` are planar with `in_ch` channels (`far` = the previous output block), `output` is
    /// planar with `out_ch` channels. Returns the number of underruns (`pull` returning `false`).
    /// Real-time safe.
    pub fn render<S, P>(&mut self, out: &mut [f32], dev_out_ch: usize, mut pull: S, mut process: P) -> u32
    where
        S: FnMut(&mut [f32]) -> bool,
        P: FnMut(&[f32], &[f32], &mut [f32]),
    {
        let dev_out_ch = dev_out_ch.max(1);
        let b = self.block;
        let mut underruns = 0;
        for frame in out.chunks_mut(dev_out_ch) {
            if self.pos == b {
                if pull(&mut self.scratch) {
                    for c in 0..self.in_ch {
                        let src = c.min(self.dev_in_ch - 1);
                        let dst = &mut self.input[c * b..(c + 1) * b];
                        for (f, d) in dst.iter_mut().enumerate() {
                            *d = self.scratch[f * self.dev_in_ch + src];
                        }
                    }
                } else {
                    underruns += 1;
                    self.input.fill(0.0);
                }
                // The far end is what the device is about to have played: the previous output block.
                for c in 0..self.in_ch {
                    let src = c % self.out_ch;
                    self.far[c * b..(c + 1) * b].copy_from_slice(&self.output[src * b..(src + 1) * b]);
                }
                process(&self.input, &self.far, &mut self.output);
                self.pos = 0;
            }
            for (c, s) in frame.iter_mut().enumerate() {
                *s = self.output[(c % self.out_ch) * b + self.pos];
            }
            self.pos += 1;
        }
        underruns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic xorshift generator (seeded) for callback sizes.
    fn sizes(seed: u64, n: usize, max: usize) -> Vec<usize> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % max as u64) as usize + 1
            })
            .collect()
    }

    /// Identity engine: every input sample comes out exactly once, in order, one block late at most.
    fn run_identity(block: usize, dev_in: usize, dev_out: usize, seed: u64) {
        let mut r = Rechunker::new(block, dev_in, dev_in, dev_in);
        let mut next_in = 0u32;
        let mut got: Vec<Vec<f32>> = vec![Vec::new(); dev_out];
        for n in sizes(seed, 400, 3 * block) {
            let mut out = vec![-1.0f32; n * dev_out];
            let u = r.render(
                &mut out,
                dev_out,
                |buf| {
                    for fr in buf.chunks_mut(dev_in) {
                        for (c, s) in fr.iter_mut().enumerate() {
                            *s = (next_in * 8 + c as u32) as f32;
                        }
                        next_in += 1;
                    }
                    true
                },
                |i, _far, o| o.copy_from_slice(i),
            );
            assert_eq!(u, 0);
            for fr in out.chunks(dev_out) {
                for (c, s) in fr.iter().enumerate() {
                    got[c].push(*s);
                }
            }
        }
        for (c, g) in got.iter().enumerate() {
            let src = (c % dev_in) as u32;
            for (k, s) in g.iter().enumerate() {
                assert_eq!(
                    *s,
                    (k as u32 * 8 + src) as f32,
                    "channel {c} frame {k}: lost or duplicated"
                );
            }
        }
        // Pulled input is never more than one block ahead of what was output.
        let out_frames = got[0].len();
        assert!(next_in as usize >= out_frames && next_in as usize - out_frames < block);
    }

    #[test]
    fn arbitrary_callback_sizes_lose_and_duplicate_nothing() {
        run_identity(480, 1, 1, 1);
        run_identity(480, 2, 2, 2);
        run_identity(441, 2, 2, 3);
        run_identity(64, 1, 2, 4);
        run_identity(1, 2, 2, 5);
    }

    #[test]
    fn underrun_processes_silence_and_is_counted() {
        let mut r = Rechunker::new(4, 1, 1, 1);
        let mut out = vec![9.0f32; 10];
        let u = r.render(&mut out, 1, |_| false, |i, _, o| o.copy_from_slice(i));
        assert_eq!(u, 3, "10 frames of 4-frame blocks need three blocks");
        assert!(out.iter().all(|&s| s == 0.0));
    }

    #[test]
    fn far_end_is_the_previous_output_block() {
        let mut r = Rechunker::new(3, 1, 1, 1);
        let mut k = 0.0f32;
        let mut fars: Vec<Vec<f32>> = Vec::new();
        let mut outs: Vec<Vec<f32>> = Vec::new();
        let mut out = vec![0.0f32; 9];
        r.render(
            &mut out,
            1,
            |b| {
                for s in b.iter_mut() {
                    k += 1.0;
                    *s = k;
                }
                true
            },
            |i, far, o| {
                fars.push(far.to_vec());
                for (d, s) in o.iter_mut().zip(i) {
                    *d = s * 2.0;
                }
                outs.push(o.to_vec());
            },
        );
        assert_eq!(fars[0], vec![0.0; 3]);
        assert_eq!(fars[1], outs[0]);
        assert_eq!(fars[2], outs[1]);
        assert_eq!(out, vec![2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0]);
    }
}
