//! RTCP packets we build, dissected by tshark (the oracle), recorded with our pcap writer.

mod common;

use std::path::Path;

use tutti_rtp::{PcapWriter, ReportBlock, RtcpWriter, SdesChunkSpec, SdesType, SenderInfo};

/// tshark on our RTCP (UDP port 5005 decoded as RTCP) with `args`.
fn tshark(path: &Path, args: &[&str]) -> String {
    let mut all = vec!["-d", "udp.port==5005,rtcp"];
    all.extend_from_slice(args);
    common::tshark(path, &all)
}

/// The `fields` of every packet, one line each: fields separated by `;`, repeated values by `,`.
fn tshark_fields(path: &Path, fields: &[&str]) -> String {
    let mut args = vec!["-T", "fields", "-E", "separator=;", "-E", "aggregator=,"];
    for &f in fields {
        args.extend(["-e", f]);
    }
    tshark(path, &args)
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

    let fields = tshark_fields(
        &path,
        &[
            "rtcp.pt",
            "rtcp.senderssrc",
            "rtcp.timestamp.ntp.msw",
            "rtcp.timestamp.rtp",
            "rtcp.sender.packetcount",
            "rtcp.sender.octetcount",
            "rtcp.ssrc.identifier",
            "rtcp.ssrc.fraction",
            "rtcp.ssrc.cum_nr",
            "rtcp.ssrc.ext_high",
            "rtcp.ssrc.jitter",
            "rtcp.ssrc.lsr",
            "rtcp.ssrc.dlsr",
            "rtcp.sdes.text",
            "rtcp.app.name",
            "rtcp.app.subtype",
            "rtcp.length_check",
            "_ws.malformed",
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

/// TMMBR, TMMBN (RFC 5104) and REMB that we build, dissected by tshark: bitrates, exponents,
/// mantissas, overheads and SSRCs as tshark reads them equal what we wrote.
#[test]
fn tshark_dissects_our_tmmbr_tmmbn_and_remb() {
    use tutti_rtp::{remb_quantised, TmmbItem};
    let dir = std::env::temp_dir().join(format!("tutti-rtcp-fb-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fb.pcap");
    let mut w = PcapWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
    let (src, dst) = ("10.0.0.1:5005".parse().unwrap(), "10.0.0.2:5005".parse().unwrap());
    let items = [
        TmmbItem {
            ssrc: 0x1111_2222,
            bitrate_bps: 64_000,
            overhead: 40,
        },
        TmmbItem {
            ssrc: 0x3333_4444,
            bitrate_bps: 2_500_000, // exponent 5, mantissa 78125
            // tshark 4.0 shows only the low 8 bits of this 9-bit field (it reads 511 as 255; the bytes
            // are checked below), so the dissector comparison stays below 256.
            overhead: 255,
        },
    ];
    let remb_bps = 1_234_567; // 18-bit mantissa: exponent 3, 154320 -> 1234560
    let mut buf = [0u8; 1500];
    // Compound: RR + SDES + TMMBR.
    let mut rw = RtcpWriter::new(&mut buf);
    rw.receiver_report(0xcafe_f00d, &[]).unwrap();
    rw.sdes(&[SdesChunkSpec {
        ssrc: 0xcafe_f00d,
        items: &[(SdesType::Cname, b"rx@example.org")],
    }])
    .unwrap();
    rw.tmmbr(0xcafe_f00d, &items).unwrap();
    let n = rw.finish();
    // The 9-bit overhead at full range, by the RFC 5104 §4.2.1.1 bit layout: exp 5 | mantissa 78125 |
    // overhead 511 = 0x16625bff.
    let mut full = [0u8; 8];
    TmmbItem {
        overhead: 511,
        ..items[1]
    }
    .write(&mut full);
    assert_eq!(full[4..], 0x1662_5bffu32.to_be_bytes());
    w.write_udp(1_000_000_000, src, dst, &buf[..n]).unwrap();
    // Reduced-size TMMBN (one entry) and REMB.
    let mut rw = RtcpWriter::new(&mut buf);
    rw.tmmbn(0x1111_2222, &items[..1]).unwrap();
    let n = rw.finish();
    w.write_udp(2_000_000_000, dst, src, &buf[..n]).unwrap();
    let mut rw = RtcpWriter::new(&mut buf);
    rw.remb(0xcafe_f00d, remb_bps, &[0x1111_2222, 0x3333_4444])
        .unwrap();
    let n = rw.finish();
    w.write_udp(3_000_000_000, src, dst, &buf[..n]).unwrap();
    drop(w);

    let fields = tshark_fields(
        &path,
        &[
            "rtcp.pt",
            "rtcp.rtpfb.fmt",
            "rtcp.psfb.fmt",
            "rtcp.rtpfb.tmmbr.fci.ssrc",
            "rtcp.rtpfb.tmmbr.fci.exp",
            "rtcp.rtpfb.tmmbr.fci.mantissa",
            "rtcp.rtpfb.tmmbr.fci.bitrate",
            "rtcp.rtpfb.tmmbr.fci.measuredoverhead",
            "rtcp.psfb.remb.identifier",
            "rtcp.psfb.remb.fci.number_ssrcs",
            "rtcp.psfb.remb.fci.br_exp",
            "rtcp.psfb.remb.fci.br_mantissa",
            "rtcp.psfb.remb.fci.bitrate",
            "rtcp.psfb.remb.fci.ssrc",
            "rtcp.senderssrc",
            "rtcp.mediassrc",
            "_ws.malformed",
        ],
    );
    let lines: Vec<Vec<&str>> = fields.lines().map(|l| l.split(';').collect()).collect();
    assert_eq!(lines.len(), 3, "{fields}");
    let f = &lines[0];
    assert_eq!(f[0], "201,202,205");
    assert_eq!(f[1], "3", "TMMBR FMT");
    assert_eq!(f[3], "0x11112222,0x33334444");
    assert_eq!(f[4], "0,5");
    assert_eq!(f[5], "64000,78125");
    // The bitrate field is text-only in -T fields; it is checked in the -V text below.
    let exps: Vec<u32> = f[4].split(',').map(|v| v.parse().unwrap()).collect();
    let mants: Vec<u64> = f[5].split(',').map(|v| v.parse().unwrap()).collect();
    let rates: Vec<u64> = mants.iter().zip(&exps).map(|(m, e)| m << e).collect();
    assert_eq!(rates, [64_000, 2_500_000]);
    assert_eq!(f[7], "40,255");
    assert_eq!(f[16], "", "malformed");
    let g = &lines[1];
    assert_eq!(
        (g[0], g[1], g[3], g[4], g[5], g[7], g[16]),
        ("205", "4", "0x11112222", "0", "64000", "40", "")
    );
    let h = &lines[2];
    assert_eq!((h[0], h[2]), ("206", "15"));
    assert_eq!(h[8], "REMB");
    assert_eq!(h[9], "2");
    assert_eq!(h[10], "3");
    assert_eq!(h[11], "154320");
    assert_eq!(154_320u64 << 3, remb_quantised(remb_bps));
    assert_eq!(h[13], "0x11112222,0x33334444");
    assert_eq!(h[16], "", "malformed");
    // Media-source SSRC is 0 in all three (RFC 5104 §4.2.1.2, §4.2.2.2; REMB draft §2.2).
    for l in &lines {
        assert!(l[15].split(',').all(|s| s == "0x00000000"), "{l:?}");
    }
    let verbose = tshark(&path, &["-V"]);
    assert!(!verbose.contains("Malformed"), "{verbose}");
    for text in [
        "Temporary Maximum Media Stream Bit Rate Request (TMMBR) (3)",
        "Maximum total media bit rate: 64000*2^0",
        "Maximum total media bit rate: 78125*2^5",
        "Temporary Maximum Media Stream Bit Rate Notification (TMMBN) (4)",
        "Maximum bit rate: 1234560",
    ] {
        assert!(verbose.contains(text), "{text} missing in:\n{verbose}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
