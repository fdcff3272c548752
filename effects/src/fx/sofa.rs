//! Reading HRTF sets from SOFA files (AES69) through libmysofa (FFI).
//!
//! # What
//! [`SofaHrtf`] opens a SOFA file and returns the left/right head-related impulse responses for a
//! direction, resampled by libmysofa to the requested rate. Directions use the SOFA convention:
//! azimuth in degrees counter-clockwise from the front (+90° = left), elevation in degrees up.
//!
//! # How
//! libmysofa (Debian `libmysofa1`/`libmysofa-dev`) reads the HDF5 container, converts positions to
//! Cartesian, resamples the filters and builds a k-d tree. [`SofaHrtf::filter`] calls
//! `mysofa_getfilter_float` with the direction on the sphere of the measurement radius; libmysofa returns
//! the measured HRIR exactly when the direction is a measurement position, and otherwise an
//! inverse-distance-weighted mix of the nearest measurement and its neighbours. Files are opened without
//! loudness normalisation (`mysofa_open_no_norm`), so filters equal the file's data. Non-zero
//! `Data.Delay` values are applied as leading zeros.
//!
//! # Real-time safety
//! None: opening and filter look-ups run on the control side (`pan3d` precomputes a grid in `prepare`).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::raw::{c_char, c_float, c_int, c_void};
use std::ptr::NonNull;

#[repr(C)]
struct MysofaLookup {
    kdtree: *mut c_void,
    radius_min: c_float,
    radius_max: c_float,
    theta_min: c_float,
    theta_max: c_float,
    phi_min: c_float,
    phi_max: c_float,
}

#[repr(C)]
struct MysofaEasy {
    hrtf: *mut c_void,
    lookup: *mut MysofaLookup,
    neighborhood: *mut c_void,
    fir: *mut c_float,
}

#[link(name = "mysofa")]
extern "C" {
    fn mysofa_open_no_norm(
        filename: *const c_char,
        samplerate: c_float,
        filterlength: *mut c_int,
        err: *mut c_int,
    ) -> *mut MysofaEasy;
    fn mysofa_getfilter_float(
        easy: *mut MysofaEasy,
        x: c_float,
        y: c_float,
        z: c_float,
        ir_left: *mut c_float,
        ir_right: *mut c_float,
        delay_left: *mut c_float,
        delay_right: *mut c_float,
    );
    fn mysofa_close(easy: *mut MysofaEasy);
}

/// An open SOFA HRTF set (see the module docs).
pub struct SofaHrtf {
    easy: NonNull<MysofaEasy>,
    len: usize,
    rate: u32,
    radius: f32,
}

// SAFETY: the handle is owned exclusively by this value (no aliases are handed out) and libmysofa keeps no
// thread-local state for it, so moving it to another thread is sound.
unsafe impl Send for SofaHrtf {}

impl std::fmt::Debug for SofaHrtf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SofaHrtf")
            .field("len", &self.len)
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl SofaHrtf {
    /// Opens `path`, with filters resampled to `rate` Hz.
    pub fn open(path: &str, rate: u32) -> Result<Self, String> {
        if !std::path::Path::new(path).is_file() {
            return Err(format!(
                "SOFA file '{path}' not found (Debian: libmysofa1 ships MIT_KEMAR_normal_pinna.sofa)"
            ));
        }
        let c = CString::new(path).map_err(|_| format!("SOFA path '{path}' contains a NUL byte"))?;
        let (mut len, mut err): (c_int, c_int) = (0, 0);
        // SAFETY: `c` is a valid NUL-terminated string that outlives the call; the out-pointers point to
        // live locals.
        let p = unsafe { mysofa_open_no_norm(c.as_ptr(), rate as c_float, &mut len, &mut err) };
        let easy = NonNull::new(p).ok_or_else(|| format!("libmysofa cannot open '{path}' (error {err})"))?;
        // SAFETY: `easy` was just returned non-null by mysofa_open_no_norm, which fills `lookup`.
        let radius = unsafe {
            let l = easy.as_ref().lookup;
            if l.is_null() {
                1.0
            } else {
                ((*l).radius_min + (*l).radius_max) / 2.0
            }
        };
        if len <= 0 {
            // SAFETY: `easy` is a live handle from mysofa_open_no_norm, closed exactly once here.
            unsafe { mysofa_close(easy.as_ptr()) };
            return Err(format!("SOFA file '{path}' has no filters"));
        }
        Ok(Self {
            easy,
            len: len as usize,
            rate,
            radius,
        })
    }

    /// Filter length in samples (at the opened rate, before any delay padding).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the filters are empty (never for an opened file).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The rate the filters were resampled to.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Left and right HRIRs for `azimuth`/`elevation` (degrees, SOFA convention), each of
    /// [`SofaHrtf::len`] samples plus the file's delay (in whole samples) as leading zeros.
    pub fn filter(&mut self, azimuth: f32, elevation: f32) -> (Vec<f32>, Vec<f32>) {
        let (az, el) = (azimuth.to_radians(), elevation.to_radians());
        let r = self.radius;
        let (x, y, z) = (r * el.cos() * az.cos(), r * el.cos() * az.sin(), r * el.sin());
        let mut left = vec![0.0f32; self.len];
        let mut right = vec![0.0f32; self.len];
        let (mut dl, mut dr) = (0.0f32, 0.0f32);
        // SAFETY: `easy` is live; `left`/`right` hold `len` floats as libmysofa writes for this handle
        // (the filter length it reported on open); the delay out-pointers point to live locals.
        unsafe {
            mysofa_getfilter_float(
                self.easy.as_ptr(),
                x,
                y,
                z,
                left.as_mut_ptr(),
                right.as_mut_ptr(),
                &mut dl,
                &mut dr,
            )
        };
        let pad = |v: Vec<f32>, d: f32| -> Vec<f32> {
            let n = (d * self.rate as f32).round().max(0.0) as usize;
            if n == 0 {
                return v;
            }
            let mut o = vec![0.0; n];
            o.extend_from_slice(&v);
            o
        };
        (pad(left, dl), pad(right, dr))
    }
}

impl Drop for SofaHrtf {
    fn drop(&mut self) {
        // SAFETY: the handle is live and owned by this value; it is closed exactly once.
        unsafe { mysofa_close(self.easy.as_ptr()) };
    }
}
