//! RTCP packets we build, dissected by tshark (the oracle), recorded with our pcap writer.

use std::path::Path;
use std::process::Command;

use tutti_rtp::{PcapWriter, ReportBlock, RtcpWriter, SdesChunkSpec, SdesType, SenderInfo};

fn tshark(path: &Path, args: &[&str]) -> String {
    let ok = Command::new("sh")
        .arg("-c")
        .arg("command -v tshark")
        .output()
        .map(|o| o.status.success());
    assert!(
        ok.unwrap_or(false),
        "tshark is not installed (Debian package tshark; see scripts/setup.sh)"
    );
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-d", "udp.port==5005,rtcp"])
        .args(args)
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn tshark_dissects_our_compound_and_reduced_size_packets() {
    let dir = std::env::temp_dir().join(format!("tutti-rtcp-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rtcp.pcap");
    let mut w = PcapWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
    let (src, dst) = ("10.0.0.1:5005".parse().unwrap(), "10.0.0.2:5005".parse().unwrap());

    let blocks = [
        ReportBlock {
            ssrc: 0x0102_0304,
            fraction_lost: 25,
            cumulative_lost: 1234,
            extended_highest_seq: 0x0001_0005,
            jitter: 77,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 0x0002_8000,
        },
        ReportBlock {
            ssrc: 0x0a0b_0c0d,
            cumulative_lost: -2,
            extended_highest_seq: 42,
            ..Default::default()
        },
    ];
    let info = SenderInfo {
        ntp: 0xe8a5_4b2c_8000_0000,
        rtp_timestamp: 123_456,
        packet_count: 5000,
        octet_count: 800_000,
    };
    let mut buf = [0u8; 1500];
    let mut rw = RtcpWriter::new(&mut buf);
    rw.sender_report(0xcafe_f00d, &info, &blocks).unwrap();
    rw.sdes(&[SdesChunkSpec {
        ssrc: 0xcafe_f00d,
        items: &[
            (SdesType::Cname, b"tutti@example.org"),
            (SdesType::Name, b"Tutti"),
            (SdesType::Tool, b"t"),
        ],
    }])
    .unwrap();
    rw.app(1, 0xcafe_f00d, *b"TUTI", b"abcdefgh").unwrap();
    rw.bye(&[0xcafe_f00d], Some(b"shutting down")).unwrap();
    let n = rw.finish();
    w.write_udp(1_000_000_000, src, dst, &buf[..n]).unwrap();
    // A reduced-size (RFC 5506) packet: a lone RR.
    let mut rw = RtcpWriter::new(&mut buf);
    rw.receiver_report(0x0bad_cafe, &blocks[1..]).unwrap();
    let n = rw.finish();
    w.write_udp(2_000_000_000, src, dst, &buf[..n]).unwrap();
    drop(w);

    let fields = tshark(
        &path,
        &[
            "-T",
            "fields",
            "-E",
            "separator=;",
            "-E",
            "aggregator=,",
            "-e",
            "rtcp.pt",
            "-e",
            "rtcp.senderssrc",
            "-e",
            "rtcp.timestamp.ntp.msw",
            "-e",
            "rtcp.timestamp.rtp",
            "-e",
            "rtcp.sender.packetcount",
            "-e",
            "rtcp.sender.octetcount",
            "-e",
            "rtcp.ssrc.identifier",
            "-e",
            "rtcp.ssrc.fraction",
            "-e",
            "rtcp.ssrc.cum_nr",
            "-e",
            "rtcp.ssrc.ext_high",
            "-e",
            "rtcp.ssrc.jitter",
            "-e",
            "rtcp.ssrc.lsr",
            "-e",
            "rtcp.ssrc.dlsr",
            "-e",
            "rtcp.sdes.text",
            "-e",
            "rtcp.app.name",
            "-e",
            "rtcp.app.subtype",
            "-e",
            "rtcp.length_check",
            "-e",
            "_ws.malformed",
            "-e",
            "_ws.expert.severity",
        ],
    );
    let lines: Vec<Vec<&str>> = fields.lines().map(|l| l.split(';').collect()).collect();
    assert_eq!(lines.len(), 2, "{fields}");
    let f = &lines[0];
    assert_eq!(f[0], "200,202,204,203");
    assert_eq!(f[1], "0xcafef00d");
    assert_eq!(f[2], (0xe8a5_4b2cu32).to_string());
    assert_eq!((f[3], f[4], f[5]), ("123456", "5000", "800000"));
    // tshark reuses this field for the SDES chunk, APP and BYE sources.
    assert_eq!(f[6], "0x01020304,0x0a0b0c0d,0xcafef00d,0xcafef00d,0xcafef00d");
    assert_eq!(f[7], "25,0");
    assert_eq!(f[8], "1234,-2");
    assert_eq!(f[9], "65541,42");
    assert_eq!(f[10], "77,0");
    assert_eq!(f[11], "305419896,0");
    assert_eq!(f[12], "163840,0");
    // The BYE reason is dissected into the same text field.
    assert_eq!(f[13], "tutti@example.org,Tutti,t,shutting down");
    assert_eq!(f[14], "TUTI");
    assert_eq!(f[15], "1");
    assert_eq!(f[16], "1", "length check");
    assert_eq!(f[17], "", "malformed");
    let g = &lines[1];
    assert_eq!(
        (g[0], g[1], g[6], g[16], g[17]),
        ("201", "0x0badcafe", "0x0a0b0c0d", "1", "")
    );

    let verbose = tshark(&path, &["-V"]);
    assert!(verbose.contains("shutting down"), "BYE reason dissected");
    assert!(!verbose.contains("Malformed"), "{verbose}");
    std::fs::remove_dir_all(&dir).ok();
}
