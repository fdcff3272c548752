//! fx-b's processors (reverb FDN and convolution, pan3d SOFA and model, pitch_shift, time_stretch) make
//! no allocation in `process`, including while parameters change.

#[global_allocator]
static A: tutti_engine::CountingAllocator = tutti_engine::CountingAllocator;

mod fxb_util;

use tutti_engine::{count_allocations, counting_is_active, Inputs, Outputs, StreamConfig};

fn pairs(kv: &[(&str, String)]) -> Vec<(String, String)> {
    kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

#[test]
fn process_does_not_allocate() {
    assert!(counting_is_active(), "counting allocator not installed");
    let dir = fxb_util::scratch("alloc");
    let ir = dir.join("ir.wav");
    let h: Vec<f32> = (0..3000).map(|i| ((i * 7919) % 13) as f32 / 13.0 - 0.5).collect();
    fxb_util::write_wav(&ir, 44_100, &[h]);
    let sofa = "/usr/share/libmysofa/MIT_KEMAR_normal_pinna.sofa";
    assert!(
        std::path::Path::new(sofa).is_file(),
        "{sofa} missing: install libmysofa1 (scripts/setup.sh)"
    );
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("reverb", vec![]),
        (
            "reverb",
            vec![("ir", ir.to_str().unwrap().into()), ("predelay", "20".into())],
        ),
        ("pan3d", vec![]),
        ("pan3d", vec![("sofa", sofa.into())]),
        ("pitch_shift", vec![("semitones", "3".into())]),
        (
            "pitch_shift",
            vec![("semitones", "-7".into()), ("mode", "speech".into())],
        ),
        (
            "pitch_shift",
            vec![("semitones", "-5".into()), ("formant", "on".into())],
        ),
        ("time_stretch", vec![("factor", "1.3".into())]),
        (
            "time_stretch",
            vec![("factor", "0.7".into()), ("mode", "speech".into())],
        ),
    ];
    let types = tutti_effects::node_types();
    for channels in [1usize, 2] {
        for (name, kv) in &cases {
            let ty = types.iter().find(|t| t.name == *name).expect("registered");
            let mut p = ty.build(&pairs(kv)).expect("builds");
            let cfg = StreamConfig::new(48_000, channels, 10.0).unwrap();
            p.prepare(&cfg).unwrap();
            let b = cfg.block_frames;
            let pool = vec![(0..channels * b)
                .map(|i| ((i as f32) * 0.37).sin() * 0.3)
                .collect::<Vec<f32>>()];
            let idx = [0usize];
            let mut outs = vec![vec![0.0f32; p.output_channels(0, &cfg) * b]];
            let params = p.params();
            for k in 0..300 {
                let ((), c) = count_allocations(|| {
                    if k % 7 == 3 {
                        for (i, pi) in params.iter().enumerate() {
                            let v = pi.min + (pi.max - pi.min) * (((k * (i + 3)) % 11) as f32 / 10.0);
                            p.set_param(i, v);
                        }
                    }
                    let ins = Inputs::new(&pool, &idx, b);
                    let mut o = Outputs::new(&mut outs, b);
                    p.process(&ins, &mut o);
                });
                assert!(
                    c.is_zero(),
                    "{name} {kv:?} ({channels} ch) allocated in block {k}: {c:?}"
                );
            }
            assert!(outs[0].iter().all(|v| v.is_finite()), "{name}: non-finite output");
        }
    }
}
