//! Zero allocations in `process` of the voice nodes ns, agc, eq (both topologies, with run-time changes),
//! vad and cng, at every supported rate, with the counting allocator.
use tutti_engine::{count_allocations, counting_is_active, CountingAllocator, Inputs, Outputs, StreamConfig};

#[global_allocator]
static A: CountingAllocator = CountingAllocator;

#[test]
fn voice_nodes_do_not_allocate_in_process() {
    assert!(counting_is_active());
    let specs: &[(&str, &[(&str, &str)])] = &[
        ("ns", &[("level", "high")]),
        ("agc", &[("mode", "lufs")]),
        ("agc", &[]),
        ("eq", &[("b1", "peak:1000:1:6"), ("b2", "highpass:80:0.7")]),
        ("eq", &[("b1", "lowshelf:300:0.7:3"), ("topology", "svf")]),
        ("vad", &[]),
        ("cng", &[]),
    ];
    for &(name, pairs) in specs {
        for rate in [8_000u32, 16_000, 32_000, 48_000] {
            for channels in [1usize, 2] {
                let ty = tutti_effects::node_types()
                    .into_iter()
                    .find(|t| t.name == name)
                    .unwrap();
                let pairs: Vec<(String, String)> = pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                let mut node = ty.build(&pairs).unwrap();
                let cfg = StreamConfig::new(rate, channels, 10.0).unwrap();
                node.prepare(&cfg).unwrap();
                let frames = cfg.block_frames;
                let mut seed = 7u32;
                let pool: Vec<Vec<f32>> = (0..50)
                    .map(|_| {
                        (0..frames * channels)
                            .map(|_| {
                                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                                ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.5
                            })
                            .collect()
                    })
                    .collect();
                let mut out = vec![vec![0.0f32; frames * channels]];
                let n_params = node.params().len();
                let (_, counts) = count_allocations(|| {
                    for (b, block) in pool.iter().enumerate() {
                        if b == 20 && n_params > 0 {
                            node.set_param(n_params - 1, 1.0);
                            node.set_param(0, 1.0);
                        }
                        let ins = Inputs::new(std::slice::from_ref(block), &[0], frames);
                        let mut outs = Outputs::new(&mut out, frames);
                        node.process(&ins, &mut outs);
                    }
                    node.reset();
                });
                assert!(counts.is_zero(), "{name} at {rate} Hz x{channels}: {counts:?}");
            }
        }
    }
}
