//! The conference: legs, the mix tick, shared encodes.
//!
//! # What
//! [`Conference`] is a sans-IO RTP mixer (RFC 3550 §7.1, RFC 7667 §3.6 "media mixer"): the host hands it
//! datagrams with their arrival times ([`Conference::receive`]), calls [`Conference::tick`] once per
//! packet time, and takes the datagrams to send from [`Conference::poll_transmit`]. Time is an input, so the
//! same code runs live (UDP driver), offline on a capture (`tutti mix`), under synthetic load
//! (`tutti bench conference`) and in tests faster than real time.
//!
//! # How
//! One tick walks every frame one way: per leg, jitter buffer → decoder/PLC → chain → level; then, for
//! legs carrying speech only, gain → resampler to the mix rate; the [`TalkerSelector`] picks at most K
//! talkers; the full mix is the sum of the talkers. A talker hears the full mix minus its own
//! contribution (N−1); everyone else hears the full mix,
//! so legs that are not talking and share a codec and output gain share one limiter, resampler and encode
//! (a "group"): with 3 talkers, 200 Opus listeners cost 4 encodes, not 200. Every packet names the
//! contributing sources as CSRCs (a cascaded mixer's own contributors are passed through) with RFC 6465
//! levels. Legs are expired after a silence timeout or an RTCP BYE; the host removes them.
//!
//! A talker moving between its own encoder and its group's shares codec state across the switch: G.711 is
//! stateless; G.722's and Opus's decoders at the far end recover within a few milliseconds (a short
//! transient at the moment a leg starts or stops talking).
//!
//! # Real-time safety
//! [`Conference::tick`], [`Conference::receive`] and [`Conference::poll_transmit`] allocate nothing, take
//! no lock and make no system call (tested with a counting allocator while legs join and leave), and so do
//! [`Conference::insert_leg`] and [`Conference::take_leg`], which move legs built by a
//! [`super::LegFactory`] in and out. [`Conference::add_leg`] and [`Conference::remove_leg`] build and drop
//! legs: control side, between ticks.

use std::time::Duration;

use tutti_codecs::CodecSpec;
use tutti_rtp::RTP_MAX_CSRCS;

use super::config::{ConferenceConfig, ConferenceError, LegConfig, LegId, MixRate};
use super::dsp::{to_i16, Limiter};
use super::factory::{make_group, Group, LegFactory, PreparedLeg, RetiredLeg};
use super::leg::{Contributor, Leg, LegCounters};
use super::stats::{ConferenceStats, LegStats};
use super::talkers::TalkerSelector;

/// The codec a conference leg really runs: legs are mono, so an Opus stream (always `opus/48000/2` in SDP,
/// RFC 7587) is decoded and encoded as mono; and Opus carries any audio rate under its 48 kHz RTP clock, so
/// it is coded at the mix rate when Opus has that rate (two resamplers and most of the decoder's work
/// saved).
pub fn leg_codec(codec: CodecSpec, mix_rate: MixRate) -> CodecSpec {
    match codec {
        CodecSpec::Opus {
            sample_rate, bitrate, ..
        } => {
            let mix = match mix_rate {
                MixRate::Fixed(r) => r,
                MixRate::Highest => 48000,
            };
            let sample_rate = if mix < sample_rate && [8000, 12000, 16000, 24000].contains(&mix) {
                mix
            } else {
                sample_rate
            };
            CodecSpec::Opus {
                sample_rate,
                channels: 1,
                bitrate,
            }
        }
        other => other,
    }
}

/// A sans-IO conference mixer (see the module docs).
pub struct Conference {
    cfg: ConferenceConfig,
    mix_rate: u32,
    legs: Vec<Option<Box<Leg>>>,
    groups: Vec<Option<Box<Group>>>,
    factory: Option<LegFactory>,
    talkers: TalkerSelector,
    energy: Vec<f32>,
    eligible: Vec<bool>,
    full: Vec<f32>,
    contributors: [Contributor; RTP_MAX_CSRCS],
    n_contributors: usize,
    ticks: u64,
    encodes_last_tick: usize,
    encodes_total: u64,
    limited_full: Vec<f32>,
    mix_limiter: Limiter,
}

impl std::fmt::Debug for Conference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conference")
            .field("mix_rate", &self.mix_rate)
            .field("legs", &self.len())
            .field("ticks", &self.ticks)
            .finish_non_exhaustive()
    }
}

const NO_CONTRIBUTOR: Contributor = Contributor {
    csrc: 0,
    level: 127,
    slot: usize::MAX,
};

impl Conference {
    /// A conference with no legs.
    ///
    /// # Errors
    /// [`ConferenceError::Config`] for a mix rate, packet time or slot count out of range.
    pub fn new(cfg: ConferenceConfig) -> Result<Self, ConferenceError> {
        let mix_rate = match cfg.mix_rate {
            MixRate::Fixed(r) => r,
            MixRate::Highest => 8000,
        };
        if ![8000, 16000, 32000, 48000].contains(&mix_rate) {
            return Err(ConferenceError::Config {
                field: "mix_rate",
                detail: format!("{mix_rate} Hz; use 8000, 16000, 32000 or 48000"),
            });
        }
        if ![10, 20, 30, 40, 60].contains(&cfg.ptime_ms) {
            return Err(ConferenceError::Config {
                field: "ptime_ms",
                detail: format!("{} ms; use 10, 20, 30, 40 or 60", cfg.ptime_ms),
            });
        }
        if cfg.max_legs == 0 || cfg.max_legs > 65_536 {
            return Err(ConferenceError::Config {
                field: "max_legs",
                detail: format!("{}; use 1 to 65536", cfg.max_legs),
            });
        }
        if cfg.talkers.max_talkers == 0 || cfg.talkers.max_talkers > RTP_MAX_CSRCS {
            return Err(ConferenceError::Config {
                field: "talkers",
                detail: format!("{}; use 1 to 15 (one CSRC each)", cfg.talkers.max_talkers),
            });
        }
        let n = cfg.max_legs;
        let frame = (mix_rate * cfg.ptime_ms / 1000) as usize;
        Ok(Self {
            talkers: TalkerSelector::new(cfg.talkers, n),
            mix_rate,
            legs: (0..n).map(|_| None).collect(),
            groups: (0..n).map(|_| None).collect(),
            factory: Some(LegFactory::new(cfg.clone(), mix_rate)),
            energy: vec![-127.0; n],
            eligible: vec![false; n],
            full: vec![0.0; frame],
            limited_full: vec![0.0; frame],
            mix_limiter: Limiter::new(cfg.limiter_dbfs, mix_rate),
            contributors: [NO_CONTRIBUTOR; RTP_MAX_CSRCS],
            n_contributors: 0,
            ticks: 0,
            encodes_last_tick: 0,
            encodes_total: 0,
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ConferenceConfig {
        &self.cfg
    }

    /// The mix rate in Hz.
    pub fn mix_rate(&self) -> u32 {
        self.mix_rate
    }

    /// Samples per tick at the mix rate.
    pub fn mix_frame(&self) -> usize {
        self.full.len()
    }

    /// The tick period.
    pub fn ptime(&self) -> Duration {
        Duration::from_millis(u64::from(self.cfg.ptime_ms))
    }

    /// Number of legs.
    pub fn len(&self) -> usize {
        self.legs.iter().filter(|l| l.is_some()).count()
    }

    /// Whether there is no leg.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids of all legs.
    pub fn leg_ids(&self) -> Vec<LegId> {
        self.legs.iter().flatten().map(|l| l.id).collect()
    }

    fn set_mix_rate(&mut self, rate: u32) -> Result<(), ConferenceError> {
        self.mix_rate = rate;
        let frame = (rate * self.cfg.ptime_ms / 1000) as usize;
        self.full = vec![0.0; frame];
        self.limited_full = vec![0.0; frame];
        self.mix_limiter = Limiter::new(self.cfg.limiter_dbfs, rate);
        for leg in self.legs.iter_mut().flatten() {
            leg.set_mix_rate(rate, &self.cfg)?;
        }
        for g in self.groups.iter_mut().flatten() {
            let mut ng = make_group(&self.cfg, rate, frame, g.codec, f32::from_bits(g.gain_bits))?;
            ng.members = g.members;
            **g = ng;
        }
        if let Some(f) = self.factory.as_mut() {
            f.set_mix_rate(rate);
        }
        Ok(())
    }

    fn factory(&mut self) -> Result<&mut LegFactory, ConferenceError> {
        self.factory.as_mut().ok_or(ConferenceError::Config {
            field: "control",
            detail: "legs of this conference are added through the LegFactory taken from it".into(),
        })
    }

    /// Takes the [`LegFactory`] out of the conference, to prepare joining legs on a control thread while
    /// the conference itself runs on a real-time thread ([`Conference::insert_leg`],
    /// [`Conference::take_leg`]). Afterwards [`Conference::add_leg`], [`Conference::remove_leg`] and
    /// [`Conference::set_leg`] fail, and a [`MixRate::Highest`] conference keeps its current mix rate.
    /// `None` when it was taken before.
    pub fn take_factory(&mut self) -> Option<LegFactory> {
        self.factory.take()
    }

    /// Adds a leg at conference time `now` (control side: allocates). With [`MixRate::Highest`] the mix rate
    /// rises to the leg's audio rate first.
    ///
    /// # Errors
    /// [`ConferenceError::Full`], or the leg's codec, chain or SRTP keying failed.
    pub fn add_leg(&mut self, cfg: LegConfig, now: Duration) -> Result<LegId, ConferenceError> {
        let f = self.factory()?;
        if f.uses_highest() && f.len() < self.cfg.max_legs {
            let r = leg_codec(cfg.codec, self.cfg.mix_rate).info().audio_rate;
            let r = [8000, 16000, 32000, 48000]
                .into_iter()
                .find(|&x| x >= r)
                .unwrap_or(48000);
            if r > self.mix_rate {
                self.set_mix_rate(r)?;
            }
        }
        let p = self.factory()?.prepare(cfg, now)?;
        self.insert_leg(p).map_err(|p| ConferenceError::Config {
            field: "control",
            detail: format!(
                "slot of {} is taken (the factory's mirror is out of step)",
                p.id()
            ),
        })
    }

    /// Moves a prepared leg into its slot. Real-time safe: no allocation, no search beyond the slot.
    ///
    /// # Errors
    /// Gives the leg back when its slot or group slot does not match this conference (a leg prepared by
    /// another conference's factory, or inserted twice).
    pub fn insert_leg(&mut self, p: PreparedLeg) -> Result<LegId, PreparedLeg> {
        let slot = p.leg.id.slot();
        let gi = p.leg.group;
        let fits = matches!(self.legs.get(slot), Some(None))
            && match (&p.group, self.groups.get(gi)) {
                (Some(_), Some(None)) | (None, Some(Some(_))) => true,
                _ => false,
            }
            && p.leg.mix_in.len() == self.full.len();
        if !fits {
            return Err(p);
        }
        let PreparedLeg { leg, group } = p;
        if let Some(g) = group {
            self.groups[gi] = Some(g);
        }
        if let Some(g) = self.groups[gi].as_mut() {
            g.members += 1;
        }
        let id = leg.id;
        self.legs[slot] = Some(leg);
        self.talkers.join(slot);
        self.energy[slot] = -127.0;
        Ok(id)
    }

    /// Takes a leg out of the mixer (with its group when it was the last member), to be finished and
    /// dropped on the control side ([`RetiredLeg::finish`], then [`LegFactory::release`]). Real-time safe:
    /// nothing is freed here. `None` for an unknown id.
    pub fn take_leg(&mut self, id: LegId) -> Option<RetiredLeg> {
        self.leg_ref(id).ok()?;
        let slot = id.slot();
        let leg = self.legs[slot].take()?;
        let talking = self.talkers.is_talking(slot);
        let level_db = self.talkers.level(slot);
        self.talkers.leave(slot);
        let mut group = None;
        if let Some(Some(g)) = self.groups.get_mut(leg.group) {
            g.members -= 1;
            if g.members == 0 {
                group = self.groups[leg.group].take();
            }
        }
        Some(RetiredLeg {
            leg,
            group,
            talking,
            level_db,
        })
    }

    fn leg_ref(&self, id: LegId) -> Result<&Leg, ConferenceError> {
        match self.legs.get(id.slot()) {
            Some(Some(l)) if l.id == id => Ok(l),
            _ => Err(ConferenceError::NoSuchLeg(id)),
        }
    }

    fn leg_mut(&mut self, id: LegId) -> Result<&mut Leg, ConferenceError> {
        match self.legs.get_mut(id.slot()) {
            Some(Some(l)) if l.id == id => Ok(l),
            _ => Err(ConferenceError::NoSuchLeg(id)),
        }
    }

    /// Removes a leg (control side). Returns its final statistics and the datagrams still queued for it,
    /// ending with an RTCP BYE, for the host to send.
    ///
    /// # Errors
    /// [`ConferenceError::NoSuchLeg`], or the factory was taken ([`Conference::take_factory`]).
    pub fn remove_leg(
        &mut self,
        id: LegId,
        now: Duration,
    ) -> Result<(LegStats, Vec<Vec<u8>>), ConferenceError> {
        self.leg_ref(id)?;
        self.factory()?.release(id)?;
        let retired = self
            .take_leg(id)
            .expect("leg_ref just found the leg in this slot");
        Ok(retired.finish(now))
    }

    /// Legs that should be removed: silent for longer than the timeout, or said BYE. Real-time safe (an
    /// iterator over the slots).
    pub fn expired_legs(&self, now: Duration) -> impl Iterator<Item = LegId> + '_ {
        let timeout = self.cfg.leg_timeout;
        self.legs
            .iter()
            .flatten()
            .filter(move |l| l.bye || now.saturating_sub(l.last_rx) > timeout)
            .map(|l| l.id)
    }

    /// Whether leg `id` is one of [`Conference::expired_legs`] (false for an unknown id). Real-time safe.
    pub fn is_expired(&self, id: LegId, now: Duration) -> bool {
        self.leg_ref(id)
            .is_ok_and(|l| l.bye || now.saturating_sub(l.last_rx) > self.cfg.leg_timeout)
    }

    /// [`Conference::expired_legs`] collected (control side).
    pub fn expired(&self, now: Duration) -> Vec<LegId> {
        self.expired_legs(now).collect()
    }

    /// Changes a leg's mute/deaf state and gains (control side; may allocate a new shared group).
    ///
    /// # Errors
    /// [`ConferenceError::NoSuchLeg`], a codec error creating the group, or the factory was taken.
    pub fn set_leg(
        &mut self,
        id: LegId,
        muted: bool,
        deaf: bool,
        gain_in_db: f32,
        gain_out_db: f32,
    ) -> Result<(), ConferenceError> {
        let (codec, old_group) = {
            let l = self.leg_ref(id)?;
            (l.cfg.codec, l.group)
        };
        let (group, new) = self.factory()?.regroup(id, codec, gain_out_db)?;
        if let Some(g) = new {
            self.groups[group] = Some(g);
        }
        if group != old_group {
            if let Some(Some(g)) = self.groups.get_mut(group) {
                g.members += 1;
            }
            if let Some(Some(g)) = self.groups.get_mut(old_group) {
                g.members -= 1;
                if g.members == 0 {
                    self.groups[old_group] = None;
                }
            }
        }
        let l = self.leg_mut(id)?;
        l.cfg.muted = muted;
        l.cfg.deaf = deaf;
        l.cfg.gain_in_db = gain_in_db;
        l.cfg.gain_out_db = gain_out_db;
        l.gain_in = 10f32.powf(gain_in_db / 20.0);
        l.gain_out = 10f32.powf(gain_out_db / 20.0);
        l.group = group;
        Ok(())
    }

    /// Hands a datagram (RTP or RTCP, SRTP-protected if the leg uses SRTP) that arrived at `now` to a leg.
    /// Real-time safe.
    ///
    /// # Errors
    /// [`ConferenceError::NoSuchLeg`], or [`ConferenceError::Dropped`] (counted in the leg's statistics).
    pub fn receive(&mut self, id: LegId, now: Duration, datagram: &[u8]) -> Result<(), ConferenceError> {
        let cfg = &self.cfg;
        match self.legs.get_mut(id.slot()) {
            Some(Some(l)) if l.id == id => l.receive(now, datagram, cfg),
            _ => Err(ConferenceError::NoSuchLeg(id)),
        }
    }

    /// The next datagram to send to a leg, copied into `out` (`MTU` = 1500 bytes is always enough); returns
    /// its length. Real-time safe.
    pub fn poll_transmit(&mut self, id: LegId, out: &mut [u8]) -> Option<usize> {
        match self.legs.get_mut(id.slot()) {
            Some(Some(l)) if l.id == id => l.poll_transmit(out),
            _ => None,
        }
    }

    /// One mix tick at conference time `now` (call every [`Conference::ptime`]). Real-time safe.
    pub fn tick(&mut self, now: Duration) {
        // 1. Every leg plays out one frame at the mix rate.
        for (i, slot) in self.legs.iter_mut().enumerate() {
            if let Some(l) = slot {
                l.pull_frame(now);
                l.adapt_rate(now);
                self.energy[i] = l.energy_db;
                self.eligible[i] = !l.cfg.muted;
            } else {
                self.eligible[i] = false;
            }
        }
        // 2. Talkers.
        let eligible = &self.eligible;
        self.talkers
            .update(&self.energy, self.cfg.ptime_ms, |i| eligible[i]);
        // 3. Legs that may be mixed go to the mix rate; full mix and contributors.
        for (i, slot) in self.legs.iter_mut().enumerate() {
            if let Some(l) = slot {
                l.make_mix_in(self.talkers.is_talking(i) || self.talkers.is_active(i));
            }
        }
        self.full.fill(0.0);
        self.n_contributors = 0;
        for (i, slot) in self.legs.iter().enumerate() {
            if let Some(l) = slot {
                if self.talkers.is_talking(i) {
                    for (f, &x) in self.full.iter_mut().zip(&l.mix_in) {
                        *f += x;
                    }
                    l.contributors(&mut self.contributors, &mut self.n_contributors, i);
                }
            }
        }
        // 4. Shared encodes, only for groups with a listener who is not talking.
        for g in self.groups.iter_mut().flatten() {
            g.len = None;
        }
        let mut encodes = 0;
        for (i, slot) in self.legs.iter().enumerate() {
            let Some(l) = slot else { continue };
            if self.talkers.is_talking(i) || l.cfg.deaf || l.adapted {
                continue;
            }
            let Some(Some(g)) = self.groups.get_mut(l.group) else {
                continue;
            };
            if g.len.is_some() {
                continue;
            }
            for (b, &f) in g.buf.iter_mut().zip(&self.full) {
                *b = f * g.gain;
            }
            g.limiter.process(&mut g.buf);
            let y = match g.down.as_mut() {
                Some(r) => r.process(&g.buf),
                None => &g.buf,
            };
            to_i16(y, &mut g.pcm);
            g.len = Some(g.encoder.encode(&g.pcm, &mut g.payload).unwrap_or(0));
            encodes += 1;
        }
        // 5. Per leg: own encode (talkers, deaf legs) or the group's, then packetize; RTCP; timeouts.
        let contributors = &self.contributors[..self.n_contributors];
        for (i, slot) in self.legs.iter_mut().enumerate() {
            let Some(l) = slot else { continue };
            let talking = self.talkers.is_talking(i);
            if talking || l.cfg.deaf || l.adapted {
                let n = l.encode_own(&self.full, talking, l.cfg.deaf);
                encodes += 1;
                l.send(now, None, n, contributors, &self.cfg);
            } else {
                let shared = match self.groups.get(l.group) {
                    Some(Some(g)) => g.len.filter(|&n| n > 0).map(|n| &g.payload[..n]),
                    _ => None,
                };
                if l.needs_far() {
                    if let Some(Some(g)) = self.groups.get(l.group) {
                        super::dsp::from_i16(&g.pcm, &mut l.heard_codec);
                    }
                }
                l.send(now, shared, None, contributors, &self.cfg);
            }
            l.poll_rtcp(now);
        }
        self.encodes_last_tick = encodes;
        self.encodes_total += encodes as u64;
        self.ticks += 1;
    }

    /// What leg `id` heard in the last tick, at the mix rate (after its gain and the limiter).
    pub fn heard(&self, id: LegId) -> Option<&[f32]> {
        let l = self.leg_ref(id).ok()?;
        if self.talkers.is_talking(id.slot()) || l.cfg.deaf || l.adapted {
            Some(&l.own_mix)
        } else {
            match self.groups.get(l.group) {
                Some(Some(g)) => Some(&g.buf),
                _ => None,
            }
        }
    }

    /// The full mix of the last tick at the mix rate (all talkers), through a limiter of its own at the
    /// ceiling. Call once per tick (recording drivers do): the limiter's envelope runs on.
    pub fn full_mix(&mut self) -> &[f32] {
        self.limited_full.copy_from_slice(&self.full);
        self.mix_limiter.process(&mut self.limited_full);
        &self.limited_full
    }

    /// Whether a leg is one of the selected talkers.
    pub fn is_talking(&self, id: LegId) -> bool {
        self.leg_ref(id).is_ok() && self.talkers.is_talking(id.slot())
    }

    /// Statistics of one leg (control side).
    ///
    /// # Errors
    /// [`ConferenceError::NoSuchLeg`].
    pub fn leg_stats(&self, id: LegId) -> Result<LegStats, ConferenceError> {
        let l = self.leg_ref(id)?;
        Ok(LegStats::of(
            l,
            self.talkers.is_talking(id.slot()),
            self.talkers.level(id.slot()),
        ))
    }

    /// Conference-wide statistics.
    pub fn stats(&self) -> ConferenceStats {
        ConferenceStats {
            legs: self.len(),
            ticks: self.ticks,
            mix_rate: self.mix_rate,
            talkers: self
                .legs
                .iter()
                .enumerate()
                .filter(|(i, l)| l.is_some() && self.talkers.is_talking(*i))
                .count(),
            talker_changes: self.talkers.changes(),
            encodes_last_tick: self.encodes_last_tick,
            encodes_total: self.encodes_total,
            shared_groups: self.groups.iter().flatten().count(),
        }
    }

    /// The counters of a leg.
    ///
    /// # Errors
    /// [`ConferenceError::NoSuchLeg`].
    pub fn leg_counters(&self, id: LegId) -> Result<LegCounters, ConferenceError> {
        Ok(self.leg_ref(id)?.counters)
    }

    /// The leg behind an id, for statistics that need more than [`LegStats`].
    ///
    /// # Errors
    /// [`ConferenceError::NoSuchLeg`].
    pub fn leg(&self, id: LegId) -> Result<&Leg, ConferenceError> {
        self.leg_ref(id)
    }
}
