//! The conference half of the C ABI: a sans-IO [`Conference`] behind an opaque `TuttiConference` handle.
//!
//! # What
//! The host keeps its sockets and timers: it creates a conference, adds a leg per participant (codec,
//! payload type, optional SDES-SRTP `a=crypto` value, optional per-leg chain), hands every datagram that
//! arrives for a leg to `tutti_conference_receive`, calls `tutti_conference_tick` every packet time
//! (`ptime_ms`, 20 ms by default), and after each tick drains `tutti_conference_poll_transmit` for every leg
//! and sends what it returns (RTP with the mix of the others, N−1, and RTCP). Times are microseconds on
//! the host's monotonic clock, starting anywhere.
//!
//! # How
//! A leg id is the [`LegId`]'s slot in the low 32 bits and its generation in the high 32 bits, so a stale
//! id is refused. `tutti_conference_remove_leg` keeps the leg's parting datagrams (ending with an RTCP
//! BYE) for `poll_transmit` to hand out under the same id.
//!
//! # Real-time safety
//! `receive`, `tick` and `poll_transmit` allocate nothing (the conference's own guarantee, and this
//! wrapper adds none: see `tutti/tests/capi_alloc.rs`); a dropped datagram's message is written into the
//! thread's preallocated error buffer. Creating, adding and removing legs, and statistics allocate.
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

use std::collections::VecDeque;
use std::ffi::c_char;
use std::time::Duration;

use super::error::{guard, EmbedError, TuttiStatus};
use super::handle::{self, create, datagram, mtu_buffer, opt_str, out_ok, with_handle, write_out, Handle};
use crate::conference::{Conference, ConferenceConfig, ConferenceError, LegConfig, LegId, MixRate, MTU};

/// A conference (opaque to C).
pub struct TuttiConference {
    conf: Conference,
    poisoned: bool,
    /// Datagrams of removed legs still to hand out (id, datagrams).
    parting: Vec<(u64, VecDeque<Vec<u8>>)>,
}

/// Configuration of a conference (fill it with `tutti_conference_config_default` first).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct TuttiConferenceConfig {
    /// Mix rate in Hz (8000, 16000, 32000 or 48000), or 0 for the highest audio rate among the legs.
    pub mix_rate: u32,
    /// Packet time and tick period in ms (10, 20, 30, 40 or 60).
    pub ptime_ms: u32,
    /// Most legs at once (preallocated).
    pub max_legs: u32,
    /// Most simultaneous talkers mixed (1..=15).
    pub max_talkers: u32,
    /// Chain run on every leg's decoded audio before mixing (e.g. `"hpf,ns,agc"`), or NULL for none.
    pub chain: *const c_char,
    /// Seed of SSRCs, sequence numbers and timestamps.
    pub seed: u64,
}

/// Configuration of a leg (fill it with `tutti_leg_config_default` first).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct TuttiLegConfig {
    /// Label for statistics (NUL-terminated).
    pub name: *const c_char,
    /// Codec: `pcmu`, `pcma`, `g722`, `g722-56`, `g722-48`, `opus[:BITRATE]` or `l16[:RATE[:CHANNELS]]`.
    pub codec: *const c_char,
    /// RTP payload type (both directions), or -1 for the codec's static type (else 96).
    pub payload_type: i32,
    /// Our SSRC towards the leg, or -1 to draw one.
    pub local_ssrc: i64,
    /// SDES-SRTP: the value of an SDP `a=crypto` line (e.g. `1 AES_CM_128_HMAC_SHA1_80 inline:…`), or NULL.
    pub srtp_crypto: *const c_char,
    /// Chain for this leg: NULL = the conference's, `""` = none.
    pub chain: *const c_char,
    /// Gain of what this leg sends into the mix, dB.
    pub gain_in_db: f32,
    /// Gain of what this leg hears, dB.
    pub gain_out_db: f32,
    /// Non-zero: heard by nobody.
    pub muted: u32,
    /// Non-zero: hears silence.
    pub deaf: u32,
}

/// Statistics of one leg (see `tutti_conference_leg_stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct TuttiLegStats {
    /// The leg's SSRC (what it sends with), or 0 before its first packet.
    pub remote_ssrc: u32,
    /// Our SSRC towards the leg.
    pub local_ssrc: u32,
    /// 1 when the leg is one of the mixed talkers.
    pub talking: u32,
    /// Smoothed level in dBov.
    pub level_db: f32,
    /// RTP packets received.
    pub packets_received: u64,
    /// RFC 3550 cumulative loss.
    pub packets_lost: i64,
    /// RFC 3550 interarrival jitter, ms.
    pub jitter_ms: f64,
    /// Round-trip time from RTCP in ms, or -1 when unknown.
    pub rtt_ms: f64,
    /// Mean jitter-buffer delay, ms.
    pub jitter_buffer_delay_ms: f64,
    /// Concealed samples over all samples.
    pub concealment_ratio: f64,
    /// ITU-T G.107 E-model R factor.
    pub r_factor: f64,
    /// MOS from R.
    pub mos: f64,
    /// Datagrams received (RTP and RTCP).
    pub rx_datagrams: u64,
    /// Datagrams dropped (malformed, SRTP authentication or replay, unknown payload type).
    pub rx_dropped: u64,
    /// RTP packets sent.
    pub tx_packets: u64,
    /// RTCP packets sent.
    pub tx_rtcp: u64,
    /// Outgoing datagrams overwritten because nobody polled them.
    pub tx_overflow: u64,
    /// Frames concealed rather than decoded.
    pub concealed_frames: u64,
}

/// Conference-wide statistics (see `tutti_conference_stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct TuttiConferenceStats {
    /// Legs now.
    pub legs: u32,
    /// Mix rate in Hz.
    pub mix_rate: u32,
    /// Tick period and packet time, ms.
    pub ptime_ms: u32,
    /// Selected talkers now.
    pub talkers: u32,
    /// Ticks run.
    pub ticks: u64,
    /// Encoder runs over all ticks (legs hearing the same mix share one).
    pub encodes_total: u64,
}

fn leg_to_u64(id: LegId) -> u64 {
    (u64::from(id.generation) << 32) | u64::from(id.slot)
}

fn leg_from_u64(v: u64) -> LegId {
    LegId {
        slot: v as u32,
        generation: (v >> 32) as u32,
    }
}

fn time(us: u64) -> Duration {
    Duration::from_micros(us)
}

fn conf_err(e: ConferenceError, leg: u64) -> EmbedError {
    match e {
        ConferenceError::Dropped { reason } => EmbedError::Dropped { reason },
        ConferenceError::NoSuchLeg(_) => EmbedError::NoSuchLeg { leg },
        ConferenceError::Config { .. } => EmbedError::Config {
            detail: e.to_string(),
        },
        other => EmbedError::Conference {
            detail: other.to_string(),
        },
    }
}

impl Handle for TuttiConference {
    const ARG: &'static str = "conference";
    fn poisoned(&mut self) -> &mut bool {
        &mut self.poisoned
    }
}

/// Fills `*out` with the defaults: 16 kHz mix, 20 ms, 64 legs, 3 talkers, no chain.
///
/// # Safety
/// `out` points at a writable `TuttiConferenceConfig`.
#[no_mangle]
pub unsafe extern "C" fn tutti_conference_config_default(out: *mut TuttiConferenceConfig) -> TuttiStatus {
    guard(|| {
        let d = ConferenceConfig::default();
        let cfg = TuttiConferenceConfig {
            mix_rate: 16000,
            ptime_ms: d.ptime_ms,
            max_legs: 64,
            max_talkers: d.talkers.max_talkers as u32,
            chain: std::ptr::null(),
            seed: d.seed,
        };
        // SAFETY: writable by the caller's contract.
        unsafe { write_out(out, "out", cfg) }
    })
}

/// Creates a conference. On success `*out` is the handle (free it with `tutti_conference_free`).
///
/// # Safety
/// `config` points at a valid `TuttiConferenceConfig` (its `chain` NULL or NUL-terminated); `out` points
/// at writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn tutti_conference_new(
    config: *const TuttiConferenceConfig,
    out: *mut *mut TuttiConference,
) -> TuttiStatus {
    create(out, || {
        out_ok(config.cast_mut(), "config")?;
        // SAFETY: checked non-null and aligned; valid by the caller's contract.
        let c = unsafe { config.read() };
        // SAFETY: NULL or NUL-terminated by the caller's contract.
        let chain = unsafe { opt_str(c.chain, "config.chain") }?;
        let mut cfg = ConferenceConfig {
            mix_rate: if c.mix_rate == 0 {
                MixRate::Highest
            } else {
                MixRate::Fixed(c.mix_rate)
            },
            ptime_ms: c.ptime_ms,
            max_legs: c.max_legs as usize,
            chain: chain.filter(|s| !s.is_empty()).map(str::to_string),
            seed: c.seed,
            ..ConferenceConfig::default()
        };
        cfg.talkers.max_talkers = c.max_talkers as usize;
        Ok(TuttiConference {
            conf: Conference::new(cfg).map_err(|e| conf_err(e, 0))?,
            poisoned: false,
            parting: Vec::new(),
        })
    })
}

/// Frees a conference (NULL is ignored).
///
/// # Safety
/// `conference` is NULL or a handle from `tutti_conference_new` that is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn tutti_conference_free(conference: *mut TuttiConference) {
    // SAFETY: NULL or from `tutti_conference_new`, given back once by the caller.
    unsafe { handle::free(conference) }
}

/// Fills `*out` with a leg's defaults: name "leg", codec "pcmu", static payload type, no SRTP, the
/// conference's chain, unity gains.
///
/// # Safety
/// `out` points at a writable `TuttiLegConfig`.
#[no_mangle]
pub unsafe extern "C" fn tutti_leg_config_default(out: *mut TuttiLegConfig) -> TuttiStatus {
    let cfg = TuttiLegConfig {
        name: c"leg".as_ptr(),
        codec: c"pcmu".as_ptr(),
        payload_type: -1,
        local_ssrc: -1,
        srtp_crypto: std::ptr::null(),
        chain: std::ptr::null(),
        gain_in_db: 0.0,
        gain_out_db: 0.0,
        muted: 0,
        deaf: 0,
    };
    // SAFETY: writable by the caller's contract.
    guard(|| unsafe { write_out(out, "out", cfg) })
}

/// Adds a leg at host time `now_us`; `*leg` receives its id.
///
/// # Safety
/// `conference` is a live handle; `config` points at a valid `TuttiLegConfig` whose strings are NULL or
/// NUL-terminated (`codec` must not be NULL); `leg` points at a writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn tutti_conference_add_leg(
    conference: *mut TuttiConference,
    config: *const TuttiLegConfig,
    now_us: u64,
    leg: *mut u64,
) -> TuttiStatus {
    let run = |h: &mut TuttiConference| {
        out_ok(leg, "leg")?;
        out_ok(config.cast_mut(), "config")?;
        // SAFETY: checked non-null and aligned; valid by the caller's contract.
        let c = unsafe { config.read() };
        // SAFETY: each string is NULL or NUL-terminated by the caller's contract.
        let (name, codec, crypto, chain) = unsafe {
            (
                opt_str(c.name, "config.name")?,
                opt_str(c.codec, "config.codec")?,
                opt_str(c.srtp_crypto, "config.srtp_crypto")?,
                opt_str(c.chain, "config.chain")?,
            )
        };
        let codec = codec.ok_or(EmbedError::NullPointer { arg: "config.codec" })?;
        let spec = tutti_codecs::CodecSpec::parse(codec).map_err(|e| EmbedError::Conference {
            detail: format!("codec '{codec}': {e}"),
        })?;
        let mut cfg = LegConfig::new(name.unwrap_or("leg"), spec);
        if let Some(pt) = handle::payload_type(c.payload_type, "payload_type")? {
            cfg.payload_type = pt;
        }
        if c.local_ssrc >= 0 {
            cfg.local_ssrc = Some(u32::try_from(c.local_ssrc).map_err(|_| EmbedError::Argument {
                detail: format!("local_ssrc {}: use 0..=0xffffffff or -1", c.local_ssrc),
            })?);
        }
        if let Some(a) = crypto {
            cfg.srtp = Some(
                tutti_rtp::CryptoAttribute::parse(a).map_err(|e| EmbedError::Conference {
                    detail: format!("srtp_crypto: {e}"),
                })?,
            );
        }
        cfg.chain = chain.map(str::to_string);
        cfg.gain_in_db = c.gain_in_db;
        cfg.gain_out_db = c.gain_out_db;
        cfg.muted = c.muted != 0;
        cfg.deaf = c.deaf != 0;
        let id = h.conf.add_leg(cfg, time(now_us)).map_err(|e| conf_err(e, 0))?;
        // SAFETY: checked non-null and aligned; writable by the caller's contract.
        unsafe { leg.write(leg_to_u64(id)) };
        Ok(())
    };
    // SAFETY: the handle is live and used by this thread only, by the caller's contract.
    unsafe { with_handle(conference, run) }
}

/// Removes a leg at host time `now_us`. Its parting datagrams (ending with an RTCP BYE) stay available to
/// `tutti_conference_poll_transmit` under the same id until drained.
///
/// # Safety
/// `conference` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn tutti_conference_remove_leg(
    conference: *mut TuttiConference,
    leg: u64,
    now_us: u64,
) -> TuttiStatus {
    let run = |h: &mut TuttiConference| {
        let (_, datagrams) = h
            .conf
            .remove_leg(leg_from_u64(leg), time(now_us))
            .map_err(|e| conf_err(e, leg))?;
        if !datagrams.is_empty() {
            h.parting.push((leg, datagrams.into()));
        }
        Ok(())
    };
    // SAFETY: the handle is live and used by this thread only, by the caller's contract.
    unsafe { with_handle(conference, run) }
}

/// Hands a datagram (RTP or RTCP; SRTP/SRTCP when the leg has a key) that arrived at `now_us` to a leg.
/// A datagram that is malformed or not accepted returns `TUTTI_STATUS_DROPPED` (counted in the leg's
/// `rx_dropped`; not an error of the host). Real-time safe.
///
/// # Safety
/// `conference` is a live handle; `data` points at `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tutti_conference_receive(
    conference: *mut TuttiConference,
    leg: u64,
    now_us: u64,
    data: *const u8,
    len: usize,
) -> TuttiStatus {
    let run = |h: &mut TuttiConference| {
        // SAFETY: `len` readable bytes by the caller's contract.
        let datagram = unsafe { datagram(data, len) }?;
        h.conf
            .receive(leg_from_u64(leg), time(now_us), datagram)
            .map_err(|e| conf_err(e, leg))
    };
    // SAFETY: the handle is live and used by this thread only, by the caller's contract.
    unsafe { with_handle(conference, run) }
}

/// Runs one mix tick at host time `now_us`; call it every `ptime_ms`. Real-time safe.
///
/// # Safety
/// `conference` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn tutti_conference_tick(conference: *mut TuttiConference, now_us: u64) -> TuttiStatus {
    let run = |h: &mut TuttiConference| {
        h.conf.tick(time(now_us));
        Ok(())
    };
    // SAFETY: the handle is live and used by this thread only, by the caller's contract.
    unsafe { with_handle(conference, run) }
}

/// Copies the next datagram to send to `leg` into `out` (`capacity` must be at least 1500 bytes, the
/// MTU) and its length into `*len`; `*len` is 0 when nothing is waiting. Call it until it gives 0 after
/// every tick. Real-time safe.
///
/// # Safety
/// `conference` is a live handle; `out` points at `capacity` writable bytes; `len` at a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn tutti_conference_poll_transmit(
    conference: *mut TuttiConference,
    leg: u64,
    out: *mut u8,
    capacity: usize,
    len: *mut usize,
) -> TuttiStatus {
    let run = |h: &mut TuttiConference| {
        out_ok(len, "len")?;
        // SAFETY: `capacity` writable bytes by the caller's contract.
        let buf = unsafe { mtu_buffer(out, capacity) }?;
        let n = if let Some(i) = h.parting.iter().position(|(id, _)| *id == leg) {
            let q = &mut h.parting[i].1;
            let n = q.pop_front().map_or(0, |d| {
                let n = d.len().min(MTU);
                buf[..n].copy_from_slice(&d[..n]);
                n
            });
            if q.is_empty() {
                h.parting.swap_remove(i);
            }
            n
        } else {
            h.conf.poll_transmit(leg_from_u64(leg), buf).unwrap_or(0)
        };
        // SAFETY: checked non-null and aligned; writable by the caller's contract.
        unsafe { len.write(n) };
        Ok(())
    };
    // SAFETY: the handle is live and used by this thread only, by the caller's contract.
    unsafe { with_handle(conference, run) }
}

/// Writes a leg's statistics to `*out` (allocates: call it from a control thread).
///
/// # Safety
/// `conference` is a live handle; `out` points at a writable `TuttiLegStats`.
#[no_mangle]
pub unsafe extern "C" fn tutti_conference_leg_stats(
    conference: *mut TuttiConference,
    leg: u64,
    out: *mut TuttiLegStats,
) -> TuttiStatus {
    let run = |h: &mut TuttiConference| {
        out_ok(out, "out")?;
        let s = h
            .conf
            .leg_stats(leg_from_u64(leg))
            .map_err(|e| conf_err(e, leg))?;
        let (c, q) = (s.counters, s.quality);
        let stats = TuttiLegStats {
            remote_ssrc: s.remote_ssrc.unwrap_or(0),
            local_ssrc: s.local_ssrc,
            talking: u32::from(s.talking),
            level_db: s.level_db,
            packets_received: q.packets,
            packets_lost: q.lost,
            jitter_ms: q.jitter_ms,
            rtt_ms: q.rtt_ms.unwrap_or(-1.0),
            jitter_buffer_delay_ms: q.jitter_buffer_delay_ms,
            concealment_ratio: q.concealment_ratio,
            r_factor: q.r_factor,
            mos: q.mos,
            rx_datagrams: c.rx_datagrams,
            rx_dropped: c.rx_dropped,
            tx_packets: c.tx_packets,
            tx_rtcp: c.tx_rtcp,
            tx_overflow: c.tx_overflow,
            concealed_frames: c.concealed_frames,
        };
        // SAFETY: writable by the caller's contract.
        unsafe { write_out(out, "out", stats) }
    };
    // SAFETY: the handle is live and used by this thread only, by the caller's contract.
    unsafe { with_handle(conference, run) }
}

/// Writes conference-wide statistics to `*out`.
///
/// # Safety
/// `conference` is a live handle; `out` points at a writable `TuttiConferenceStats`.
#[no_mangle]
pub unsafe extern "C" fn tutti_conference_stats(
    conference: *mut TuttiConference,
    out: *mut TuttiConferenceStats,
) -> TuttiStatus {
    let run = |h: &mut TuttiConference| {
        let s = h.conf.stats();
        let stats = TuttiConferenceStats {
            legs: s.legs as u32,
            mix_rate: s.mix_rate,
            ptime_ms: h.conf.config().ptime_ms,
            talkers: s.talkers as u32,
            ticks: s.ticks,
            encodes_total: s.encodes_total,
        };
        // SAFETY: writable by the caller's contract.
        unsafe { write_out(out, "out", stats) }
    };
    // SAFETY: the handle is live and used by this thread only, by the caller's contract.
    unsafe { with_handle(conference, run) }
}

/// Writes to `legs[0..n]` the ids of legs that should be removed at `now_us` (silent past the timeout,
/// or said BYE) and `n` to `*count`; fails with `TUTTI_STATUS_BUFFER_TOO_SMALL` (count written) when
/// `capacity` is smaller. Allocates.
///
/// # Safety
/// `conference` is a live handle; `legs` points at `capacity` writable `uint64_t` (or is NULL with
/// `capacity` 0); `count` points at a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn tutti_conference_expired(
    conference: *mut TuttiConference,
    now_us: u64,
    legs: *mut u64,
    capacity: usize,
    count: *mut usize,
) -> TuttiStatus {
    let run = |h: &mut TuttiConference| {
        out_ok(count, "count")?;
        let ids = h.conf.expired(time(now_us));
        // SAFETY: checked non-null and aligned; writable by the caller's contract.
        unsafe { count.write(ids.len()) };
        if ids.is_empty() {
            return Ok(());
        }
        if capacity < ids.len() {
            return Err(EmbedError::BufferTooSmall {
                needed: ids.len(),
                capacity,
            });
        }
        out_ok(legs, "legs")?;
        for (i, id) in ids.into_iter().enumerate() {
            // SAFETY: `i < capacity` writable elements by the caller's contract; checked non-null, aligned.
            unsafe { legs.add(i).write(leg_to_u64(id)) };
        }
        Ok(())
    };
    // SAFETY: the handle is live and used by this thread only, by the caller's contract.
    unsafe { with_handle(conference, run) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic inside a call poisons the conference handle (later calls: `TUTTI_STATUS_POISONED`).
    #[test]
    fn a_panic_poisons_the_handle() {
        let mut cfg = std::mem::MaybeUninit::<TuttiConferenceConfig>::uninit();
        let mut c = std::ptr::null_mut();
        // SAFETY: `cfg` is initialised by `tutti_conference_config_default` before it is read.
        unsafe {
            assert_eq!(tutti_conference_config_default(cfg.as_mut_ptr()), TuttiStatus::Ok);
            assert_eq!(tutti_conference_new(cfg.as_ptr(), &mut c), TuttiStatus::Ok);
            assert_eq!(with_handle(c, |_| panic!("injected")), TuttiStatus::Panic);
            assert_eq!(tutti_conference_tick(c, 0), TuttiStatus::Poisoned);
            tutti_conference_free(c);
        }
    }

    #[test]
    fn leg_ids_round_trip() {
        for (slot, generation) in [(0u32, 1u32), (7, 3), (u32::MAX, u32::MAX)] {
            let id = LegId { slot, generation };
            assert_eq!(leg_from_u64(leg_to_u64(id)), id);
        }
    }
}
