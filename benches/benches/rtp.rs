//! RTP-stack benchmarks: SRTP protect/unprotect against libsrtp2 (Debian `libsrtp2-dev`) in the same
//! process on 172-byte (G.711 20 ms) and 1212-byte packets, plus RTP/RTCP parsing.
//!
//! Run: `cargo bench -p tutti-benches --bench rtp -- --quick`. After the criterion groups, a side-by-side
//! table prints ns/packet for both implementations and the ratio ours/libsrtp2 (< 1 = we are faster).

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use tutti_rtp::{
    rtcp_packets, RtcpWriter, RtpBuilder, RtpPacket, SdesChunkSpec, SdesType, SrtpConfig, SrtpContext,
    SrtpProfile,
};

#[path = "../../rtp-io/tests/libsrtp/mod.rs"]
mod libsrtp;

use libsrtp::{LibSrtp, Suite};

const SUITES: [(SrtpProfile, Suite, &str); 3] = [
    (SrtpProfile::Aes128CmHmacSha1_80, Suite::Cm80, "cm_sha1_80"),
    (SrtpProfile::Aes128CmHmacSha1_32, Suite::Cm32, "cm_sha1_32"),
    (SrtpProfile::AeadAes128Gcm, Suite::Gcm, "gcm128"),
];
const SIZES: [usize; 2] = [172, 1212];

fn master(p: SrtpProfile) -> Vec<u8> {
    (0..16 + p.master_salt_len()).map(|i| (i * 7 + 3) as u8).collect()
}

fn plain(len: usize, seq: u16, out: &mut [u8]) -> usize {
    let payload = vec![0x55u8; len - 12];
    RtpBuilder {
        payload_type: 0,
        sequence_number: seq,
        timestamp: u32::from(seq) * 160,
        ssrc: 0x1234_5678,
        ..Default::default()
    }
    .write(&payload, out)
    .expect("buffer is large enough")
}

/// The two implementations behind one interface.
enum Impl {
    Ours(SrtpContext),
    Lib(LibSrtp),
}

impl Impl {
    fn new(ours: bool, p: SrtpProfile, s: Suite, inbound: bool) -> Self {
        let m = master(p);
        if ours {
            Impl::Ours(SrtpContext::new(p, &m[..16], &m[16..], SrtpConfig::default()).expect("valid key"))
        } else {
            Impl::Lib(LibSrtp::new(s, &m, inbound, 128).expect("libsrtp2 session"))
        }
    }

    fn protect(&mut self, buf: &mut [u8], len: usize) -> usize {
        match self {
            Impl::Ours(c) => c.protect_rtp(buf, len).expect("protect"),
            Impl::Lib(c) => c.protect(buf, len).expect("protect"),
        }
    }

    fn unprotect(&mut self, buf: &mut [u8], len: usize) -> usize {
        match self {
            Impl::Ours(c) => c.unprotect_rtp(buf, len).expect("unprotect"),
            Impl::Lib(c) => c.unprotect(buf, len).expect("unprotect"),
        }
    }
}

fn srtp(c: &mut Criterion) {
    for (p, s, name) in SUITES {
        for size in SIZES {
            let mut g = c.benchmark_group(format!("srtp_{name}_{size}B"));
            for (ours, who) in [(true, "tutti"), (false, "libsrtp2")] {
                let mut tx = Impl::new(ours, p, s, false);
                let mut seq = 0u16;
                let mut buf = vec![0u8; 1600];
                let mut template = vec![0u8; 1600];
                g.bench_function(format!("protect/{who}"), |b| {
                    b.iter(|| {
                        seq = seq.wrapping_add(1);
                        let n = plain(size, seq, &mut template);
                        buf[..n].copy_from_slice(&template[..n]);
                        black_box(tx.protect(&mut buf, n))
                    })
                });
                let mut tx = Impl::new(true, p, s, false);
                let mut rx = Impl::new(ours, p, s, true);
                let mut seq = 0u16;
                g.bench_function(format!("unprotect/{who}"), |b| {
                    b.iter_batched_ref(
                        || {
                            seq = seq.wrapping_add(1);
                            let mut v = vec![0u8; 1600];
                            let n = plain(size, seq, &mut v);
                            let m = tx.protect(&mut v, n);
                            (v, m)
                        },
                        |(v, m)| black_box(rx.unprotect(v, *m)),
                        BatchSize::SmallInput,
                    )
                });
            }
            g.finish();
        }
    }
}

fn parse(c: &mut Criterion) {
    let mut buf = [0u8; 256];
    let n = plain(172, 1, &mut buf);
    c.bench_function("rtp_parse_172B", |b| {
        b.iter(|| {
            let p = RtpPacket::parse(black_box(&buf[..n])).expect("valid packet");
            black_box((p.sequence_number(), p.payload().len()))
        })
    });
    let mut rb = [0u8; 256];
    let mut w = RtcpWriter::new(&mut rb);
    w.receiver_report(1, &[Default::default(); 2]).expect("fits");
    w.sdes(&[SdesChunkSpec {
        ssrc: 1,
        items: &[(SdesType::Cname, b"bench@tutti")],
    }])
    .expect("fits");
    let m = w.finish();
    c.bench_function("rtcp_parse_rr2_sdes", |b| {
        b.iter(|| black_box(rtcp_packets(black_box(&rb[..m])).count()))
    });
}

/// Side-by-side ns/packet and ratio, measured with interleaved rounds so both see the same machine load.
fn ratio_table(_: &mut Criterion) {
    const N: usize = 20_000;
    println!("\nSRTP ns/packet (median of 7 interleaved rounds of {N} packets)");
    println!(
        "{:<12} {:>6} {:>10} {:>12} {:>12} {:>8}",
        "suite", "bytes", "op", "tutti", "libsrtp2", "ratio"
    );
    for (p, s, name) in SUITES {
        for size in SIZES {
            for op in ["protect", "unprotect"] {
                let mut t = [Vec::new(), Vec::new()];
                for _ in 0..7 {
                    for (k, ours) in [true, false].into_iter().enumerate() {
                        // Pre-protect N packets (for unprotect) with our sender; time only the measured op.
                        let mut tx = Impl::new(ours || op == "unprotect", p, s, false);
                        let mut rx = Impl::new(ours, p, s, true);
                        let mut pkts: Vec<(Vec<u8>, usize)> = (0..N)
                            .map(|i| {
                                let mut v = vec![0u8; 1600];
                                let n = plain(size, i as u16, &mut v);
                                let n = if op == "unprotect" {
                                    tx.protect(&mut v, n)
                                } else {
                                    n
                                };
                                (v, n)
                            })
                            .collect();
                        let t0 = Instant::now();
                        for (v, n) in pkts.iter_mut() {
                            black_box(if op == "protect" {
                                tx.protect(v, *n)
                            } else {
                                rx.unprotect(v, *n)
                            });
                        }
                        t[k].push(t0.elapsed().as_nanos() as f64 / N as f64);
                    }
                }
                for v in &mut t {
                    v.sort_by(|a, b| a.total_cmp(b));
                }
                let (a, b) = (t[0][3], t[1][3]);
                println!("{name:<12} {size:>6} {op:>10} {a:>12.0} {b:>12.0} {:>8.2}", a / b);
            }
        }
    }
}

criterion_group!(benches, srtp, parse, ratio_table);
criterion_main!(benches);
