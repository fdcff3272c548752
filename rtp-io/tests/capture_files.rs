//! pcap/pcapng readers on real captures (SIPp), checked against tshark's dissection of the same files.

mod common;

use std::path::{Path, PathBuf};

use common::{tool, tshark, vectors};
use tutti_rtp::{CaptureReader, PcapWriter, RtpPacket};

fn sipp(name: &str) -> PathBuf {
    let p = vectors().join("sipp").join(name);
    assert!(
        p.exists(),
        "test vector {} missing (set TUTTI_TESTVECTORS)",
        p.display()
    );
    p
}

/// (epoch ns, src, dst, udp payload length) of every UDP packet, as tshark sees them.
fn tshark_udp(path: &Path) -> Vec<(u64, String, String, usize)> {
    tshark(
        path,
        &[
            "-Y",
            "udp",
            "-T",
            "fields",
            "-E",
            "separator=,",
            "-e",
            "frame.time_epoch",
            "-e",
            "ip.src",
            "-e",
            "udp.srcport",
            "-e",
            "ip.dst",
            "-e",
            "udp.dstport",
            "-e",
            "udp.length",
        ],
    )
    .lines()
    .map(|l| {
        let f: Vec<&str> = l.split(',').collect();
        let (s, frac) = f[0].split_once('.').expect("epoch has a fraction");
        let frac = format!("{frac:0<9}");
        let ns = s.parse::<u64>().unwrap() * 1_000_000_000 + frac[..9].parse::<u64>().unwrap();
        (
            ns,
            format!("{}:{}", f[1], f[2]),
            format!("{}:{}", f[3], f[4]),
            f[5].parse::<usize>().unwrap() - 8,
        )
    })
    .collect()
}

fn ours(path: &Path) -> (Vec<(u64, String, String, usize)>, tutti_rtp::CaptureStats) {
    let mut r = CaptureReader::open(path).expect("capture opens");
    let mut v = Vec::new();
    while let Some(d) = r.next_udp().expect("capture reads") {
        v.push((d.time_ns, d.src.to_string(), d.dst.to_string(), d.payload.len()));
    }
    (v, r.stats())
}

#[test]
fn g711a_pcap_has_236_pcma_packets_on_2006_like_tshark() {
    let p = sipp("g711a.pcap");
    let (v, stats) = ours(&p);
    assert_eq!(v, tshark_udp(&p));
    let mut r = CaptureReader::open(&p).unwrap();
    let mut pcma = 0;
    while let Some(d) = r.next_udp().unwrap() {
        if d.dst.port() == 2006 {
            let pkt = RtpPacket::parse(d.payload).expect("SIPp RTP parses");
            assert_eq!(pkt.payload_type(), 8);
            assert_eq!(pkt.payload().len(), 240); // 30 ms of PCMA
            pcma += 1;
        }
    }
    assert_eq!(pcma, 236);
    assert_eq!(stats.udp as usize, v.len());
}

#[test]
fn dtmf_pcaps_carry_telephone_events_like_tshark() {
    for name in [
        "dtmf_2833_0.pcap",
        "dtmf_2833_5.pcap",
        "dtmf_2833_star.pcap",
        "dtmf_2833_pound.pcap",
    ] {
        let p = sipp(name);
        let (v, _) = ours(&p);
        assert_eq!(v, tshark_udp(&p), "{name}");
        let mut r = CaptureReader::open(&p).unwrap();
        let mut events = 0;
        while let Some(d) = r.next_udp().unwrap() {
            if let Ok(pkt) = RtpPacket::parse(d.payload) {
                if pkt.payload_type() == 101 {
                    events += 1;
                    assert_eq!(pkt.payload().len(), 4, "RFC 4733 event payload");
                }
            }
        }
        assert!(events > 0, "{name} has PT 101 packets");
    }
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tutti-rtp-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn pcapng_from_editcap_reads_the_same_datagrams() {
    let p = sipp("g711a.pcap");
    let dir = tmpdir("pcapng");
    // Nanosecond pcap from editcap (magic A1B23C4D).
    let nsp = dir.join("g711a-ns.pcap");
    let st = tool("editcap")
        .args(["-F", "nsecpcap"])
        .arg(&p)
        .arg(&nsp)
        .status()
        .expect("editcap runs");
    assert!(st.success(), "editcap -F nsecpcap failed");
    assert_eq!(ours(&p).0, ours(&nsp).0);
    // pcapng with the default microsecond if_tsresol and, from the ns pcap, with if_tsresol = 9.
    for (tag, src) in [("us", &p), ("ns", &nsp)] {
        let ng = dir.join(format!("g711a-{tag}.pcapng"));
        let st = tool("editcap")
            .args(["-F", "pcapng"])
            .arg(src)
            .arg(&ng)
            .status()
            .expect("editcap runs");
        assert!(st.success(), "editcap failed");
        let (b, _) = ours(&ng);
        assert_eq!(ours(&p).0, b);
        assert_eq!(b, tshark_udp(&ng));
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn our_pcap_writer_is_read_by_tshark() {
    let dir = tmpdir("writer");
    let path = dir.join("ours.pcap");
    let mut w = PcapWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
    let mut expect = Vec::new();
    for i in 0..50u64 {
        let (s, d) = if i % 2 == 0 {
            ("127.0.0.1:40000", "127.0.0.1:5004")
        } else {
            ("[::1]:40001", "[::1]:5006")
        };
        let payload = vec![i as u8; 20 + i as usize];
        let t = 1_700_000_000_000_000_000 + i * 20_000_123;
        w.write_udp(t, s.parse().unwrap(), d.parse().unwrap(), &payload)
            .unwrap();
        expect.push((t, s.to_string(), d.to_string(), payload.len()));
    }
    w.flush().unwrap();
    drop(w);
    assert_eq!(ours(&path).0, expect);
    // tshark reads the file, and finds all UDP checksums good.
    let text = tshark(
        &path,
        &[
            "-o",
            "udp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-T",
            "fields",
            "-e",
            "udp.checksum.status",
            "-e",
            "frame.time_epoch",
            "-e",
            "udp.length",
        ],
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 50, "{text}");
    for (l, e) in lines.iter().zip(&expect) {
        let f: Vec<&str> = l.split('\t').collect();
        assert_eq!(f[0], "1", "UDP checksum status good: {l}");
        assert_eq!(f[2].parse::<usize>().unwrap(), e.3 + 8);
    }
    std::fs::remove_dir_all(&dir).ok();
}
