//! The `sonora` crate: a pure-Rust port of today's WebRTC audio processing module (AEC3 echo canceller,
//! WebRTC noise suppressor, AGC2 adaptive digital gain with its limiter).

use sonora::config::{
    AdaptiveDigital, EchoCanceller, GainController2, NoiseSuppression, NoiseSuppressionLevel,
};
use sonora::{AudioProcessing, Config, StreamConfig};

use crate::eval::systems::{run_frames, Run, System};
use crate::eval::{EvalError, Suite};

/// The sonora (WebRTC APM with AEC3) peer.
pub struct Sonora;

/// One task per instance, as WebRTC's own demos configure it: AEC3 alone (its high-pass filter is
/// enforced) for `aec`, the noise suppressor at `High` (18 dB, like Tutti's default and the WebRTC 0.3
/// peer) for `ns`, AGC2's adaptive digital controller with default settings for `agc`.
fn config(suite: Suite) -> Config {
    let mut c = Config::default();
    match suite {
        Suite::Aec => c.echo_canceller = Some(EchoCanceller::default()),
        Suite::Ns => {
            c.noise_suppression = Some(NoiseSuppression {
                level: NoiseSuppressionLevel::High,
                ..NoiseSuppression::default()
            })
        }
        Suite::Agc => {
            c.gain_controller2 = Some(GainController2 {
                adaptive_digital: Some(AdaptiveDigital::default()),
                ..GainController2::default()
            })
        }
    }
    c
}

fn peer_error(detail: String) -> EvalError {
    EvalError::Peer {
        peer: "sonora".into(),
        detail,
    }
}

impl System for Sonora {
    fn name(&self) -> &str {
        "sonora"
    }
    fn supports(&self, _: Suite) -> bool {
        true
    }
    fn run(&self, suite: Suite, mic: &[f32], far: &[f32]) -> Result<Run, EvalError> {
        let stream = StreamConfig::new(super::super::speech::RATE, 1);
        let mut apm = AudioProcessing::builder()
            .config(config(suite))
            .capture_config(stream)
            .render_config(stream)
            .build();
        let aec = suite == Suite::Aec;
        let mut far_out = vec![0f32; super::super::systems::FRAME];
        run_frames(mic, far, |m, r, o| {
            if aec {
                apm.process_render_f32(&[r], &mut [&mut far_out[..]])
                    .map_err(|e| peer_error(format!("process_render_f32: {e:?}")))?;
            }
            apm.process_capture_f32(&[m], &mut [o])
                .map_err(|e| peer_error(format!("process_capture_f32: {e:?}")))
        })
    }
}
