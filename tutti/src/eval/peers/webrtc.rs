//! WebRTC audio processing 0.3 through the C++ shim `webrtc_shim.cpp`.
#![allow(unsafe_code)]

use std::os::raw::{c_int, c_void};

use crate::eval::systems::{run_frames, Run, System, FRAME};
use crate::eval::{EvalError, Suite};

extern "C" {
    fn tutti_apm_create(task: c_int, rate: c_int) -> *mut c_void;
    fn tutti_apm_process(
        h: *mut c_void,
        rate: c_int,
        near_in: *const f32,
        far_in: *const f32,
        out: *mut f32,
        frames: c_int,
    ) -> c_int;
    fn tutti_apm_destroy(h: *mut c_void);
}

/// The WebRTC APM 0.3 peer.
pub struct WebRtc;

struct Apm(*mut c_void);

impl Drop for Apm {
    fn drop(&mut self) {
        // SAFETY: the pointer comes from `tutti_apm_create` (checked non-null) and is destroyed once.
        unsafe { tutti_apm_destroy(self.0) }
    }
}

impl System for WebRtc {
    fn name(&self) -> &str {
        "webrtc"
    }
    fn supports(&self, _: Suite) -> bool {
        true
    }
    fn run(&self, suite: Suite, mic: &[f32], far: &[f32]) -> Result<Run, EvalError> {
        // SAFETY: plain constructor call; the result is checked for null.
        let h = unsafe { tutti_apm_create(suite as c_int, 16000) };
        if h.is_null() {
            return Err(EvalError::Peer {
                peer: "webrtc".into(),
                detail: "AudioProcessing::Create or its configuration failed".into(),
            });
        }
        let apm = Apm(h);
        let aec = suite == Suite::Aec;
        run_frames(mic, far, |m, r, o| {
            // SAFETY: `apm` is live; `m`, `r` and `o` hold FRAME (= 10 ms at 16 kHz) samples each, the
            // frame the shim checks against the APM's stream config.
            let e = unsafe {
                tutti_apm_process(
                    apm.0,
                    16000,
                    m.as_ptr(),
                    if aec { r.as_ptr() } else { std::ptr::null() },
                    o.as_mut_ptr(),
                    FRAME as c_int,
                )
            };
            if e != 0 {
                return Err(EvalError::Peer {
                    peer: "webrtc".into(),
                    detail: format!("ProcessStream returned error {e}"),
                });
            }
            Ok(())
        })
    }
}
