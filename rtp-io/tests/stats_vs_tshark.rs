//! Per-source statistics (RFC 3550 A.1/A.3/A.8) against tshark's RTP stream analysis as the oracle.

mod common;

use std::path::Path;

use common::{tshark, vectors};

use rand::{Rng, SeedableRng};
use tutti_rtp::{CaptureReader, PcapWriter, RtpBuilder, RtpPacket, SourceConfig, SourceStats};

/// tshark's `-z rtp,streams` row for the stream to `port`: (packets, lost, mean jitter, max jitter).
fn tshark_streams(path: &Path, port: u16) -> (u64, i64, f64, f64) {
    let text = tshark(
        path,
        &["-q", "-d", &format!("udp.port=={port},rtp"), "-z", "rtp,streams"],
    );
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        // Start End SrcIP SrcPort DstIP DstPort SSRC Payload Pkts Lost (pct) MinD MeanD MaxD MinJ MeanJ MaxJ
        if f.len() >= 17 && f[5] == port.to_string() {
            // The lost percentage "(x%)" anchors the columns (a "Problems" mark may follow at the end).
            let k = f
                .iter()
                .position(|t| t.starts_with('('))
                .expect("lost percentage column");
            let pkts = f[k - 2].parse().expect("packet count");
            let lost = f[k - 1].parse().expect("lost");
            return (
                pkts,
                lost,
                f[k + 5].parse().expect("mean jitter"),
                f[k + 6].parse().expect("max jitter"),
            );
        }
    }
    panic!("no stream to port {port} in tshark output:\n{text}");
}

fn our_stats(path: &Path, port: u16, clock_rate: u32) -> SourceStats {
    let mut r = CaptureReader::open(path).expect("capture opens");
    let mut stats: Option<SourceStats> = None;
    while let Some(d) = r.next_udp().expect("capture reads") {
        if d.dst.port() != port {
            continue;
        }
        let p = RtpPacket::parse(d.payload).expect("RTP parses");
        let s = stats.get_or_insert_with(|| {
            SourceStats::new(p.ssrc(), p.sequence_number(), SourceConfig::new(clock_rate))
        });
        s.on_packet(p.sequence_number(), p.timestamp(), d.time_us());
    }
    stats.expect("stream present")
}

#[test]
fn sipp_g711a_matches_tshark() {
    let p = vectors().join("sipp/g711a.pcap");
    assert!(
        p.exists(),
        "test vector {} missing (set TUTTI_TESTVECTORS)",
        p.display()
    );
    let (pkts, lost, mean_j, max_j) = tshark_streams(&p, 2006);
    // The figures the research notes recorded from tshark 4.0.
    assert_eq!((pkts, lost), (236, 0));
    assert_eq!(
        (format!("{mean_j:.3}"), format!("{max_j:.3}")),
        ("0.350".into(), "0.829".into())
    );
    let s = our_stats(&p, 2006, 8000);
    assert_eq!(s.received(), pkts);
    assert_eq!(s.lost(), lost);
    assert_eq!(format!("{:.3}", s.mean_jitter_ms()), format!("{mean_j:.3}"));
    assert_eq!(format!("{:.3}", s.max_jitter_ms()), format!("{max_j:.3}"));
    let rb = s.clone().report_block(0);
    assert_eq!((rb.cumulative_lost, rb.fraction_lost), (0, 0));
}

#[test]
fn synthetic_loss_and_jitter_match_tshark() {
    let dir = std::env::temp_dir().join(format!("tutti-rtp-stats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lossy.pcap");
    let mut w = PcapWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let mut dropped = 0;
    let mut buf = [0u8; 200];
    let t0 = 1_700_000_000_000_000_000u64;
    // 2000 packets of 20 ms PCMU, sequence wrapping through 65535, 3 % loss, arrival jitter up to 15 ms
    // but never reordering (tshark counts reordering differently from RFC 3550).
    let mut last_arrival = 0u64;
    for i in 0..2000u32 {
        let seq = (64_000 + i) as u16;
        if i > 5 && i < 1999 && rng.gen_bool(0.03) {
            dropped += 1;
            continue;
        }
        let b = RtpBuilder {
            payload_type: 0,
            sequence_number: seq,
            timestamp: 1000 + i * 160,
            ssrc: 0xabcd,
            ..Default::default()
        };
        let n = b.write(&[0xff; 160], &mut buf).unwrap();
        let jit = rng.gen_range(0..15_000_000u64);
        let arrival = (t0 + u64::from(i) * 20_000_000 + jit).max(last_arrival + 1000);
        // Microsecond-aligned times so tshark and we see identical arrival times.
        let arrival = arrival / 1000 * 1000;
        last_arrival = arrival;
        w.write_udp(
            arrival,
            "10.0.0.1:7000".parse().unwrap(),
            "10.0.0.2:7002".parse().unwrap(),
            &buf[..n],
        )
        .unwrap();
    }
    drop(w);
    let (pkts, lost, mean_j, max_j) = tshark_streams(&path, 7002);
    let s = our_stats(&path, 7002, 8000);
    assert_eq!(lost, dropped);
    assert_eq!((s.received(), s.lost()), (pkts, lost));
    assert!(
        (s.mean_jitter_ms() - mean_j).abs() < 0.0015,
        "mean jitter {} vs tshark {mean_j}",
        s.mean_jitter_ms()
    );
    assert!(
        (s.max_jitter_ms() - max_j).abs() < 0.0015,
        "max jitter {} vs tshark {max_j}",
        s.max_jitter_ms()
    );
    std::fs::remove_dir_all(&dir).ok();
}
