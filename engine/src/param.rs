//! Parameter descriptions and click-free smoothing.
//!
//! # What
//! Every processor describes its run-time parameters with [`ParamInfo`] (name, unit, range, default).
//! Values travel as `f32`; enumerated parameters (e.g. `ns(level=high)`) are indices into
//! [`ParamInfo::choices`]. [`Smoothed`] ramps a value linearly over a short time so that parameter changes
//! make no zipper noise.
//!
//! # Real-time safety
//! [`Smoothed::set_target`] and [`Smoothed::next`] are plain arithmetic: no allocation, no locks.

/// Description of one run-time parameter of a processor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamInfo {
    /// Name as used in chain specs, e.g. `"hz"`.
    pub name: &'static str,
    /// Unit, e.g. `"Hz"`, `"dB"`, `"ms"`, `""` for plain numbers or choices.
    pub unit: &'static str,
    /// Smallest accepted value.
    pub min: f32,
    /// Largest accepted value.
    pub max: f32,
    /// Value used when none is given.
    pub default: f32,
    /// One-line description.
    pub description: &'static str,
    /// For enumerated parameters, the names of the choices (value = index); empty otherwise.
    pub choices: &'static [&'static str],
}

impl ParamInfo {
    /// A continuous parameter.
    pub const fn new(
        name: &'static str,
        unit: &'static str,
        min: f32,
        max: f32,
        default: f32,
        description: &'static str,
    ) -> Self {
        Self {
            name,
            unit,
            min,
            max,
            default,
            description,
            choices: &[],
        }
    }

    /// An enumerated parameter whose value is an index into `choices`.
    pub const fn choice(
        name: &'static str,
        choices: &'static [&'static str],
        default: usize,
        description: &'static str,
    ) -> Self {
        Self {
            name,
            unit: "",
            min: 0.0,
            max: (choices.len() - 1) as f32,
            default: default as f32,
            description,
            choices,
        }
    }

    /// Parses a textual value (a number, or a choice name) and checks the range.
    ///
    /// The error string says what was expected, e.g. `expected 20..=20000 Hz, got 5`.
    pub fn parse(&self, text: &str) -> Result<f32, String> {
        let text = text.trim();
        if !self.choices.is_empty() {
            if let Some(i) = self.choices.iter().position(|c| c.eq_ignore_ascii_case(text)) {
                return Ok(i as f32);
            }
            return match text.parse::<f32>() {
                Ok(v) if v.fract() == 0.0 && v >= self.min && v <= self.max => Ok(v),
                _ => Err(format!(
                    "expected one of {}, got '{text}'",
                    self.choices.join("|")
                )),
            };
        }
        let v: f32 = match text {
            "true" | "on" | "yes" => 1.0,
            "false" | "off" | "no" => 0.0,
            _ => text
                .parse()
                .map_err(|_| format!("expected a number, got '{text}'"))?,
        };
        self.check(v)
    }

    /// Checks that `v` lies in range.
    pub fn check(&self, v: f32) -> Result<f32, String> {
        if v.is_finite() && v >= self.min && v <= self.max {
            Ok(v)
        } else {
            Err(
                format!("expected {}..={} {}, got {v}", self.min, self.max, self.unit)
                    .trim_end()
                    .to_string(),
            )
        }
    }
}

/// A value that follows its target linearly over a fixed number of samples.
///
/// Use one per smoothed parameter: call [`Smoothed::set_target`] when a new value arrives and
/// [`Smoothed::next`] once per sample (or [`Smoothed::advance`] once per block for per-block values).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Smoothed {
    current: f32,
    target: f32,
    step: f32,
    remaining: u32,
    ramp: u32,
}

impl Smoothed {
    /// A smoother resting at `value`, ramping over `ramp_samples` samples on each change.
    pub fn new(value: f32, ramp_samples: u32) -> Self {
        Self {
            current: value,
            target: value,
            step: 0.0,
            remaining: 0,
            ramp: ramp_samples.max(1),
        }
    }

    /// A smoother whose ramp lasts `ms` milliseconds at `sample_rate`.
    pub fn with_time(value: f32, ms: f32, sample_rate: u32) -> Self {
        Self::new(value, (ms * sample_rate as f32 / 1000.0).round() as u32)
    }

    /// Starts a ramp towards `target`.
    pub fn set_target(&mut self, target: f32) {
        if target == self.target {
            return;
        }
        self.target = target;
        self.remaining = self.ramp;
        self.step = (target - self.current) / self.ramp as f32;
    }

    /// Jumps to `value` at once (for `reset` or the first configuration).
    pub fn set_immediate(&mut self, value: f32) {
        self.current = value;
        self.target = value;
        self.remaining = 0;
    }

    /// The next sample's value.
    #[inline]
    pub fn next(&mut self) -> f32 {
        if self.remaining > 0 {
            self.remaining -= 1;
            self.current = if self.remaining == 0 {
                self.target
            } else {
                self.current + self.step
            };
        }
        self.current
    }

    /// Advances `n` samples at once and returns the value reached.
    pub fn advance(&mut self, n: u32) -> f32 {
        if n >= self.remaining {
            self.remaining = 0;
            self.current = self.target;
        } else {
            self.remaining -= n;
            self.current += self.step * n as f32;
        }
        self.current
    }

    /// True while a ramp is in progress.
    pub fn is_ramping(&self) -> bool {
        self.remaining > 0
    }

    /// The value now.
    pub fn current(&self) -> f32 {
        self.current
    }

    /// The value being ramped to.
    pub fn target(&self) -> f32 {
        self.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoother_reaches_target_linearly() {
        let mut s = Smoothed::new(0.0, 4);
        s.set_target(1.0);
        let v: Vec<f32> = (0..6).map(|_| s.next()).collect();
        assert_eq!(v, vec![0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
        assert!(!s.is_ramping());
    }

    #[test]
    fn parse_checks_range_and_choices() {
        let p = ParamInfo::new("hz", "Hz", 20.0, 20000.0, 100.0, "cutoff");
        assert_eq!(p.parse("1000"), Ok(1000.0));
        assert!(p.parse("5").unwrap_err().contains("20..=20000 Hz"));
        assert!(p.parse("abc").is_err());
        let c = ParamInfo::choice("level", &["low", "moderate", "high"], 1, "strength");
        assert_eq!(c.parse("HIGH"), Ok(2.0));
        assert!(c.parse("max").unwrap_err().contains("low|moderate|high"));
    }
}
