//! Active-talker selection: which legs are mixed this tick.
//!
//! # What
//! [`TalkerSelector`] picks at most K legs (default 3) whose audio goes into the mix, so that the noise of
//! idle legs never adds up (with 100 legs, mixing everyone would raise the noise floor by 20 dB), and so that
//! the choice does not flap between talkers of similar level.
//!
//! # How
//! Per leg and tick: the frame energy in dBov; a smoothed level (fast attack, 200 ms release); a noise floor
//! that follows minima at once and rises slowly (3 dB/s, in the manner of minimum-statistics trackers); speech
//! is present when the frame is 9 dB above the floor and above an absolute floor (−55 dBov by default),
//! extended by a hangover (600 ms) to bridge the gaps between words. Selection with hysteresis, as
//! conference bridges do (e.g. the "dominant speaker" logic of RFC 7667 §3.6 mixers and SFUs):
//! a talker keeps its slot while it is active; a free slot goes to the loudest active leg; a leg takes a
//! slot from the quietest talker only after being louder by a margin (4 dB) for a hold time (300 ms).
//!
//! # Real-time safety
//! `update` works on preallocated per-leg state; it allocates nothing.

/// Parameters of [`TalkerSelector`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TalkerConfig {
    /// At most this many legs are mixed (K).
    pub max_talkers: usize,
    /// Absolute activity floor in dBov.
    pub floor_dbov: f32,
    /// Speech must be this far above the leg's noise floor, in dB.
    pub snr_db: f32,
    /// Hangover after the last speech frame, in ms.
    pub hangover_ms: u32,
    /// A challenger must be louder than the quietest talker by this margin, in dB…
    pub switch_margin_db: f32,
    /// …for this long, in ms.
    pub switch_hold_ms: u32,
}

impl Default for TalkerConfig {
    fn default() -> Self {
        Self {
            max_talkers: 3,
            floor_dbov: -55.0,
            snr_db: 9.0,
            hangover_ms: 600,
            switch_margin_db: 4.0,
            switch_hold_ms: 300,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct LegVoice {
    present: bool,
    level: f32,
    floor: f32,
    hang_ms: u32,
    louder_ms: u32,
    talking: bool,
}

const EMPTY: LegVoice = LegVoice {
    present: false,
    level: -127.0,
    floor: -127.0,
    hang_ms: 0,
    louder_ms: 0,
    talking: false,
};

/// Active-talker selection over a fixed number of leg slots (see the module docs).
#[derive(Debug, Clone)]
pub struct TalkerSelector {
    cfg: TalkerConfig,
    legs: Vec<LegVoice>,
    changes: u64,
}

impl TalkerSelector {
    /// A selector for up to `slots` legs.
    pub fn new(cfg: TalkerConfig, slots: usize) -> Self {
        Self {
            cfg,
            legs: vec![EMPTY; slots],
            changes: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &TalkerConfig {
        &self.cfg
    }

    /// Marks slot `i` as a (new) leg with fresh state.
    pub fn join(&mut self, i: usize) {
        self.legs[i] = LegVoice {
            present: true,
            floor: -70.0,
            ..EMPTY
        };
    }

    /// Frees slot `i`.
    pub fn leave(&mut self, i: usize) {
        if self.legs[i].talking {
            self.changes += 1;
        }
        self.legs[i] = EMPTY;
    }

    /// Whether slot `i` is a selected talker.
    pub fn is_talking(&self, i: usize) -> bool {
        self.legs[i].talking
    }

    /// Smoothed level of slot `i` in dBov.
    pub fn level(&self, i: usize) -> f32 {
        self.legs[i].level
    }

    /// Whether slot `i` currently carries speech (including the hangover).
    pub fn is_active(&self, i: usize) -> bool {
        self.legs[i].hang_ms > 0
    }

    /// How many times a leg entered or left the talker set.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Updates the selection with this tick's frame energies (`energy_db[i]` for slot `i`; ignored for empty
    /// slots) after `frame_ms` of audio. `eligible(i)` says whether slot `i` may talk (e.g. not muted).
    pub fn update(&mut self, energy_db: &[f32], frame_ms: u32, eligible: impl Fn(usize) -> bool) {
        let cfg = self.cfg;
        let release = (-(frame_ms as f32) / 200.0).exp();
        let rise = 3.0 * frame_ms as f32 / 1000.0;
        for (i, v) in self.legs.iter_mut().enumerate() {
            if !v.present {
                continue;
            }
            let e = energy_db.get(i).copied().unwrap_or(-127.0);
            v.level = if e > v.level {
                0.5 * (v.level + e)
            } else {
                e + release * (v.level - e)
            };
            v.floor = if e < v.floor { e } else { (v.floor + rise).min(e) };
            let speech = e > cfg.floor_dbov && e > v.floor + cfg.snr_db && eligible(i);
            if speech {
                v.hang_ms = cfg.hangover_ms;
            } else {
                v.hang_ms = v.hang_ms.saturating_sub(frame_ms);
            }
            if !eligible(i) {
                v.hang_ms = 0;
            }
            if v.talking && v.hang_ms == 0 {
                v.talking = false;
                self.changes += 1;
            }
        }
        // Free slots to the loudest active non-talkers.
        loop {
            let talking = self.legs.iter().filter(|v| v.talking).count();
            if talking >= cfg.max_talkers {
                break;
            }
            match self.loudest_candidate() {
                Some(c) => {
                    self.legs[c].talking = true;
                    self.legs[c].louder_ms = 0;
                    self.changes += 1;
                }
                None => break,
            }
        }
        // Challenges with margin and hold time.
        if let Some(w) = self.quietest_talker() {
            let wl = self.legs[w].level;
            let mut winner = None;
            for (i, v) in self.legs.iter_mut().enumerate() {
                if !v.present || v.talking || v.hang_ms == 0 {
                    v.louder_ms = 0;
                    continue;
                }
                if v.level > wl + cfg.switch_margin_db {
                    v.louder_ms += frame_ms;
                    if v.louder_ms >= cfg.switch_hold_ms && winner.is_none_or(|(_, l)| v.level > l) {
                        winner = Some((i, v.level));
                    }
                } else {
                    v.louder_ms = 0;
                }
            }
            if let Some((c, _)) = winner {
                self.legs[w].talking = false;
                self.legs[c].talking = true;
                self.legs[c].louder_ms = 0;
                self.changes += 2;
            }
        }
    }

    fn loudest_candidate(&self) -> Option<usize> {
        let mut best: Option<(usize, f32)> = None;
        for (i, v) in self.legs.iter().enumerate() {
            if v.present && !v.talking && v.hang_ms > 0 && best.is_none_or(|(_, l)| v.level > l) {
                best = Some((i, v.level));
            }
        }
        best.map(|(i, _)| i)
    }

    fn quietest_talker(&self) -> Option<usize> {
        let mut best: Option<(usize, f32)> = None;
        for (i, v) in self.legs.iter().enumerate() {
            if v.talking && best.is_none_or(|(_, l)| v.level < l) {
                best = Some((i, v.level));
            }
        }
        best.map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sel: &mut TalkerSelector, levels: &[f32], ticks: usize) {
        for _ in 0..ticks {
            sel.update(levels, 20, |_| true);
        }
    }

    #[test]
    fn picks_the_k_loudest_and_ignores_noise() {
        let mut s = TalkerSelector::new(TalkerConfig::default(), 8);
        for i in 0..8 {
            s.join(i);
        }
        // Noise floors first (idle legs at −60 dBov stay idle).
        run(&mut s, &[-60.0; 8], 50);
        assert!((0..8).all(|i| !s.is_talking(i)));
        let lv = [-20.0, -26.0, -14.0, -60.0, -30.0, -17.0, -60.0, -40.0];
        run(&mut s, &lv, 100);
        let talking: Vec<usize> = (0..8).filter(|&i| s.is_talking(i)).collect();
        assert_eq!(talking.len(), 3);
        // The three loudest fill the free slots; the others stay out.
        assert_eq!(talking, vec![0, 2, 5]);
    }

    #[test]
    fn hysteresis_against_flapping_and_hangover() {
        let mut s = TalkerSelector::new(
            TalkerConfig {
                max_talkers: 1,
                ..TalkerConfig::default()
            },
            2,
        );
        s.join(0);
        s.join(1);
        run(&mut s, &[-70.0, -70.0], 20);
        run(&mut s, &[-20.0, -70.0], 10);
        assert!(s.is_talking(0));
        let before = s.changes();
        // The other leg is 2 dB louder: inside the margin, no switch.
        run(&mut s, &[-20.0, -18.0], 200);
        assert!(s.is_talking(0) && !s.is_talking(1));
        assert_eq!(s.changes(), before);
        // 10 dB louder for less than the hold time: no switch; longer: switch.
        run(&mut s, &[-20.0, -10.0], 5);
        assert!(s.is_talking(0));
        run(&mut s, &[-20.0, -10.0], 20);
        assert!(s.is_talking(1) && !s.is_talking(0));
        // Silence shorter than the hangover keeps the talker; longer releases it.
        run(&mut s, &[-70.0, -70.0], 20);
        assert!(s.is_talking(1));
        run(&mut s, &[-70.0, -70.0], 20);
        assert!(!s.is_talking(1));
    }

    #[test]
    fn ineligible_legs_never_talk() {
        let mut s = TalkerSelector::new(TalkerConfig::default(), 2);
        s.join(0);
        s.join(1);
        for _ in 0..50 {
            s.update(&[-10.0, -20.0], 20, |i| i != 0);
        }
        assert!(!s.is_talking(0) && s.is_talking(1));
    }
}
