//! Ogg Opus files (RFC 7845): `OpusHead`, `OpusTags`, pre-skip and granule positions.
//!
//! # What
//! [`OggOpusWriter`] turns Opus packets into an `.opus` file; [`read_ogg_opus`] parses one into its
//! headers and packets and [`OggOpusFile::decode`] decodes it to 48 kHz PCM exactly as RFC 7845 §4
//! prescribes (drop `pre_skip` samples at the start, trim the end to the last granule position, apply
//! the output gain).
//!
//! # How
//! RFC 7845 §5.1 `OpusHead` (magic, version 1, channels, pre-skip, input rate, Q7.8 output gain, mapping
//! family 0 for mono/stereo), §5.2 `OpusTags` (vendor + `KEY=value` comments), each on its own page;
//! audio packets follow on fresh pages. Granule positions count 48 kHz samples including the pre-skip;
//! the last page's granule marks where the audio ends (§4.4).
//!
//! # Real-time safety
//! File-side code (allocates); not for the real-time path.

use crate::ogg::{OggPacketReader, OggPageWriter};
use crate::{opus_version, CodecError, Decoder, Encoder, OpusDecoder, OpusEncoder, OpusEncoderConfig};

/// The `OpusHead` identification header (RFC 7845 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusHead {
    /// Output channels (1 or 2 with mapping family 0).
    pub channels: u8,
    /// 48 kHz samples to discard at the start (encoder look-ahead).
    pub pre_skip: u16,
    /// Rate of the original input (informational), 0 if unknown.
    pub input_sample_rate: u32,
    /// Output gain in dB, Q7.8.
    pub output_gain_q8: i16,
    /// Channel mapping family (only 0 is supported).
    pub mapping_family: u8,
}

impl OpusHead {
    /// Serialises the header packet.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(19);
        b.extend_from_slice(b"OpusHead");
        b.push(1);
        b.push(self.channels);
        b.extend_from_slice(&self.pre_skip.to_le_bytes());
        b.extend_from_slice(&self.input_sample_rate.to_le_bytes());
        b.extend_from_slice(&self.output_gain_q8.to_le_bytes());
        b.push(self.mapping_family);
        b
    }

    /// Parses the header packet.
    pub fn parse(p: &[u8]) -> Result<Self, CodecError> {
        let err = |detail, offset| CodecError::Ogg { detail, offset };
        if p.len() < 19 || &p[..8] != b"OpusHead" {
            return Err(err("first packet is not an OpusHead", 0));
        }
        if p[8] >> 4 != 0 {
            return Err(err("unsupported OpusHead major version", 8));
        }
        let head = Self {
            channels: p[9],
            pre_skip: u16::from_le_bytes([p[10], p[11]]),
            input_sample_rate: u32::from_le_bytes([p[12], p[13], p[14], p[15]]),
            output_gain_q8: i16::from_le_bytes([p[16], p[17]]),
            mapping_family: p[18],
        };
        if head.mapping_family != 0 || !(1..=2).contains(&head.channels) {
            return Err(err(
                "only channel mapping family 0 (mono/stereo) is supported",
                18,
            ));
        }
        Ok(head)
    }
}

/// The `OpusTags` comment header (RFC 7845 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpusTags {
    /// Vendor string (the encoder library).
    pub vendor: String,
    /// `KEY=value` comments.
    pub comments: Vec<String>,
}

impl OpusTags {
    /// Serialises the header packet.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"OpusTags");
        b.extend_from_slice(&(self.vendor.len() as u32).to_le_bytes());
        b.extend_from_slice(self.vendor.as_bytes());
        b.extend_from_slice(&(self.comments.len() as u32).to_le_bytes());
        for c in &self.comments {
            b.extend_from_slice(&(c.len() as u32).to_le_bytes());
            b.extend_from_slice(c.as_bytes());
        }
        b
    }

    /// Parses the header packet.
    pub fn parse(p: &[u8]) -> Result<Self, CodecError> {
        let err = |detail, offset| CodecError::Ogg { detail, offset };
        if p.len() < 16 || &p[..8] != b"OpusTags" {
            return Err(err("second packet is not OpusTags", 0));
        }
        let mut pos = 8;
        let take_str = |pos: &mut usize| -> Result<String, CodecError> {
            let len_bytes = p.get(*pos..*pos + 4).ok_or(err("truncated OpusTags", *pos))?;
            let len = u32::from_le_bytes(len_bytes.try_into().expect("slice of 4 bytes")) as usize;
            let s = p
                .get(*pos + 4..(*pos + 4).saturating_add(len))
                .ok_or(err("truncated OpusTags string", *pos))?;
            *pos += 4 + len;
            Ok(String::from_utf8_lossy(s).into_owned())
        };
        let vendor = take_str(&mut pos)?;
        let n_bytes = p
            .get(pos..pos + 4)
            .ok_or(err("truncated OpusTags comment count", pos))?;
        let n = u32::from_le_bytes(n_bytes.try_into().expect("slice of 4 bytes")) as usize;
        pos += 4;
        let mut comments = Vec::new();
        for _ in 0..n {
            comments.push(take_str(&mut pos)?);
        }
        Ok(Self { vendor, comments })
    }
}

/// Writes an Ogg Opus file into memory.
#[derive(Debug)]
pub struct OggOpusWriter {
    pages: OggPageWriter,
    pre_skip: u16,
    granule: i64,
    pending: Option<Vec<u8>>,
    packets: usize,
}

impl OggOpusWriter {
    /// Starts a file with stream `serial` and the two header pages.
    pub fn new(serial: u32, head: OpusHead, tags: &OpusTags) -> Result<Self, CodecError> {
        let mut pages = OggPageWriter::new(serial);
        pages.add_packet(&head.to_bytes(), 0, true)?;
        pages.add_packet(&tags.to_bytes(), 0, true)?;
        Ok(Self {
            pages,
            pre_skip: head.pre_skip,
            granule: 0,
            pending: None,
            packets: 0,
        })
    }

    /// Appends a packet of `samples_48k` samples per channel (its duration in 48 kHz units).
    pub fn write_packet(&mut self, packet: &[u8], samples_48k: u32) -> Result<(), CodecError> {
        if let Some(p) = self.pending.take() {
            // Roughly one page per second of audio (50 packets of 20 ms).
            self.packets += 1;
            self.pages.add_packet(&p, self.granule, self.packets % 50 == 0)?;
        }
        self.granule += i64::from(samples_48k);
        self.pending = Some(packet.to_vec());
        Ok(())
    }

    /// Ends the file. `total_samples_48k` (the real input length at 48 kHz) trims the padding of the
    /// last packet through the final granule position (RFC 7845 §4.4).
    pub fn finish(mut self, total_samples_48k: Option<u64>) -> Result<Vec<u8>, CodecError> {
        if let Some(p) = self.pending.take() {
            let end = match total_samples_48k {
                Some(t) => (i64::from(self.pre_skip) + t as i64).min(self.granule),
                None => self.granule,
            };
            self.pages.add_packet(&p, end, false)?;
        }
        Ok(self.pages.finish())
    }
}

/// A parsed Ogg Opus file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OggOpusFile {
    /// Identification header.
    pub head: OpusHead,
    /// Comment header.
    pub tags: OpusTags,
    /// Audio packets in order.
    pub packets: Vec<Vec<u8>>,
    /// Granule position of the last page (end of audio, 48 kHz units, including pre-skip).
    pub end_granule: i64,
}

/// Parses an Ogg Opus file (first logical stream), checking page CRCs and both headers.
pub fn read_ogg_opus(bytes: &[u8]) -> Result<OggOpusFile, CodecError> {
    let mut packets = OggPacketReader::read(bytes)?.into_iter();
    let head = OpusHead::parse(
        &packets
            .next()
            .ok_or(CodecError::Ogg {
                detail: "no packets",
                offset: 0,
            })?
            .data,
    )?;
    let tags = OpusTags::parse(
        &packets
            .next()
            .ok_or(CodecError::Ogg {
                detail: "no OpusTags",
                offset: 0,
            })?
            .data,
    )?;
    let mut end_granule = 0;
    let mut audio = Vec::new();
    for p in packets {
        if p.granule >= 0 {
            end_granule = p.granule;
        }
        audio.push(p.data);
    }
    Ok(OggOpusFile {
        head,
        tags,
        packets: audio,
        end_granule,
    })
}

impl OggOpusFile {
    /// Decodes the whole file to interleaved 48 kHz PCM (`head.channels` channels), honouring pre-skip,
    /// end trimming and output gain.
    pub fn decode(&self) -> Result<Vec<i16>, CodecError> {
        let ch = usize::from(self.head.channels);
        let mut dec = OpusDecoder::new(48000, ch)?;
        let mut buf = vec![0i16; 5760 * ch];
        let mut pcm = Vec::new();
        for p in &self.packets {
            let n = dec.decode(p, &mut buf)?;
            pcm.extend_from_slice(&buf[..n * ch]);
        }
        let skip = (usize::from(self.head.pre_skip) * ch).min(pcm.len());
        pcm.drain(..skip);
        let total = (self.end_granule - i64::from(self.head.pre_skip)).max(0) as usize * ch;
        pcm.truncate(total);
        if self.head.output_gain_q8 != 0 {
            let g = 10f32.powf(f32::from(self.head.output_gain_q8) / (20.0 * 256.0));
            for s in &mut pcm {
                *s = (f32::from(*s) * g).round().clamp(-32768.0, 32767.0) as i16;
            }
        }
        Ok(pcm)
    }
}

/// Encodes interleaved `pcm` at `config.sample_rate` into a complete Ogg Opus file: pre-skip = the
/// encoder look-ahead (in 48 kHz units), the input padded with zeros so that its last sample leaves the
/// encoder, and the final granule trimmed to the input length.
pub fn encode_ogg_opus(pcm: &[i16], config: OpusEncoderConfig, serial: u32) -> Result<Vec<u8>, CodecError> {
    let ch = config.channels;
    let mut enc = OpusEncoder::new(config)?;
    let scale = (48000 / config.sample_rate) as usize;
    let lookahead = enc.lookahead();
    let head = OpusHead {
        channels: ch as u8,
        pre_skip: (lookahead * scale) as u16,
        input_sample_rate: config.sample_rate,
        output_gain_q8: 0,
        mapping_family: 0,
    };
    let tags = OpusTags {
        vendor: opus_version().to_string(),
        comments: vec!["ENCODER=tutti".to_string()],
    };
    let mut w = OggOpusWriter::new(serial, head, &tags)?;
    let frame = config.frame_samples;
    let frames_in = pcm.len() / ch;
    let total = (frames_in + lookahead).div_ceil(frame) * frame;
    let mut padded = pcm.to_vec();
    padded.resize(total * ch, 0);
    let mut buf = vec![0u8; enc.max_payload_len(frame)];
    for f in padded.chunks_exact(frame * ch) {
        let n = enc.encode(f, &mut buf)?;
        w.write_packet(&buf[..n], (frame * scale) as u32)?;
    }
    w.finish(Some((frames_in * scale) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let h = OpusHead {
            channels: 2,
            pre_skip: 312,
            input_sample_rate: 16000,
            output_gain_q8: -256,
            mapping_family: 0,
        };
        assert_eq!(OpusHead::parse(&h.to_bytes()).unwrap(), h);
        let t = OpusTags {
            vendor: "libopus 1.3.1".into(),
            comments: vec!["ENCODER=tutti".into()],
        };
        assert_eq!(OpusTags::parse(&t.to_bytes()).unwrap(), t);
        assert!(OpusTags::parse(b"OpusTags\xff\xff\xff\xff").is_err());
        assert!(OpusHead::parse(b"OpusHead").is_err());
    }
}
