//! The [`Encoder`] and [`Decoder`] traits every codec implements.
//!
//! # What
//! A codec turns frames of 16-bit PCM at its *audio rate* into RTP payloads and back. The RTP clock rate
//! may differ from the audio rate (G.722: audio 16 kHz, clock 8 kHz; Opus: clock always 48 kHz).
//!
//! # How
//! All state is allocated when the codec is constructed; `encode`, `decode` and `conceal` write into
//! caller-provided buffers and return how much they wrote.
//!
//! # Real-time safety
//! `encode`, `decode`, `decode_fec`, `conceal` and `reset` never allocate, lock, log or make system calls.

use crate::CodecError;

/// Static facts about a codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecInfo {
    /// Name used on the command line (`pcmu`, `pcma`, `g722`, `opus`, …).
    pub name: &'static str,
    /// RTP encoding name as in SDP `a=rtpmap` (e.g. `PCMU`, `G722`, `opus`).
    pub rtp_name: &'static str,
    /// Static RTP payload type, if the codec has one (0 PCMU, 8 PCMA, 9 G722).
    pub static_payload_type: Option<u8>,
    /// RTP clock rate in Hz (as in SDP: 8000 for G.722, 48000 for Opus).
    pub clock_rate: u32,
    /// Rate of the PCM the codec consumes and produces, in Hz.
    pub audio_rate: u32,
    /// Channels of the PCM.
    pub channels: usize,
}

/// Encodes PCM frames into RTP payloads.
pub trait Encoder: Send {
    /// Facts about this codec instance.
    fn info(&self) -> CodecInfo;

    /// Samples per channel in one frame this encoder accepts (for sample-based codecs such as G.711 any
    /// multiple of this is accepted; for Opus exactly one of its frame sizes).
    fn frame_samples(&self) -> usize;

    /// Largest payload that encoding `samples` samples per channel can produce.
    fn max_payload_len(&self, samples: usize) -> usize;

    /// Encodes interleaved `pcm` into `out`, returning the payload length.
    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError>;

    /// Clears the encoder state.
    fn reset(&mut self);

    /// Adapts the encoder to the channel (rate adaptation, RFC 5104 / RFC 7587 §3.3): target bitrate in
    /// bit/s, in-band FEC, expected packet loss in %. Returns whether the codec adapts; fixed-rate codecs
    /// (G.711, G.722, L16) ignore the call and return `Ok(false)`. Real-time safe.
    ///
    /// # Errors
    /// What the codec library reports for a setting it refuses.
    fn adapt(&mut self, _bitrate_bps: u32, _fec: bool, _expected_loss_pct: u8) -> Result<bool, CodecError> {
        Ok(false)
    }
}

/// Decodes RTP payloads into PCM frames.
pub trait Decoder: Send {
    /// Facts about this codec instance.
    fn info(&self) -> CodecInfo;

    /// Decodes `payload` into interleaved `out`, returning samples written per channel.
    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError>;

    /// Fills `out` (interleaved, `out.len() / channels` samples per channel) with a concealment of a
    /// missing packet (the codec's packet-loss concealment), returning samples written per channel.
    fn conceal(&mut self, out: &mut [i16]) -> Result<usize, CodecError>;

    /// Recovers a lost packet from in-band forward error correction carried in the *next* packet's
    /// `payload`, filling `out`. Codecs without FEC conceal instead (the default).
    fn decode_fec(&mut self, _payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        self.conceal(out)
    }

    /// Number of samples per channel that `payload` decodes to, without decoding it.
    fn payload_samples(&self, payload: &[u8]) -> Result<usize, CodecError>;

    /// Fixed delay, in samples per channel at the audio rate, that this decoder adds between a payload
    /// and its sound (e.g. the 30 samples of G.711 Appendix I concealment). Zero for most codecs.
    fn delay_samples(&self) -> usize {
        0
    }

    /// Clears the decoder state.
    fn reset(&mut self);
}
