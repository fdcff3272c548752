//! Admission of legs: everything that allocates when a leg joins, apart from the mix tick.
//!
//! # What
//! A [`LegFactory`] builds a joining leg completely — codec state, jitter buffer, SRTP contexts, chain
//! graph, resamplers and, when no listener with the same codec and output gain exists yet, the shared
//! encode of its group — as a [`PreparedLeg`] that [`super::Conference::insert_leg`] only has to move into
//! a free slot. [`super::Conference::take_leg`] moves a leaving leg out again as a [`RetiredLeg`], which is
//! finished (statistics, RTCP BYE) and dropped back on the control side.
//!
//! # How
//! The factory keeps a mirror of what the mixer holds: which slots are taken (with their generation, so a
//! stale [`LegId`] is refused), which shared groups exist and how many members each has. It is the only
//! writer of both: slots and group indices it hands out are free in the mixer by construction, so
//! inserting never searches or allocates. The split is the one media servers use for graphs (prepare
//! off-thread, swap in on the real-time thread, retire off-thread) — see `shared/research/engine.md` §3.
//!
//! # Real-time safety
//! Everything here runs on the control side and may allocate. What crosses to the real-time side are
//! boxes ([`PreparedLeg`]) that the mixer stores without copying or freeing.

use std::time::Duration;

use tutti_codecs::{CodecSpec, Encoder};

use super::config::{ConferenceConfig, ConferenceError, LegConfig, LegId, MixRate};
use super::core::leg_codec;
use super::dsp::{FrameResampler, Limiter};
use super::leg::{Leg, MTU};
use super::stats::LegStats;

/// Listeners sharing one encode of the full mix (codec × output gain).
pub(super) struct Group {
    pub(super) codec: CodecSpec,
    pub(super) gain_bits: u32,
    pub(super) gain: f32,
    pub(super) members: usize,
    pub(super) buf: Vec<f32>,
    pub(super) limiter: Limiter,
    pub(super) down: Option<FrameResampler>,
    pub(super) pcm: Vec<i16>,
    pub(super) encoder: Box<dyn Encoder>,
    pub(super) payload: Vec<u8>,
    pub(super) len: Option<usize>,
}

/// Builds a shared group for `codec` at `gain_db` for a mix at `mix_rate` with `mix_frame` samples a tick.
pub(super) fn make_group(
    cfg: &ConferenceConfig,
    mix_rate: u32,
    mix_frame: usize,
    codec: CodecSpec,
    gain_db: f32,
) -> Result<Group, ConferenceError> {
    let info = codec.info();
    let frame = (info.audio_rate * cfg.ptime_ms / 1000) as usize;
    let down = if info.audio_rate == mix_rate {
        None
    } else {
        Some(
            FrameResampler::new(mix_rate, info.audio_rate, mix_frame).map_err(|detail| {
                ConferenceError::Config {
                    field: "mix_rate",
                    detail,
                }
            })?,
        )
    };
    Ok(Group {
        codec,
        gain_bits: gain_db.to_bits(),
        gain: 10f32.powf(gain_db / 20.0),
        members: 0,
        buf: vec![0.0; mix_frame],
        limiter: Limiter::new(cfg.limiter_dbfs, mix_rate),
        down,
        pcm: vec![0; frame],
        encoder: codec.encoder().map_err(|e| ConferenceError::Codec {
            leg: format!("shared {}", codec.cli_name()),
            detail: e.to_string(),
        })?,
        payload: vec![0; MTU],
        len: None,
    })
}

/// A leg built off the real-time thread, ready for [`super::Conference::insert_leg`].
pub struct PreparedLeg {
    pub(super) leg: Box<Leg>,
    /// The leg's shared group, when the leg is its first member.
    pub(super) group: Option<Box<Group>>,
}

impl PreparedLeg {
    /// The id the leg will have in the conference.
    pub fn id(&self) -> LegId {
        self.leg.id
    }
}

impl std::fmt::Debug for PreparedLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedLeg")
            .field("leg", &self.leg)
            .field("new_group", &self.group.is_some())
            .finish()
    }
}

/// A leg taken out of the mixer by [`super::Conference::take_leg`], to be finished and dropped on the
/// control side.
pub struct RetiredLeg {
    pub(super) leg: Box<Leg>,
    /// The leg's group when the leg was its last member.
    pub(super) group: Option<Box<Group>>,
    pub(super) talking: bool,
    pub(super) level_db: f32,
}

impl std::fmt::Debug for RetiredLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetiredLeg")
            .field("leg", &self.leg)
            .finish_non_exhaustive()
    }
}

impl RetiredLeg {
    /// The id the leg had.
    pub fn id(&self) -> LegId {
        self.leg.id
    }

    /// Final statistics, and the datagrams still queued for the leg ending with an RTCP BYE sent at `now`
    /// (control side: allocates).
    pub fn finish(mut self, now: Duration) -> (LegStats, Vec<Vec<u8>>) {
        let stats = LegStats::of(&self.leg, self.talking, self.level_db);
        self.leg.send_bye(now);
        let mut out = Vec::new();
        let mut buf = vec![0u8; MTU];
        while let Some(n) = self.leg.poll_transmit(&mut buf) {
            out.push(buf[..n].to_vec());
        }
        drop(self.group.take());
        (stats, out)
    }
}

#[derive(Debug, Clone, Copy)]
struct SlotInfo {
    generation: u32,
    group: usize,
}

#[derive(Debug, Clone, Copy)]
struct GroupKey {
    codec: CodecSpec,
    gain_bits: u32,
    members: usize,
}

/// Builds legs for a conference on the control side (see the module docs).
#[derive(Debug)]
pub struct LegFactory {
    cfg: ConferenceConfig,
    mix_rate: u32,
    mix_frame: usize,
    slots: Vec<Option<SlotInfo>>,
    generations: Vec<u32>,
    groups: Vec<Option<GroupKey>>,
    rng: u64,
}

impl LegFactory {
    pub(super) fn new(cfg: ConferenceConfig, mix_rate: u32) -> Self {
        let n = cfg.max_legs;
        Self {
            mix_frame: (mix_rate * cfg.ptime_ms / 1000) as usize,
            mix_rate,
            slots: vec![None; n],
            generations: vec![0; n],
            groups: vec![None; n],
            rng: cfg.seed | 1,
            cfg,
        }
    }

    /// The mix rate legs are built for.
    pub fn mix_rate(&self) -> u32 {
        self.mix_rate
    }

    pub(super) fn set_mix_rate(&mut self, rate: u32) {
        self.mix_rate = rate;
        self.mix_frame = (rate * self.cfg.ptime_ms / 1000) as usize;
    }

    /// Legs handed out and not yet released.
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// Whether no leg is out.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn next_random(&mut self) -> u32 {
        // xorshift64*: seeded, deterministic.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    /// The index of the group for `codec` at `gain_db`, and the group itself when it is new.
    fn group_for(
        &self,
        codec: CodecSpec,
        gain_db: f32,
    ) -> Result<(usize, Option<Box<Group>>), ConferenceError> {
        let bits = gain_db.to_bits();
        if let Some(i) = self
            .groups
            .iter()
            .position(|g| g.is_some_and(|g| g.codec == codec && g.gain_bits == bits))
        {
            return Ok((i, None));
        }
        let i = self
            .groups
            .iter()
            .position(Option::is_none)
            .ok_or(ConferenceError::Full {
                max_legs: self.cfg.max_legs,
            })?;
        let g = make_group(&self.cfg, self.mix_rate, self.mix_frame, codec, gain_db)?;
        Ok((i, Some(Box::new(g))))
    }

    fn join_group(&mut self, i: usize, codec: CodecSpec, gain_db: f32) {
        match &mut self.groups[i] {
            Some(k) => k.members += 1,
            g @ None => {
                *g = Some(GroupKey {
                    codec,
                    gain_bits: gain_db.to_bits(),
                    members: 1,
                });
            }
        }
    }

    fn leave_group(&mut self, i: usize) {
        if let Some(k) = &mut self.groups[i] {
            k.members -= 1;
            if k.members == 0 {
                self.groups[i] = None;
            }
        }
    }

    /// Builds a leg joining at conference time `now`. The leg's codec is normalised with [`leg_codec`].
    /// When the conference's mix rate is [`MixRate::Highest`], the leg is built for the current mix rate
    /// (only [`super::Conference::add_leg`] raises it).
    ///
    /// # Errors
    /// [`ConferenceError::Full`], or the leg's codec, chain or SRTP keying failed.
    pub fn prepare(&mut self, mut cfg: LegConfig, now: Duration) -> Result<PreparedLeg, ConferenceError> {
        cfg.codec = leg_codec(cfg.codec, self.cfg.mix_rate);
        let slot = self
            .slots
            .iter()
            .position(Option::is_none)
            .ok_or(ConferenceError::Full {
                max_legs: self.cfg.max_legs,
            })?;
        let (gi, group) = self.group_for(cfg.codec, cfg.gain_out_db)?;
        let generation = self.generations[slot].wrapping_add(1);
        let id = LegId {
            slot: slot as u32,
            generation,
        };
        let ssrc = match cfg.local_ssrc {
            Some(s) => s,
            None => self.next_random(),
        };
        let seq0 = self.next_random() as u16;
        let ts0 = self.next_random();
        let (codec, gain_db) = (cfg.codec, cfg.gain_out_db);
        let leg = Leg::new(id, cfg, &self.cfg, self.mix_rate, ssrc, seq0, ts0, now, gi)?;
        self.generations[slot] = generation;
        self.slots[slot] = Some(SlotInfo {
            generation,
            group: gi,
        });
        self.join_group(gi, codec, gain_db);
        Ok(PreparedLeg {
            leg: Box::new(leg),
            group,
        })
    }

    /// Moves a leg to the group of `codec` at `gain_db` (control side): the new group index and the group
    /// itself when it is new.
    pub(super) fn regroup(
        &mut self,
        id: LegId,
        codec: CodecSpec,
        gain_db: f32,
    ) -> Result<(usize, Option<Box<Group>>), ConferenceError> {
        let old = self.slot(id)?.group;
        let (gi, group) = self.group_for(codec, gain_db)?;
        if gi != old {
            self.join_group(gi, codec, gain_db);
            self.leave_group(old);
            if let Some(s) = &mut self.slots[id.slot()] {
                s.group = gi;
            }
        }
        Ok((gi, group))
    }

    fn slot(&self, id: LegId) -> Result<SlotInfo, ConferenceError> {
        match self.slots.get(id.slot()) {
            Some(Some(s)) if s.generation == id.generation => Ok(*s),
            _ => Err(ConferenceError::NoSuchLeg(id)),
        }
    }

    /// Frees the slot and group membership of a leg that was taken out of the mixer, or that was prepared
    /// and never inserted.
    ///
    /// # Errors
    /// [`ConferenceError::NoSuchLeg`] for an id this factory did not hand out or already released.
    pub fn release(&mut self, id: LegId) -> Result<(), ConferenceError> {
        let s = self.slot(id)?;
        self.slots[id.slot()] = None;
        self.leave_group(s.group);
        Ok(())
    }

    pub(super) fn uses_highest(&self) -> bool {
        self.cfg.mix_rate == MixRate::Highest
    }
}
