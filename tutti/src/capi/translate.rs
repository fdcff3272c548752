//! The translator half of the C ABI: a sans-IO [`Translator`] behind an opaque `TuttiTranslator` handle.
//!
//! # What
//! One handle translates one RTP stream (RFC 7667 media translator): the host hands it the datagrams of
//! the sender (`TUTTI_SIDE_UPSTREAM`: RTP and RTCP) and of the far receiver (`TUTTI_SIDE_DOWNSTREAM`:
//! RTCP), calls `tutti_translator_timeout` when `tutti_translator_next_timeout` says, and after each call
//! drains `tutti_translator_poll_transmit`, which says which side and channel every datagram goes to.
//! Times are microseconds on the host's monotonic clock.
//!
//! # Real-time safety
//! `receive`, `timeout`, `poll_transmit` and `finish` allocate nothing (the translator's guarantee;
//! `tutti/tests/translate_rt.rs`); creating a translator and reading statistics allocate.
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

use std::ffi::c_char;
use std::time::Duration;

use super::error::{guard, EmbedError, TuttiStatus};
use super::handle::{
    self, create, datagram, mtu_buffer, opt_str, out_ok, payload_type, with_handle, write_out, Handle,
};
use crate::translate::{Side, TranslateError, Translator, TranslatorConfig, TranslatorLegStats};

/// Side of a translator: towards the sender of the incoming stream.
pub const TUTTI_SIDE_UPSTREAM: u32 = 0;
/// Side of a translator: towards the far receiver of the outgoing stream.
pub const TUTTI_SIDE_DOWNSTREAM: u32 = 1;

/// A translator (opaque to C).
pub struct TuttiTranslator {
    tr: Translator,
    poisoned: bool,
}

/// Configuration of a translator (fill it with `tutti_translator_config_default` first).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct TuttiTranslatorConfig {
    /// Input codec: `pcmu`, `pcma`, `g722`, `g722-56`, `g722-48` or `opus`.
    pub input_codec: *const c_char,
    /// Input RTP payload type, or -1 for the codec's static type (else 96).
    pub input_payload_type: i32,
    /// Output codec: `pcmu`, `pcma`, `g722`, `g722-56`, `g722-48` or `opus[:BITRATE]`.
    pub output_codec: *const c_char,
    /// Output RTP payload type, or -1 for the codec's static type (else 96).
    pub output_payload_type: i32,
    /// Output packet time in ms (10, 20, 30, 40 or 60; Opus: not 30).
    pub ptime_ms: u32,
    /// Chain run at the output rate (e.g. `"ns,agc"`), or NULL for none.
    pub chain: *const c_char,
    /// Longest loss or pause bridged inside a talkspurt, ms.
    pub max_gap_ms: u32,
    /// NTP time (RFC 3550 64-bit format) at host time 0, for RTCP.
    pub ntp_at_zero: u64,
    /// Seed of the outgoing sequence numbers and the reporting SSRC.
    pub seed: u64,
}

/// Statistics of one leg of a translator.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct TuttiTranslatorLegStats {
    /// SSRC of the stream (kept on both legs), or 0 before its first packet.
    pub ssrc: u32,
    /// Incoming: RTP packets received; outgoing: RTP packets sent.
    pub packets: u64,
    /// RFC 3550 cumulative loss (outgoing: as the far receiver reports it).
    pub lost: i64,
    /// Packets discarded (too late, or not audio of the stream's payload type).
    pub discarded: u64,
    /// Duplicate packets.
    pub duplicates: u64,
    /// Interarrival jitter, ms.
    pub jitter_ms: f64,
    /// Round-trip time from RTCP in ms, or -1 when unknown.
    pub rtt_ms: f64,
    /// Incoming: mean time audio is held in the translator, ms.
    pub jitter_buffer_delay_ms: f64,
    /// Concealed samples over all samples.
    pub concealment_ratio: f64,
    /// ITU-T G.107 E-model R factor.
    pub r_factor: f64,
    /// MOS from R.
    pub mos: f64,
}

/// Statistics of a translator (see `tutti_translator_stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct TuttiTranslatorStats {
    /// The incoming leg (sender to translator).
    pub incoming: TuttiTranslatorLegStats,
    /// The outgoing leg (translator to far receiver).
    pub outgoing: TuttiTranslatorLegStats,
    /// Datagrams dropped as malformed.
    pub malformed: u64,
    /// RTP packets sent.
    pub tx_rtp: u64,
    /// RTCP compounds forwarded downstream.
    pub tx_rtcp_downstream: u64,
    /// RTCP compounds sent upstream (our receiver reports).
    pub tx_rtcp_upstream: u64,
    /// Talkspurts started.
    pub talkspurts: u64,
}

fn leg(s: &TranslatorLegStats) -> TuttiTranslatorLegStats {
    let q = &s.quality;
    TuttiTranslatorLegStats {
        ssrc: s.ssrc.unwrap_or(0),
        packets: q.packets,
        lost: q.lost,
        discarded: q.discarded,
        duplicates: q.duplicates,
        jitter_ms: q.jitter_ms,
        rtt_ms: q.rtt_ms.unwrap_or(-1.0),
        jitter_buffer_delay_ms: q.jitter_buffer_delay_ms,
        concealment_ratio: q.concealment_ratio,
        r_factor: q.r_factor,
        mos: q.mos,
    }
}

fn err(e: TranslateError) -> EmbedError {
    match e {
        TranslateError::Dropped { reason } => EmbedError::Dropped { reason },
        TranslateError::Chain { detail } => EmbedError::Spec { detail },
        other => EmbedError::Config {
            detail: other.to_string(),
        },
    }
}

impl Handle for TuttiTranslator {
    const ARG: &'static str = "translator";
    fn poisoned(&mut self) -> &mut bool {
        &mut self.poisoned
    }
}

/// Fills `*out` with the defaults: PCMU in, Opus out, static payload types (Opus 96), 20 ms, no chain,
/// 200 ms bridged gaps.
///
/// # Safety
/// `out` points at a writable `TuttiTranslatorConfig`.
#[no_mangle]
pub unsafe extern "C" fn tutti_translator_config_default(out: *mut TuttiTranslatorConfig) -> TuttiStatus {
    guard(|| {
        let d = TranslatorConfig::new(tutti_codecs::CodecSpec::Pcmu, tutti_codecs::CodecSpec::Pcmu);
        let cfg = TuttiTranslatorConfig {
            input_codec: c"pcmu".as_ptr(),
            input_payload_type: -1,
            output_codec: c"opus".as_ptr(),
            output_payload_type: -1,
            ptime_ms: d.ptime_ms,
            chain: std::ptr::null(),
            max_gap_ms: d.max_gap_ms,
            ntp_at_zero: 0,
            seed: d.seed,
        };
        // SAFETY: writable by the caller's contract.
        unsafe { write_out(out, "out", cfg) }
    })
}

/// Creates a translator at host time `now_us`. On success `*out` is the handle (free it with
/// `tutti_translator_free`).
///
/// # Safety
/// `config` points at a valid `TuttiTranslatorConfig` whose strings are NULL or NUL-terminated (the
/// codecs must not be NULL); `out` points at writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn tutti_translator_new(
    config: *const TuttiTranslatorConfig,
    now_us: u64,
    out: *mut *mut TuttiTranslator,
) -> TuttiStatus {
    create(out, || {
        out_ok(config.cast_mut(), "config")?;
        // SAFETY: checked non-null and aligned; valid by the caller's contract.
        let c = unsafe { config.read() };
        // SAFETY: each string is NULL or NUL-terminated by the caller's contract.
        let (i, o, chain) = unsafe {
            (
                opt_str(c.input_codec, "config.input_codec")?,
                opt_str(c.output_codec, "config.output_codec")?,
                opt_str(c.chain, "config.chain")?,
            )
        };
        let codec = |s: Option<&str>, arg: &'static str| {
            let s = s.ok_or(EmbedError::NullPointer { arg })?;
            tutti_codecs::CodecSpec::parse(s).map_err(|e| EmbedError::Config {
                detail: format!("{arg} '{s}': {e}"),
            })
        };
        let mut cfg =
            TranslatorConfig::new(codec(i, "config.input_codec")?, codec(o, "config.output_codec")?);
        if let Some(p) = payload_type(c.input_payload_type, "input_payload_type")? {
            cfg.input_payload_type = p;
        }
        if let Some(p) = payload_type(c.output_payload_type, "output_payload_type")? {
            cfg.output_payload_type = p;
        }
        cfg.ptime_ms = c.ptime_ms;
        cfg.chain = chain.filter(|s| !s.is_empty()).map(str::to_string);
        cfg.max_gap_ms = c.max_gap_ms;
        cfg.ntp_at_zero = c.ntp_at_zero;
        cfg.seed = c.seed;
        Ok(TuttiTranslator {
            tr: Translator::new(cfg, Duration::from_micros(now_us)).map_err(err)?,
            poisoned: false,
        })
    })
}

/// Frees a translator (NULL is ignored).
///
/// # Safety
/// `translator` is NULL or a handle from `tutti_translator_new` that is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn tutti_translator_free(translator: *mut TuttiTranslator) {
    // SAFETY: NULL or from `tutti_translator_new`, given back once by the caller.
    unsafe { handle::free(translator) }
}

/// Hands a datagram that arrived at `now_us` from `side` (`TUTTI_SIDE_UPSTREAM`: the sender's RTP or
/// RTCP; `TUTTI_SIDE_DOWNSTREAM`: the far receiver's RTCP). A malformed or foreign datagram returns
/// `TUTTI_STATUS_DROPPED` (counted; not an error of the host). Real-time safe.
///
/// # Safety
/// `translator` is a live handle; `data` points at `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tutti_translator_receive(
    translator: *mut TuttiTranslator,
    side: u32,
    now_us: u64,
    data: *const u8,
    len: usize,
) -> TuttiStatus {
    let run = |h: &mut TuttiTranslator| {
        // SAFETY: `len` readable bytes by the caller's contract.
        let d = unsafe { datagram(data, len) }?;
        let now = Duration::from_micros(now_us);
        match side {
            TUTTI_SIDE_UPSTREAM => h.tr.receive_upstream(now, d).map_err(err),
            TUTTI_SIDE_DOWNSTREAM => h.tr.receive_downstream(now, d).map_err(err),
            _ => Err(EmbedError::Argument {
                detail: "side: use TUTTI_SIDE_UPSTREAM (0) or TUTTI_SIDE_DOWNSTREAM (1)".into(),
            }),
        }
    };
    // SAFETY: the handle is live and used by this thread only, by the caller's contract.
    unsafe { with_handle(translator, run) }
}

/// Writes to `*at_us` the host time at which `tutti_translator_timeout` should next run.
///
/// # Safety
/// `translator` is a live handle; `at_us` points at a writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn tutti_translator_next_timeout(
    translator: *mut TuttiTranslator,
    at_us: *mut u64,
) -> TuttiStatus {
    let run = |h: &mut TuttiTranslator| {
        // SAFETY: writable by the caller's contract.
        unsafe { write_out(at_us, "at_us", h.tr.poll_timeout().as_micros() as u64) }
    };
    // SAFETY: the handle is live and used by this thread only, by the caller's contract.
    unsafe { with_handle(translator, run) }
}

/// Runs the RTCP timer at `now_us` (queues our receiver report to the sender when due). Real-time safe.
///
/// # Safety
/// `translator` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn tutti_translator_timeout(
    translator: *mut TuttiTranslator,
    now_us: u64,
) -> TuttiStatus {
    let run = |h: &mut TuttiTranslator| {
        h.tr.handle_timeout(Duration::from_micros(now_us));
        Ok(())
    };
    // SAFETY: the handle is live and used by this thread only, by the caller's contract.
    unsafe { with_handle(translator, run) }
}

/// Ends the translation at `now_us`: the last frame and BYE on both sides are queued for
/// `tutti_translator_poll_transmit`. Real-time safe.
///
/// # Safety
/// `translator` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn tutti_translator_finish(
    translator: *mut TuttiTranslator,
    now_us: u64,
) -> TuttiStatus {
    let run = |h: &mut TuttiTranslator| {
        h.tr.finish(Duration::from_micros(now_us));
        Ok(())
    };
    // SAFETY: the handle is live and used by this thread only, by the caller's contract.
    unsafe { with_handle(translator, run) }
}

/// Copies the next datagram to send into `out` (`capacity` at least 1500 bytes) with its length in
/// `*len` (0 when nothing waits), its side in `*side` (`TUTTI_SIDE_*`) and `*is_rtcp` (1 for RTCP: send
/// it to the peer's RTCP port). Call it until `*len` is 0 after every receive, timeout or finish.
/// Real-time safe.
///
/// # Safety
/// `translator` is a live handle; `out` points at `capacity` writable bytes; `len`, `side` and `is_rtcp`
/// at writable storage.
#[no_mangle]
pub unsafe extern "C" fn tutti_translator_poll_transmit(
    translator: *mut TuttiTranslator,
    out: *mut u8,
    capacity: usize,
    len: *mut usize,
    side: *mut u32,
    is_rtcp: *mut u32,
) -> TuttiStatus {
    let run = |h: &mut TuttiTranslator| {
        out_ok(len, "len")?;
        out_ok(side, "side")?;
        out_ok(is_rtcp, "is_rtcp")?;
        // SAFETY: `capacity` writable bytes by the caller's contract.
        let buf = unsafe { mtu_buffer(out, capacity) }?;
        let (n, s, r) = match h.tr.poll_transmit(buf) {
            Some(t) => (
                t.len,
                match t.side {
                    Side::Upstream => TUTTI_SIDE_UPSTREAM,
                    Side::Downstream => TUTTI_SIDE_DOWNSTREAM,
                },
                u32::from(t.channel == tutti_rtp::Channel::Rtcp),
            ),
            None => (0, 0, 0),
        };
        // SAFETY: checked non-null and aligned; writable by the caller's contract.
        unsafe {
            len.write(n);
            side.write(s);
            is_rtcp.write(r);
        }
        Ok(())
    };
    // SAFETY: the handle is live and used by this thread only, by the caller's contract.
    unsafe { with_handle(translator, run) }
}

/// Writes the statistics of both legs to `*out`.
///
/// # Safety
/// `translator` is a live handle; `out` points at a writable `TuttiTranslatorStats`.
#[no_mangle]
pub unsafe extern "C" fn tutti_translator_stats(
    translator: *mut TuttiTranslator,
    out: *mut TuttiTranslatorStats,
) -> TuttiStatus {
    let run = |h: &mut TuttiTranslator| {
        let s = h.tr.stats();
        let c = s.counters;
        let v = TuttiTranslatorStats {
            incoming: leg(&s.incoming),
            outgoing: leg(&s.outgoing),
            malformed: c.malformed,
            tx_rtp: c.tx_rtp,
            tx_rtcp_downstream: c.tx_rtcp_downstream,
            tx_rtcp_upstream: c.tx_rtcp_upstream,
            talkspurts: c.talkspurts,
        };
        // SAFETY: writable by the caller's contract.
        unsafe { write_out(out, "out", v) }
    };
    // SAFETY: the handle is live and used by this thread only, by the caller's contract.
    unsafe { with_handle(translator, run) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conference::MTU;

    /// Through the C functions: PCMU packets in, Opus packets out with the SSRC kept; a bad side and a
    /// malformed datagram are refused with their status.
    #[test]
    fn translate_through_the_c_abi() {
        let mut cfg = std::mem::MaybeUninit::<TuttiTranslatorConfig>::uninit();
        let mut t = std::ptr::null_mut();
        let mut buf = vec![0u8; MTU];
        let (mut len, mut side, mut rtcp) = (0usize, 0u32, 0u32);
        let mut sent = 0;
        // SAFETY: `cfg` is initialised by `tutti_translator_config_default` before it is read; every
        // pointer passed is valid for the call.
        unsafe {
            assert_eq!(tutti_translator_config_default(cfg.as_mut_ptr()), TuttiStatus::Ok);
            assert_eq!(tutti_translator_new(cfg.as_ptr(), 0, &mut t), TuttiStatus::Ok);
            for k in 0..50u16 {
                let b = tutti_rtp::RtpBuilder {
                    marker: false,
                    payload_type: 0,
                    sequence_number: k,
                    timestamp: u32::from(k) * 160,
                    ssrc: 42,
                    csrcs: &[],
                    extensions: &[],
                    extension_form: tutti_rtp::ExtensionForm::OneByte,
                    padding: 0,
                };
                let mut p = [0u8; 200];
                let n = b.write(&[0xff; 160], &mut p).expect("packet fits");
                let now = u64::from(k) * 20_000;
                assert_eq!(
                    tutti_translator_receive(t, TUTTI_SIDE_UPSTREAM, now, p.as_ptr(), n),
                    TuttiStatus::Ok
                );
                loop {
                    let st = tutti_translator_poll_transmit(
                        t,
                        buf.as_mut_ptr(),
                        buf.len(),
                        &mut len,
                        &mut side,
                        &mut rtcp,
                    );
                    assert_eq!(st, TuttiStatus::Ok);
                    if len == 0 {
                        break;
                    }
                    let pkt = tutti_rtp::RtpPacket::parse(&buf[..len]).expect("RTP");
                    assert_eq!((pkt.ssrc(), side, rtcp), (42, TUTTI_SIDE_DOWNSTREAM, 0));
                    sent += 1;
                }
            }
            // The resampler's delay holds the last frame until the end.
            assert_eq!(sent, 49);
            assert_eq!(tutti_translator_finish(t, 1_000_000), TuttiStatus::Ok);
            loop {
                let st = tutti_translator_poll_transmit(
                    t,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut len,
                    &mut side,
                    &mut rtcp,
                );
                assert_eq!(st, TuttiStatus::Ok);
                if len == 0 {
                    break;
                }
                sent += usize::from(rtcp == 0);
            }
            assert_eq!(sent, 50);
            let junk = [0x80u8, 0, 1];
            assert_eq!(
                tutti_translator_receive(t, TUTTI_SIDE_UPSTREAM, 0, junk.as_ptr(), 3),
                TuttiStatus::Dropped
            );
            assert_eq!(
                tutti_translator_receive(t, 7, 0, junk.as_ptr(), 3),
                TuttiStatus::InvalidArgument
            );
            let mut s = TuttiTranslatorStats::default();
            assert_eq!(tutti_translator_stats(t, &mut s), TuttiStatus::Ok);
            assert_eq!(
                (s.incoming.ssrc, s.incoming.packets, s.tx_rtp, s.malformed),
                (42, 50, 50, 1)
            );
            tutti_translator_free(t);
        }
    }
}
