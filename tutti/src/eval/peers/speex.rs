//! SpeexDSP 1.2 (Debian `libspeexdsp-dev`) through FFI: echo canceller and preprocessor.
#![allow(unsafe_code)]

use std::os::raw::{c_int, c_void};

use crate::eval::systems::{run_frames, Run, System, FRAME};
use crate::eval::{EvalError, Suite};

#[link(name = "speexdsp")]
extern "C" {
    fn speex_echo_state_init(frame_size: c_int, filter_length: c_int) -> *mut c_void;
    fn speex_echo_state_destroy(st: *mut c_void);
    fn speex_echo_cancellation(st: *mut c_void, rec: *const i16, play: *const i16, out: *mut i16);
    fn speex_echo_ctl(st: *mut c_void, request: c_int, ptr: *mut c_void) -> c_int;
    fn speex_preprocess_state_init(frame_size: c_int, sampling_rate: c_int) -> *mut c_void;
    fn speex_preprocess_state_destroy(st: *mut c_void);
    fn speex_preprocess_ctl(st: *mut c_void, request: c_int, ptr: *mut c_void) -> c_int;
    fn speex_preprocess_run(st: *mut c_void, x: *mut i16) -> c_int;
}

const SPEEX_ECHO_SET_SAMPLING_RATE: c_int = 24;
const SPEEX_PREPROCESS_SET_DENOISE: c_int = 0;
const SPEEX_PREPROCESS_SET_AGC: c_int = 2;
const SPEEX_PREPROCESS_SET_AGC_LEVEL: c_int = 6;
const SPEEX_PREPROCESS_SET_ECHO_STATE: c_int = 24;

/// Echo tail of the canceller: 500 ms at 16 kHz (SpeexDSP has no delay estimator, so the tail must
/// cover the scenes' bulk delays of up to 450 ms).
const TAIL: c_int = 8000;
/// AGC target: −23 dBFS RMS (Tutti's `agc` default) in 16-bit units.
const AGC_LEVEL: f32 = 2320.0;

/// The SpeexDSP peer.
pub struct Speex;

/// Owned SpeexDSP states, destroyed on drop.
struct States {
    echo: *mut c_void,
    pre: *mut c_void,
}

impl Drop for States {
    fn drop(&mut self) {
        // SAFETY: both pointers come from the matching `_init` calls (or are null) and are destroyed
        // exactly once, here.
        unsafe {
            if !self.echo.is_null() {
                speex_echo_state_destroy(self.echo);
            }
            if !self.pre.is_null() {
                speex_preprocess_state_destroy(self.pre);
            }
        }
    }
}

fn to_i16(x: &[f32], out: &mut [i16]) {
    for (o, v) in out.iter_mut().zip(x) {
        *o = crate::wav::f32_to_i16(*v);
    }
}

fn err(detail: &str) -> EvalError {
    EvalError::Peer {
        peer: "speex".into(),
        detail: detail.into(),
    }
}

fn states(suite: Suite) -> Result<States, EvalError> {
    let mut st = States {
        echo: std::ptr::null_mut(),
        pre: std::ptr::null_mut(),
    };
    // SAFETY: constructors with valid sizes; results are checked for null; every ctl call passes a
    // pointer to a live local of the type the request documents (spx_int32_t or float).
    unsafe {
        st.pre = speex_preprocess_state_init(FRAME as c_int, 16000);
        if st.pre.is_null() {
            return Err(err("speex_preprocess_state_init failed"));
        }
        let mut on: i32 = 1;
        let mut off: i32 = 0;
        match suite {
            Suite::Aec => {
                st.echo = speex_echo_state_init(FRAME as c_int, TAIL);
                if st.echo.is_null() {
                    return Err(err("speex_echo_state_init failed"));
                }
                let mut rate: i32 = 16000;
                speex_echo_ctl(
                    st.echo,
                    SPEEX_ECHO_SET_SAMPLING_RATE,
                    (&mut rate as *mut i32).cast(),
                );
                // Residual echo suppression only (denoise off), as Tutti's aec suite chain does.
                speex_preprocess_ctl(
                    st.pre,
                    SPEEX_PREPROCESS_SET_DENOISE,
                    (&mut off as *mut i32).cast(),
                );
                speex_preprocess_ctl(st.pre, SPEEX_PREPROCESS_SET_ECHO_STATE, st.echo);
            }
            Suite::Ns => {
                speex_preprocess_ctl(st.pre, SPEEX_PREPROCESS_SET_DENOISE, (&mut on as *mut i32).cast());
            }
            Suite::Agc => {
                let mut level = AGC_LEVEL;
                speex_preprocess_ctl(
                    st.pre,
                    SPEEX_PREPROCESS_SET_DENOISE,
                    (&mut off as *mut i32).cast(),
                );
                speex_preprocess_ctl(st.pre, SPEEX_PREPROCESS_SET_AGC, (&mut on as *mut i32).cast());
                speex_preprocess_ctl(
                    st.pre,
                    SPEEX_PREPROCESS_SET_AGC_LEVEL,
                    (&mut level as *mut f32).cast(),
                );
            }
        }
    }
    Ok(st)
}

impl System for Speex {
    fn name(&self) -> &str {
        "speex"
    }
    fn supports(&self, _: Suite) -> bool {
        true
    }
    fn run(&self, suite: Suite, mic: &[f32], far: &[f32]) -> Result<Run, EvalError> {
        let st = states(suite)?;
        let mut rec = [0i16; FRAME];
        let mut play = [0i16; FRAME];
        let mut buf = [0i16; FRAME];
        run_frames(mic, far, |m, r, o| {
            to_i16(m, &mut rec);
            // SAFETY: the states are live for the whole closure (owned by `st`); every buffer holds
            // exactly FRAME samples, the frame size the states were created with.
            unsafe {
                if suite == Suite::Aec {
                    to_i16(r, &mut play);
                    speex_echo_cancellation(st.echo, rec.as_ptr(), play.as_ptr(), buf.as_mut_ptr());
                } else {
                    buf = rec;
                }
                speex_preprocess_run(st.pre, buf.as_mut_ptr());
            }
            for (o, v) in o.iter_mut().zip(&buf) {
                *o = f32::from(*v) / 32768.0;
            }
            Ok(())
        })
    }
}
