//! Build script of the `tutti` crate: with the `peers` feature, compiles the C++ shim over WebRTC audio
//! processing 0.3 (Debian `libwebrtc-audio-processing-dev`) used by `tutti eval`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "peers")]
    peers();
}

#[cfg(feature = "peers")]
fn peers() {
    let shim = "src/eval/peers/webrtc_shim.cpp";
    println!("cargo:rerun-if-changed={shim}");
    let pc = std::process::Command::new("pkg-config")
        .args(["--cflags", "webrtc-audio-processing"])
        .output();
    let cflags = match pc {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => panic!(
            "the `peers` feature needs libwebrtc-audio-processing-dev and pkg-config (scripts/setup.sh \
             installs them)"
        ),
    };
    let mut b = cc::Build::new();
    b.cpp(true)
        .file(shim)
        .flag_if_supported("-std=c++11")
        .warnings(false);
    for f in cflags.split_whitespace() {
        if let Some(inc) = f.strip_prefix("-I") {
            b.include(inc);
        } else if let Some(def) = f.strip_prefix("-D") {
            let (k, v) = def.split_once('=').map_or((def, None), |(k, v)| (k, Some(v)));
            b.define(k, v);
        }
    }
    b.compile("tutti_webrtc_shim");
    println!("cargo:rustc-link-lib=webrtc_audio_processing");
}
