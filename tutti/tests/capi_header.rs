//! The committed C header `tutti/include/tutti.h` cannot go stale: it must equal what cbindgen generates
//! from `src/capi` with `cbindgen.toml`, and it must compile as C11 and C++ with every warning an error.
//!
//! Needs the `cbindgen` CLI 0.29 (`cargo install cbindgen --version 0.29.4 --locked`; scripts/setup.sh
//! installs it) and `cc`/`c++`. To update the header after changing the C ABI:
//! `TUTTI_BLESS_HEADER=1 cargo test --release -p tutti --test capi_header`.

use std::path::Path;
use std::process::Command;

const CBINDGEN_SERIES: &str = "cbindgen 0.29.";

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn committed_header_matches_cbindgen() {
    let version = Command::new("cbindgen")
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!(
            "cannot run cbindgen ({e}): install it with `cargo install cbindgen --version 0.29.4 --locked` \
             (scripts/setup.sh does)"
        )
        });
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    assert!(
        version.starts_with(CBINDGEN_SERIES),
        "found {version}, the header is generated with {CBINDGEN_SERIES}x \
         (`cargo install cbindgen --version 0.29.4 --locked`)"
    );
    let dir = tempfile::tempdir().expect("temporary directory");
    let generated = dir.path().join("tutti.h");
    let out = Command::new("cbindgen")
        .current_dir(manifest_dir())
        .args(["--config", "cbindgen.toml", "--output"])
        .arg(&generated)
        .arg("src/capi/mod.rs")
        .output()
        .expect("cbindgen ran before");
    assert!(
        out.status.success(),
        "cbindgen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = std::fs::read_to_string(&generated).expect("cbindgen wrote the header");
    let committed_path = manifest_dir().join("include/tutti.h");
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    if new != committed {
        if std::env::var_os("TUTTI_BLESS_HEADER").is_some() {
            std::fs::write(&committed_path, &new).expect("write include/tutti.h");
            return;
        }
        panic!(
            "tutti/include/tutti.h is stale: the C ABI changed. Regenerate it with \
             `TUTTI_BLESS_HEADER=1 cargo test --release -p tutti --test capi_header` and commit it."
        );
    }
    for name in [
        "tutti_engine_new_chain",
        "tutti_engine_process_i16",
        "tutti_engine_push_far_f32",
        "TUTTI_STATUS_PANIC",
        "typedef struct TuttiEngine TuttiEngine;",
    ] {
        assert!(new.contains(name), "header lacks {name}");
    }
}

#[test]
fn header_compiles_as_c_and_cpp() {
    let include = manifest_dir().join("include");
    let dir = tempfile::tempdir().expect("temporary directory");
    let src = "#include \"tutti.h\"\n\
               int main(void) {\n\
               TuttiEngine *e = 0;\n\
               TuttiStatus s = tutti_engine_new_chain(\"gain\", 48000, 1, 480, &e);\n\
               tutti_engine_free(e);\n\
               return s == TUTTI_STATUS_OK ? 0 : (int)s;\n\
               }\n";
    for (compiler, std, file) in [("cc", "-std=c11", "t.c"), ("c++", "-std=c++17", "t.cpp")] {
        let path = dir.path().join(file);
        std::fs::write(&path, src).expect("write test source");
        let out = Command::new(compiler)
            .args([
                std,
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                "-fsyntax-only",
                "-I",
            ])
            .arg(&include)
            .arg(&path)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {compiler} ({e}); install build-essential"));
        assert!(
            out.status.success(),
            "{compiler} rejects tutti.h: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
