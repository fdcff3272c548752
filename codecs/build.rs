//! Finds the system libopus (Debian `libopus-dev`) through pkg-config; no bundled build, no download.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if let Err(e) = pkg_config::Config::new().atleast_version("1.1").probe("opus") {
        panic!("tutti-codecs needs the system libopus found by pkg-config (Debian: apt-get install pkg-config libopus-dev; scripts/setup.sh): {e}");
    }
}
