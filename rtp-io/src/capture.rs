//! Capture files as a source of UDP datagrams (pcap or pcapng, auto-detected).
//!
//! # What
//! [`CaptureReader`] opens a pcap or pcapng stream and yields the UDP datagrams in it with their capture
//! (arrival) times and addresses; frames that are not UDP, IP fragments and undecodable frames are
//! counted in [`CaptureStats`] and skipped.
//!
//! # How
//! The first four bytes select the format (pcap magic in either byte order, or the pcapng Section
//! Header Block type); frames are then decoded by [`crate::decode_frame`].
//!
//! # Real-time safety
//! File driver for offline decoding and tests; not for RT threads.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::capture_link::{decode_frame, FrameKind, UdpDatagram};
use crate::error::RtpError;
use crate::pcap_file::{read_full, CapturedFrame, PcapReader};
use crate::pcapng_file::PcapngReader;

/// Counts of frames a [`CaptureReader`] did not return as UDP datagrams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CaptureStats {
    /// Frames read in total.
    pub frames: u64,
    /// UDP datagrams returned.
    pub udp: u64,
    /// IPv4/IPv6 fragments skipped (not reassembled).
    pub fragments: u64,
    /// Non-UDP frames skipped (TCP, ARP, ICMP, …).
    pub not_udp: u64,
    /// Frames whose headers were truncated or malformed (e.g. cut by the snaplen), skipped.
    pub malformed: u64,
}

#[derive(Debug)]
enum Inner<R> {
    Pcap(PcapReader<R>),
    Pcapng(PcapngReader<R>),
}

/// Reads UDP datagrams from a pcap or pcapng stream.
#[derive(Debug)]
pub struct CaptureReader<R> {
    inner: Inner<R>,
    stats: CaptureStats,
}

impl CaptureReader<BufReader<File>> {
    /// Opens a capture file.
    ///
    /// # Errors
    /// [`RtpError::Io`] when the file cannot be opened, or the errors of [`CaptureReader::new`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RtpError> {
        let f = File::open(path).map_err(|e| RtpError::io("opening a capture file", &e))?;
        Self::new(BufReader::new(f))
    }
}

impl<R: Read> CaptureReader<R> {
    /// Detects the format and reads the file header.
    ///
    /// # Errors
    /// [`RtpError::BadVersion`] for an unknown format, [`RtpError::Truncated`]/[`RtpError::Io`].
    pub fn new(mut r: R) -> Result<Self, RtpError> {
        let mut t = [0u8; 4];
        if !read_full(&mut r, &mut t, "capture file header")? {
            return Err(RtpError::truncated("capture file header", 4, 0));
        }
        let inner = if u32::from_le_bytes(t) == 0x0a0d_0d0a {
            Inner::Pcapng(PcapngReader::after_type(r, t)?)
        } else {
            let mut h = [0u8; 24];
            h[..4].copy_from_slice(&t);
            if !read_full(&mut r, &mut h[4..], "pcap file header")? {
                return Err(RtpError::truncated("pcap file header", 24, 4));
            }
            Inner::Pcap(PcapReader::from_header(r, h)?)
        };
        Ok(Self {
            inner,
            stats: CaptureStats::default(),
        })
    }

    /// The next captured frame of any kind, or `None` at the end.
    ///
    /// # Errors
    /// Errors of the underlying file reader (the file structure itself is broken).
    pub fn next_frame(&mut self) -> Result<Option<CapturedFrame<'_>>, RtpError> {
        match &mut self.inner {
            Inner::Pcap(r) => r.next_frame(),
            Inner::Pcapng(r) => r.next_frame(),
        }
    }

    /// The next UDP datagram, or `None` at the end; other frames are skipped and counted.
    ///
    /// # Errors
    /// Only errors of the file structure (truncated file, I/O); a malformed frame is counted, not an error.
    pub fn next_udp(&mut self) -> Result<Option<UdpDatagram<'_>>, RtpError> {
        loop {
            let more = match &mut self.inner {
                Inner::Pcap(r) => r.advance()?,
                Inner::Pcapng(r) => r.advance()?,
            };
            if !more {
                return Ok(None);
            }
            self.stats.frames += 1;
            let frame = match &self.inner {
                Inner::Pcap(r) => r.last_frame(),
                Inner::Pcapng(r) => r.last_frame(),
            };
            match decode_frame(frame.linktype, frame.data) {
                Ok(FrameKind::Udp(_)) => break,
                Ok(FrameKind::Fragment) => self.stats.fragments += 1,
                Ok(FrameKind::NotUdp) => self.stats.not_udp += 1,
                Err(_) => self.stats.malformed += 1,
            }
        }
        self.stats.udp += 1;
        let frame = match &self.inner {
            Inner::Pcap(r) => r.last_frame(),
            Inner::Pcapng(r) => r.last_frame(),
        };
        match decode_frame(frame.linktype, frame.data) {
            Ok(FrameKind::Udp(mut d)) => {
                d.time_ns = frame.time_ns;
                Ok(Some(d))
            }
            // Decoding is a pure function of the same bytes, so it cannot differ from the loop's result.
            _ => Err(RtpError::malformed(
                "capture frame",
                "frame decoded differently twice",
            )),
        }
    }

    /// Counts of what was read so far.
    pub fn stats(&self) -> CaptureStats {
        self.stats
    }
}
