//! Property tests: parse/build round trips and "never panics" on arbitrary input for every parser.

use proptest::prelude::*;
use tutti_rtp::{
    rtcp_packets, validate_compound, Attribute, CaptureReader, Connection, CryptoAttribute, ExtensionElement,
    ExtensionForm, MediaDescription, Origin, ReportBlock, RtcpPacket, RtcpWriter, RtpBuilder, RtpPacket,
    SdesChunkSpec, SdesType, SenderInfo, SessionDescription, SrtpConfig, SrtpContext, SrtpProfile,
};

fn ext_elements() -> impl Strategy<Value = Vec<(u8, Vec<u8>)>> {
    prop::collection::vec((1u8..=255, prop::collection::vec(any::<u8>(), 0..20)), 0..5)
}

proptest! {
    #[test]
    fn rtp_build_parse_round_trip(
        marker: bool,
        pt in 0u8..128,
        seq: u16,
        ts: u32,
        ssrc: u32,
        csrcs in prop::collection::vec(any::<u32>(), 0..=15),
        exts in ext_elements(),
        payload in prop::collection::vec(any::<u8>(), 0..300),
        padding in 0u8..=255,
    ) {
        let els: Vec<ExtensionElement<'_>> = exts.iter().map(|(id, d)| ExtensionElement { id: *id, data: d }).collect();
        let b = RtpBuilder {
            marker, payload_type: pt, sequence_number: seq, timestamp: ts, ssrc, csrcs: &csrcs,
            extensions: &els, extension_form: ExtensionForm::Auto, padding,
        };
        let mut buf = vec![0u8; 2000];
        let n = b.write(&payload, &mut buf).unwrap();
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        prop_assert_eq!((p.marker(), p.payload_type(), p.sequence_number(), p.timestamp(), p.ssrc()),
            (marker, pt, seq, ts, ssrc));
        prop_assert_eq!(p.csrcs().collect::<Vec<_>>(), csrcs);
        prop_assert_eq!(p.payload(), &payload[..]);
        prop_assert_eq!(p.padding_len(), usize::from(padding));
        let got: Vec<(u8, Vec<u8>)> = match p.extension() {
            Some(x) => x.elements().map(|e| { let e = e.unwrap(); (e.id, e.data.to_vec()) }).collect(),
            None => vec![],
        };
        prop_assert_eq!(got, exts);
    }

    #[test]
    fn rtcp_build_parse_round_trip(
        ssrc: u32,
        blocks in prop::collection::vec((any::<u32>(), any::<u8>(), -0x80_0000i32..0x80_0000, any::<u32>(),
            any::<u32>(), any::<u32>(), any::<u32>()), 0..=31),
        sr: bool,
        cname in "[ -~]{0,255}",
        reason in prop::option::of("[ -~]{0,255}"),
        app in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let blocks: Vec<ReportBlock> = blocks.into_iter().map(|(s, f, c, e, j, l, d)| ReportBlock {
            ssrc: s, fraction_lost: f, cumulative_lost: c, extended_highest_seq: e, jitter: j, last_sr: l,
            delay_since_last_sr: d }).collect();
        let info = SenderInfo { ntp: u64::from(ssrc) << 20, rtp_timestamp: 5, packet_count: 6, octet_count: 7 };
        let app = &app[..app.len() / 4 * 4];
        let mut buf = vec![0u8; 4000];
        let mut w = RtcpWriter::new(&mut buf);
        if sr { w.sender_report(ssrc, &info, &blocks).unwrap() } else { w.receiver_report(ssrc, &blocks).unwrap() }
        w.sdes(&[SdesChunkSpec { ssrc, items: &[(SdesType::Cname, cname.as_bytes())] }]).unwrap();
        w.app(2, ssrc, *b"test", app).unwrap();
        w.bye(&[ssrc], reason.as_deref().map(str::as_bytes)).unwrap();
        let n = w.finish();
        validate_compound(&buf[..n], false).unwrap();
        let ps: Vec<RtcpPacket<'_>> = rtcp_packets(&buf[..n]).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(ps.len(), 4);
        let got_blocks: Vec<ReportBlock> = match ps[0] {
            RtcpPacket::SenderReport(s) => { prop_assert_eq!(s.info, info); s.blocks().collect() }
            RtcpPacket::ReceiverReport(r) => r.blocks().collect(),
            _ => unreachable!("first packet is a report"),
        };
        prop_assert_eq!(got_blocks, blocks);
        let RtcpPacket::Sdes(sd) = ps[1] else { unreachable!("SDES second") };
        prop_assert_eq!(sd.chunks().next().unwrap().cname(), Some(cname.as_bytes()));
        let RtcpPacket::App(a) = ps[2] else { unreachable!("APP third") };
        prop_assert_eq!(a.data, app);
        let RtcpPacket::Bye(b) = ps[3] else { unreachable!("BYE fourth") };
        prop_assert_eq!(b.reason, reason.as_deref().map(str::as_bytes));
    }

    #[test]
    fn parsers_never_panic(data in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(p) = RtpPacket::parse(&data) {
            let _ = (p.payload(), p.csrcs().count(), p.extension().map(|x| x.elements().count()));
        }
        for p in rtcp_packets(&data) {
            if let Ok(RtcpPacket::Sdes(s)) = p {
                for c in s.chunks() { let _ = c.items().count(); }
            }
        }
        let _ = validate_compound(&data, true);
        let _ = SessionDescription::parse(&String::from_utf8_lossy(&data));
        let _ = CryptoAttribute::parse(&String::from_utf8_lossy(&data));
        let _ = tutti_rtp::decode_frame(u32::from(data.first().copied().unwrap_or(1)), &data);
        if let Ok(mut r) = CaptureReader::new(&data[..]) {
            for _ in 0..100 {
                match r.next_udp() { Ok(Some(_)) => {}, _ => break }
            }
        }
    }

    #[test]
    fn capture_files_with_valid_headers_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..600),
        ng: bool,
    ) {
        let mut f = Vec::new();
        if ng {
            f.extend_from_slice(&0x0a0d_0d0au32.to_le_bytes());
            f.extend_from_slice(&28u32.to_le_bytes());
            f.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
            f.extend_from_slice(&[1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
            f.extend_from_slice(&28u32.to_le_bytes());
        } else {
            f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
            f.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0]);
        }
        f.extend_from_slice(&body);
        if let Ok(mut r) = CaptureReader::new(&f[..]) {
            for _ in 0..100 {
                match r.next_udp() { Ok(Some(_)) => {}, _ => break }
            }
        }
    }

    #[test]
    fn srtp_unprotect_never_panics(data in prop::collection::vec(any::<u8>(), 0..300), len_cut in 0usize..320) {
        for profile in [SrtpProfile::Aes128CmHmacSha1_80, SrtpProfile::Aes128CmHmacSha1_32, SrtpProfile::AeadAes128Gcm] {
            let mut ctx = SrtpContext::new(profile, &[3; 16], &[4; 14][..profile.master_salt_len()],
                SrtpConfig::default()).unwrap();
            let mut b = data.clone();
            let len = len_cut.min(b.len());
            let _ = ctx.unprotect_rtp(&mut b, len);
            let mut b = data.clone();
            let _ = ctx.unprotect_rtcp(&mut b, len);
            let _ = ctx.unprotect_rtp(&mut b, len + 1); // len beyond the buffer: an error
        }
    }

    #[test]
    fn srtp_round_trip(payload in prop::collection::vec(any::<u8>(), 0..1200), seq: u16, ssrc: u32, k: u8) {
        for profile in [SrtpProfile::Aes128CmHmacSha1_80, SrtpProfile::Aes128CmHmacSha1_32, SrtpProfile::AeadAes128Gcm] {
            let salt = vec![k ^ 0x55; profile.master_salt_len()];
            let mut tx = SrtpContext::new(profile, &[k; 16], &salt, SrtpConfig::default()).unwrap();
            let mut rx = SrtpContext::new(profile, &[k; 16], &salt, SrtpConfig::default()).unwrap();
            let mut buf = vec![0u8; 1300];
            let n = RtpBuilder { sequence_number: seq, ssrc, ..Default::default() }.write(&payload, &mut buf).unwrap();
            let plain = buf[..n].to_vec();
            let m = tx.protect_rtp(&mut buf, n).unwrap();
            prop_assert_eq!(m, n + profile.rtp_tag_len());
            let back = rx.unprotect_rtp(&mut buf, m).unwrap();
            prop_assert_eq!(&buf[..back], &plain[..]);
        }
    }

    #[test]
    fn sdp_round_trip(sd in sdp_strategy()) {
        let text = sd.to_string();
        let back = SessionDescription::parse(&text).unwrap();
        prop_assert_eq!(back, sd);
    }
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.:_/-]{1,12}"
}

fn conn() -> impl Strategy<Value = Connection> {
    (token(), token(), token()).prop_map(|(n, a, addr)| Connection {
        net_type: n,
        addr_type: a,
        address: addr,
    })
}

fn attr() -> impl Strategy<Value = Attribute> {
    ("[a-z][a-z0-9-]{0,10}", prop::option::of("[ -~]{0,30}"))
        .prop_map(|(name, value)| Attribute { name, value })
}

fn media() -> impl Strategy<Value = MediaDescription> {
    (
        "[a-z]{1,8}",
        any::<u16>(),
        prop::option::of(1u16..8),
        token(),
        prop::collection::vec("[0-9]{1,3}", 0..6),
        prop::option::of(conn()),
        prop::option::of("[ -~]{0,20}"),
        prop::collection::vec(("[bk]", "[ -~]{0,20}"), 0..3),
        prop::collection::vec(attr(), 0..8),
    )
        .prop_map(
            |(media, port, port_count, protocol, formats, connection, info, rest, attributes)| {
                let mut other: Vec<(char, String)> = info.into_iter().map(|i| ('i', i)).collect();
                other.extend(
                    rest.into_iter()
                        .map(|(t, v)| (t.chars().next().unwrap_or('b'), v)),
                );
                MediaDescription {
                    media,
                    port,
                    port_count,
                    protocol,
                    formats,
                    connection,
                    other,
                    attributes,
                }
            },
        )
}

fn sdp_strategy() -> impl Strategy<Value = SessionDescription> {
    (
        (token(), "[0-9]{1,12}", "[0-9]{1,12}", conn()),
        "[ -~]{0,30}",
        prop::option::of(conn()),
        (any::<u64>(), any::<u64>()),
        prop::collection::vec(("[iuep]", "[ -~]{0,20}"), 0..3),
        prop::collection::vec("[ -~]{0,20}", 0..2),
        prop::collection::vec(("[rzk]", "[ -~]{0,20}"), 0..3),
        prop::collection::vec(attr(), 0..5),
        prop::collection::vec(media(), 0..4),
    )
        .prop_map(|((u, id, ver, oc), s, c, t, pre, b, post, attributes, media)| {
            let mut other: Vec<(char, String)> = pre
                .into_iter()
                .map(|(t, v)| (t.chars().next().unwrap_or('i'), v))
                .collect();
            other.extend(b.into_iter().map(|v| ('b', v)));
            other.extend(
                post.into_iter()
                    .map(|(t, v)| (t.chars().next().unwrap_or('r'), v)),
            );
            SessionDescription {
                origin: Origin {
                    username: u,
                    session_id: id,
                    session_version: ver,
                    connection: oc,
                },
                session_name: s,
                connection: c,
                timing: t,
                other,
                attributes,
                media,
            }
        })
}

mod feedback {
    use proptest::prelude::*;
    use tutti_rtp::{
        remb_quantised, rtcp_packets, validate_compound, Feedback, ReportBlock, RtcpWriter, TmmbItem,
    };

    /// Bitrates spread over all exponents (a uniform u64 would almost always need a large exponent).
    fn bitrate() -> impl Strategy<Value = u64> {
        (0u32..64, any::<u64>()).prop_map(|(bits, v)| if bits == 0 { 0 } else { v >> (64 - bits) })
    }

    proptest! {
        #[test]
        fn tmmbr_tmmbn_remb_round_trip(
            sender: u32,
            items in prop::collection::vec((any::<u32>(), bitrate(), 0u16..512), 1..10),
            remb_bps in bitrate(),
            ssrcs in prop::collection::vec(any::<u32>(), 0..20),
            reduced: bool,
        ) {
            let items: Vec<TmmbItem> = items.into_iter()
                .map(|(ssrc, bitrate_bps, overhead)| TmmbItem { ssrc, bitrate_bps, overhead }).collect();
            let mut buf = vec![0u8; 1500];
            let mut w = RtcpWriter::new(&mut buf);
            if !reduced {
                w.receiver_report(sender, &[ReportBlock::default()]).unwrap();
            }
            w.tmmbr(sender, &items).unwrap();
            w.tmmbn(sender, &items[1..]).unwrap();
            w.remb(sender, remb_bps, &ssrcs).unwrap();
            let n = w.finish();
            validate_compound(&buf[..n], reduced).unwrap();
            let fbs: Vec<Feedback<'_>> = rtcp_packets(&buf[..n])
                .filter_map(|p| p.unwrap().feedback()).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(fbs.len(), 3);
            let Feedback::Tmmbr(r) = fbs[0] else { unreachable!("TMMBR first") };
            let Feedback::Tmmbn(nn) = fbs[1] else { unreachable!("TMMBN second") };
            let Feedback::Remb(rb) = fbs[2] else { unreachable!("REMB third") };
            prop_assert_eq!((r.sender_ssrc, r.media_ssrc, nn.sender_ssrc, nn.media_ssrc), (sender, 0, sender, 0));
            let want: Vec<TmmbItem> = items.iter()
                .map(|i| TmmbItem { bitrate_bps: TmmbItem::quantised(i.bitrate_bps), ..*i }).collect();
            prop_assert_eq!(r.items().collect::<Vec<_>>(), want.clone());
            prop_assert_eq!(nn.items().collect::<Vec<_>>(), want[1..].to_vec());
            for (q, i) in want.iter().zip(&items) {
                // Rounded down, by less than one part in 2^16 (17-bit mantissa).
                prop_assert!(q.bitrate_bps <= i.bitrate_bps);
                prop_assert!((i.bitrate_bps - q.bitrate_bps) as f64 <= i.bitrate_bps as f64 / 65_536.0);
                prop_assert_eq!(TmmbItem::quantised(q.bitrate_bps), q.bitrate_bps);
            }
            prop_assert_eq!(rb.sender_ssrc, sender);
            prop_assert_eq!(rb.bitrate_bps, remb_quantised(remb_bps));
            prop_assert!(remb_bps - rb.bitrate_bps <= remb_bps / 131_072);
            prop_assert_eq!(rb.ssrcs().collect::<Vec<_>>(), ssrcs);
        }

        #[test]
        fn feedback_parse_never_panics(pt in 205u8..=206, fmt in 0u8..32,
                                       body in prop::collection::vec(any::<u8>(), 0..64)) {
            let len_words = body.len().div_ceil(4);
            let mut d = vec![0x80 | fmt, pt];
            d.extend_from_slice(&(len_words as u16).to_be_bytes());
            d.extend_from_slice(&body);
            d.resize(4 + 4 * len_words, 0);
            for p in rtcp_packets(&d).flatten() {
                if let Some(Ok(Feedback::Tmmbr(t) | Feedback::Tmmbn(t))) = p.feedback() {
                    prop_assert_eq!(t.items().count(), t.len());
                }
            }
        }
    }
}
