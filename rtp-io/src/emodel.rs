//! ITU-T G.107 E-model: transmission rating R and estimated MOS for a call leg.
//!
//! # What
//! [`EModel`] holds the E-model's input parameters (ITU-T G.107 (06/2015), Table 3 defaults) and computes
//! the rating factor `R = Ro − Is − Id − Ie,eff + A` (clause 7.1) and the MOS estimate of Annex B. With
//! every parameter at its default, R = 93.2. [`EModel::for_leg`] fills in what a receive leg measures:
//! one-way delay, packet loss (random or bursty) and the codec's equipment impairment `Ie` and packet-loss
//! robustness `Bpl` (ITU-T G.113 Appendix I; [`codec_impairment`]).
//!
//! # How
//! Direct transcription of G.107 clauses 7.2–7.7: basic signal-to-noise ratio `Ro` (7.2), simultaneous
//! impairments `Is` (7.3: `Iolr`, `Ist`, `Iq`), delay impairments `Id` (7.4: talker echo `Idte`, listener
//! echo `Idle`, absolute delay `Idd` with `mT` = 100 ms and `sT` = 1), effective equipment impairment
//! `Ie,eff = Ie + (95 − Ie)·Ppl / (Ppl/BurstR + Bpl)` (7.5).
//!
//! # Real-time safety
//! Pure arithmetic on `f64`; called when statistics are reported, not per packet.

/// Inputs of the E-model (names and units as in ITU-T G.107 Table 3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EModel {
    /// Send loudness rating, dB.
    pub slr: f64,
    /// Receive loudness rating, dB.
    pub rlr: f64,
    /// Sidetone masking rating, dB.
    pub stmr: f64,
    /// Listener sidetone rating, dB.
    pub lstr: f64,
    /// D-value of telephone, send side.
    pub ds: f64,
    /// D-value of telephone, receive side.
    pub dr: f64,
    /// Talker echo loudness rating, dB.
    pub telr: f64,
    /// Weighted echo path loss, dB.
    pub wepl: f64,
    /// Mean one-way delay of the echo path, ms.
    pub t: f64,
    /// Round-trip delay in a 4-wire loop, ms.
    pub tr: f64,
    /// Absolute one-way delay in echo-free connections, ms.
    pub ta: f64,
    /// Number of quantization distortion units.
    pub qdu: f64,
    /// Equipment impairment factor of the codec.
    pub ie: f64,
    /// Packet-loss robustness factor of the codec.
    pub bpl: f64,
    /// Random packet-loss probability, %.
    pub ppl: f64,
    /// Burst ratio (1 = random loss).
    pub burst_r: f64,
    /// Circuit noise referred to the 0 dBr point, dBm0p.
    pub nc: f64,
    /// Noise floor at the receive side, dBmp.
    pub nfor: f64,
    /// Room noise at the send side, dB(A).
    pub ps: f64,
    /// Room noise at the receive side, dB(A).
    pub pr: f64,
    /// Advantage factor.
    pub a: f64,
}

impl Default for EModel {
    /// The default values of G.107 Table 3 (R = 93.2).
    fn default() -> Self {
        Self {
            slr: 8.0,
            rlr: 2.0,
            stmr: 15.0,
            lstr: 18.0,
            ds: 3.0,
            dr: 3.0,
            telr: 65.0,
            wepl: 110.0,
            t: 0.0,
            tr: 0.0,
            ta: 0.0,
            qdu: 1.0,
            ie: 0.0,
            bpl: 4.3,
            ppl: 0.0,
            burst_r: 1.0,
            nc: -70.0,
            nfor: -64.0,
            ps: 35.0,
            pr: 35.0,
            a: 0.0,
        }
    }
}

/// Equipment impairment `Ie` and packet-loss robustness `Bpl` of a codec by its CLI/RTP name.
///
/// G.711 with Appendix I PLC: Ie 0, Bpl 25.1 (G.113 Table I.3). G.722 and Opus are wideband codecs that the
/// narrowband E-model does not rate; they are given G.711-with-PLC values (Ie 0, Bpl 25.1), which
/// understates their quality (documented assumption). Unknown codecs: Ie 0, Bpl 4.3 (no PLC).
pub fn codec_impairment(codec: &str) -> (f64, f64) {
    // Case-insensitive without allocating (statistics are taken on real-time threads).
    let is = |names: &[&str]| names.iter().any(|n| codec.eq_ignore_ascii_case(n));
    if is(&["pcmu", "pcma", "g711"]) || is(&["g722", "g722-56", "g722-48", "opus"]) {
        (0.0, 25.1)
    } else if is(&["g729", "g729a"]) {
        (11.0, 19.0)
    } else if is(&["g723", "g723.1"]) {
        (15.0, 16.1)
    } else {
        (0.0, 4.3)
    }
}

impl EModel {
    /// The model for a receive leg: codec `codec`, one-way delay `delay_ms` (network + jitter buffer +
    /// codec), packet loss `loss_pct` (%), and `burst_r` (1 for random loss). Echo is assumed controlled
    /// (TELR default), so the delay acts through `Ta` (and `T`, `Tr = 2·T`).
    pub fn for_leg(codec: &str, delay_ms: f64, loss_pct: f64, burst_r: f64) -> Self {
        let (ie, bpl) = codec_impairment(codec);
        let d = delay_ms.max(0.0);
        Self {
            t: d,
            tr: 2.0 * d,
            ta: d,
            ie,
            bpl,
            ppl: loss_pct.clamp(0.0, 100.0),
            burst_r: burst_r.max(1.0),
            ..Self::default()
        }
    }

    fn no(&self) -> f64 {
        let olr = self.slr + self.rlr;
        let nfo = self.nfor + self.rlr;
        let pre = self.pr + 10.0 * (1.0 + 10f64.powf((10.0 - self.lstr) / 10.0)).log10();
        let nor = self.rlr - 121.0 + pre + 0.008 * (pre - 35.0).powi(2);
        let nos = self.ps - self.slr - self.ds - 100.0 + 0.004 * (self.ps - olr - self.ds - 14.0).powi(2);
        10.0 * (10f64.powf(self.nc / 10.0)
            + 10f64.powf(nos / 10.0)
            + 10f64.powf(nor / 10.0)
            + 10f64.powf(nfo / 10.0))
        .log10()
    }

    /// Basic signal-to-noise ratio `Ro` (G.107 7.2).
    pub fn ro(&self) -> f64 {
        15.0 - 1.5 * (self.slr + self.no())
    }

    fn ist(&self) -> f64 {
        let stmro = -10.0
            * (10f64.powf(-self.stmr / 10.0) + (-self.t / 4.0).exp() * 10f64.powf(-self.telr / 10.0)).log10();
        12.0 * (1.0 + ((stmro - 13.0) / 6.0).powi(8)).powf(1.0 / 8.0)
            - 28.0 * (1.0 + ((stmro + 1.0) / 19.4).powi(35)).powf(1.0 / 35.0)
            - 13.0 * (1.0 + ((stmro - 3.0) / 33.0).powi(13)).powf(1.0 / 13.0)
            + 29.0
    }

    /// Simultaneous impairment factor `Is = Iolr + Ist + Iq` (G.107 7.3).
    pub fn is(&self) -> f64 {
        let no = self.no();
        let olr = self.slr + self.rlr;
        let xolr = olr + 0.2 * (64.0 + no - self.rlr);
        let iolr = 20.0 * ((1.0 + (xolr / 8.0).powi(8)).powf(1.0 / 8.0) - xolr / 8.0);
        let q = 37.0 - 15.0 * self.qdu.log10();
        let g = 1.07 + 0.258 * q + 0.0602 * q * q;
        let y = (self.ro() - 100.0) / 15.0 + 46.0 / 8.4 - g / 9.0;
        let z = 46.0 / 30.0 - g / 40.0;
        let iq = 15.0 * (1.0 + 10f64.powf(y) + 10f64.powf(z)).log10();
        iolr + self.ist() + iq
    }

    /// Delay impairment factor `Id = Idte + Idle + Idd` (G.107 7.4).
    pub fn id(&self) -> f64 {
        let t = self.t;
        let no = self.no();
        let mut terv =
            self.telr - 40.0 * ((1.0 + t / 10.0) / (1.0 + t / 150.0)).log10() + 6.0 * (-0.3 * t * t).exp();
        let ist = self.ist();
        if self.stmr < 9.0 {
            terv += ist / 2.0;
        }
        let re = 80.0 + 2.5 * (terv - 14.0);
        let roe = -1.5 * (no - self.rlr);
        let mut idte =
            ((roe - re) / 2.0 + ((roe - re).powi(2) / 4.0 + 100.0).sqrt() - 1.0) * (1.0 - (-t).exp());
        if self.stmr > 20.0 {
            idte = (idte * idte + ist * ist).sqrt();
        }
        let rle = 10.5 * (self.wepl + 7.0) * (self.tr + 1.0).powf(-0.25);
        let ro = self.ro();
        let idle = (ro - rle) / 2.0 + ((ro - rle).powi(2) / 4.0 + 169.0).sqrt();
        let idd = if self.ta <= 100.0 {
            0.0
        } else {
            let x = (self.ta / 100.0).log2();
            25.0 * ((1.0 + x.powi(6)).powf(1.0 / 6.0) - 3.0 * (1.0 + (x / 3.0).powi(6)).powf(1.0 / 6.0) + 2.0)
        };
        idte + idle + idd
    }

    /// Effective equipment impairment `Ie,eff` (G.107 7.5).
    pub fn ie_eff(&self) -> f64 {
        self.ie + (95.0 - self.ie) * self.ppl / (self.ppl / self.burst_r + self.bpl)
    }

    /// The transmission rating factor R.
    pub fn r(&self) -> f64 {
        self.ro() - self.is() - self.id() - self.ie_eff() + self.a
    }

    /// The estimated MOS (conversational quality, G.107 Annex B) for this model's R.
    pub fn mos(&self) -> f64 {
        mos_from_r(self.r())
    }
}

/// MOS_CQE from a rating factor R (G.107 Annex B, eq. B-4).
pub fn mos_from_r(r: f64) -> f64 {
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// G.107 7.1: "the default values … result in R = 93.2".
    #[test]
    fn default_r_is_93_2() {
        let m = EModel::default();
        assert!((m.r() - 93.2).abs() < 0.05, "R = {}", m.r());
        assert!((m.ro() - 94.77).abs() < 0.05, "Ro = {}", m.ro());
        assert!((m.is() - 1.41).abs() < 0.05, "Is = {}", m.is());
        assert!((m.mos() - 4.41).abs() < 0.01, "MOS = {}", m.mos());
    }

    /// Ie,eff for G.711 with PLC (Bpl 25.1) and 2 % random loss: 0 + 95·2/(2+25.1) = 7.01.
    #[test]
    fn packet_loss_impairment() {
        let m = EModel::for_leg("pcmu", 0.0, 2.0, 1.0);
        assert!((m.ie_eff() - 95.0 * 2.0 / 27.1).abs() < 1e-9);
        let bursty = EModel::for_leg("pcmu", 0.0, 2.0, 2.0);
        assert!(bursty.ie_eff() > m.ie_eff());
        assert!((EModel::default().r() - m.r() - m.ie_eff()).abs() < 0.01);
    }

    /// Idd of G.107 7.4 at Ta = 200 ms (X = 1): 25·((2)^(1/6) − 3·(1+(1/3)^6)^(1/6) + 2) ≈ 3.06.
    #[test]
    fn absolute_delay_impairment() {
        let m = EModel {
            ta: 200.0,
            ..EModel::default()
        };
        let x: f64 = 1.0;
        let want = 25.0
            * ((1.0 + x.powi(6)).powf(1.0 / 6.0) - 3.0 * (1.0 + (x / 3.0).powi(6)).powf(1.0 / 6.0) + 2.0);
        assert!((m.id() - EModel::default().id() - want).abs() < 1e-9);
        // R falls monotonically with delay and loss.
        let mut last = f64::INFINITY;
        for d in [0.0, 100.0, 200.0, 300.0, 400.0, 600.0] {
            let r = EModel::for_leg("pcma", d, 1.0, 1.0).r();
            assert!(r <= last + 1e-9, "delay {d}: R {r} > {last}");
            last = r;
        }
    }

    #[test]
    fn mos_mapping() {
        assert_eq!(mos_from_r(-5.0), 1.0);
        assert_eq!(mos_from_r(120.0), 4.5);
        assert!((mos_from_r(50.0) - 2.58).abs() < 0.01);
    }
}
