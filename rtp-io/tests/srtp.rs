//! SRTP/SRTCP: RFC 3711 and RFC 7714 vectors, interoperability both ways with libsrtp2, ROC across the
//! sequence wrap, tampering and replays.

mod libsrtp;

use libsrtp::{LibSrtp, Suite};
use rand::{Rng, SeedableRng};
use tutti_rtp::{
    RtcpWriter, RtpBuilder, RtpError, SdesChunkSpec, SdesType, SrtpConfig, SrtpContext, SrtpProfile,
    SrtpSessionKeys,
};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn session_keys(key: &[u8], salt: &[u8]) -> SrtpSessionKeys {
    let mut k = SrtpSessionKeys {
        rtp_key: key.try_into().unwrap(),
        rtp_salt: [0; 14],
        rtp_auth: [0; 20],
        rtcp_key: key.try_into().unwrap(),
        rtcp_salt: [0; 14],
        rtcp_auth: [0; 20],
    };
    k.rtp_salt[..salt.len()].copy_from_slice(salt);
    k.rtcp_salt[..salt.len()].copy_from_slice(salt);
    k
}

#[test]
fn rfc3711_b2_aes_cm_keystream() {
    // Encrypting zeros with SSRC 0, SEQ 0, ROC 0 exposes the keystream of IV = salt · 2^16.
    let keys = session_keys(
        &hex("2B7E151628AED2A6ABF7158809CF4F3C"),
        &hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"),
    );
    let mut ctx =
        SrtpContext::with_session_keys(SrtpProfile::Aes128CmHmacSha1_80, &keys, SrtpConfig::default());
    let mut buf = [0u8; 12 + 48 + 10];
    let n = RtpBuilder {
        ssrc: 0,
        sequence_number: 0,
        ..Default::default()
    }
    .write(&[0; 48], &mut buf)
    .unwrap();
    let n = ctx.protect_rtp(&mut buf, n).unwrap();
    assert_eq!(n, 12 + 48 + 10);
    assert_eq!(
        buf[12..60].to_vec(),
        hex("E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB 41E95B3BB0A2E8DD477901E4FCA894C0")
    );
}

const GCM_RTP_PLAIN: &str = "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973 20646976 \
                             69736120 696e2070 61727465 73207472 6573";
const GCM_RTP_ENC: &str = "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5 \
                           0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce";
const GCM_RTCP_PLAIN: &str = "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61 \
                              deadbeef deadbeef deadbeef deadbeef deadbeef";
const GCM_RTCP_ENC: &str = "81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d \
                            c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872 \
                            45d9eade 800005d4";

fn gcm_vector_ctx() -> SrtpContext {
    let keys = session_keys(
        &hex("000102030405060708090a0b0c0d0e0f"),
        &hex("517569642070726f2071756f"),
    );
    SrtpContext::with_session_keys(SrtpProfile::AeadAes128Gcm, &keys, SrtpConfig::default())
}

#[test]
fn rfc7714_aes128_gcm_rtp_and_rtcp_vectors() {
    let (plain, enc) = (hex(GCM_RTP_PLAIN), hex(GCM_RTP_ENC));
    let mut buf = [0u8; 128];
    buf[..plain.len()].copy_from_slice(&plain);
    let n = gcm_vector_ctx().protect_rtp(&mut buf, plain.len()).unwrap();
    assert_eq!(buf[..n].to_vec(), enc);
    let mut rx = gcm_vector_ctx();
    let m = rx.unprotect_rtp(&mut buf, n).unwrap();
    assert_eq!(buf[..m].to_vec(), plain);

    let (plain, enc) = (hex(GCM_RTCP_PLAIN), hex(GCM_RTCP_ENC));
    let mut tx = gcm_vector_ctx();
    tx.set_tx_rtcp_index(0x4d61_7273, 0x5d4).unwrap();
    buf[..plain.len()].copy_from_slice(&plain);
    let n = tx.protect_rtcp(&mut buf, plain.len()).unwrap();
    assert_eq!(buf[..n].to_vec(), enc);
    let m = rx.unprotect_rtcp(&mut buf, n).unwrap();
    assert_eq!(buf[..m].to_vec(), plain);
}

fn rtp_packet(seq: u16, ssrc: u32, payload_len: usize, out: &mut [u8]) -> usize {
    let payload: Vec<u8> = (0..payload_len).map(|i| (i as u16 ^ seq) as u8).collect();
    RtpBuilder {
        payload_type: 0,
        sequence_number: seq,
        timestamp: u32::from(seq) * 160,
        ssrc,
        csrcs: if seq % 3 == 0 { &[7, 8] } else { &[] },
        ..Default::default()
    }
    .write(&payload, out)
    .unwrap()
}

fn rtcp_packet(i: u32, ssrc: u32, out: &mut [u8]) -> usize {
    let mut w = RtcpWriter::new(out);
    w.receiver_report(ssrc, &[]).unwrap();
    let name = format!("peer{i}@example");
    w.sdes(&[SdesChunkSpec {
        ssrc,
        items: &[(SdesType::Cname, name.as_bytes())],
    }])
    .unwrap();
    w.finish()
}

const PROFILES: [(SrtpProfile, Suite); 3] = [
    (SrtpProfile::Aes128CmHmacSha1_80, Suite::Cm80),
    (SrtpProfile::Aes128CmHmacSha1_32, Suite::Cm32),
    (SrtpProfile::AeadAes128Gcm, Suite::Gcm),
];

#[test]
fn interop_with_libsrtp2_both_ways_across_the_wrap() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for (profile, suite) in PROFILES {
        let mut master = vec![0u8; 16 + profile.master_salt_len()];
        rng.fill(&mut master[..]);
        let (key, salt) = master.split_at(16);
        let mut ours_tx = SrtpContext::new(profile, key, salt, SrtpConfig::default()).unwrap();
        let mut ours_rx = SrtpContext::new(profile, key, salt, SrtpConfig::default()).unwrap();
        let mut lib_tx = LibSrtp::new(suite, &master, false, 128).expect("libsrtp2 outbound session");
        let mut lib_rx = LibSrtp::new(suite, &master, true, 128).expect("libsrtp2 inbound session");
        let ssrc = rng.gen();
        let mut a = [0u8; 1600];
        let mut b = [0u8; 1600];
        // 3000 packets starting just below the wrap; lengths vary; a few swapped pairs to exercise the
        // ROC estimate on reordering across the wrap.
        let seqs: Vec<u16> = (0..3000u32).map(|i| (64_000 + i) as u16).collect();
        let mut protected_by_lib = Vec::new();
        let mut protected_by_us = Vec::new();
        for &seq in &seqs {
            let len = rtp_packet(seq, ssrc, 20 + usize::from(seq % 300), &mut a);
            b[..len].copy_from_slice(&a[..len]);
            let n1 = ours_tx.protect_rtp(&mut a, len).unwrap();
            let n2 = lib_tx.protect(&mut b, len).unwrap();
            assert_eq!(
                a[..n1],
                b[..n2],
                "{profile:?} seq {seq}: identical SRTP from both"
            );
            protected_by_us.push(a[..n1].to_vec());
            protected_by_lib.push(b[..n2].to_vec());
        }
        for i in (100..3000).step_by(97) {
            protected_by_us.swap(i, i - 1);
            protected_by_lib.swap(i, i - 1);
        }
        for (p_us, p_lib) in protected_by_us.iter().zip(&protected_by_lib) {
            a[..p_lib.len()].copy_from_slice(p_lib);
            let n = ours_rx.unprotect_rtp(&mut a, p_lib.len()).unwrap();
            b[..p_us.len()].copy_from_slice(p_us);
            let m = lib_rx
                .unprotect(&mut b, p_us.len())
                .expect("libsrtp2 accepts our SRTP");
            assert_eq!(a[..n], b[..m]);
        }
        // SRTCP both ways.
        for i in 0..50 {
            let len = rtcp_packet(i, ssrc, &mut a);
            let plain = a[..len].to_vec();
            let n = ours_tx.protect_rtcp(&mut a, len).unwrap();
            let m = lib_rx
                .unprotect_rtcp(&mut a, n)
                .expect("libsrtp2 accepts our SRTCP");
            assert_eq!(a[..m], plain[..]);
            b[..len].copy_from_slice(&plain);
            let n = lib_tx.protect_rtcp(&mut b, len).unwrap();
            let m = ours_rx.unprotect_rtcp(&mut b, n).unwrap();
            assert_eq!(b[..m], plain[..]);
        }
        let st = ours_rx.stats();
        assert_eq!(
            (
                st.rtp_unprotected,
                st.rtcp_unprotected,
                st.auth_failures,
                st.replays
            ),
            (3000, 50, 0, 0)
        );
    }
}

#[test]
fn tampering_and_replays_are_rejected_and_counted() {
    for (profile, _) in PROFILES {
        let master = [0x5au8; 30];
        let (key, salt) = (&master[..16], &master[16..16 + profile.master_salt_len()]);
        let mut tx = SrtpContext::new(profile, key, salt, SrtpConfig::default()).unwrap();
        let mut rx = SrtpContext::new(
            profile,
            key,
            salt,
            SrtpConfig {
                replay_window: 64,
                max_streams: 2,
            },
        )
        .unwrap();
        let mut pkts = Vec::new();
        let mut buf = [0u8; 400];
        for seq in 0..200u16 {
            let len = rtp_packet(seq, 42, 160, &mut buf);
            let n = tx.protect_rtp(&mut buf, len).unwrap();
            pkts.push(buf[..n].to_vec());
        }
        // Every single-bit flip in a packet is detected.
        let p = &pkts[5];
        for bit in 0..p.len() * 8 {
            let mut t = p.clone();
            t[bit / 8] ^= 1 << (bit % 8);
            let r = rx.unprotect_rtp(&mut t, p.len());
            assert!(r.is_err(), "{profile:?}: bit {bit} flip accepted");
        }
        // Truncations are errors, not panics.
        for cut in 0..p.len() {
            let mut t = p.clone();
            assert!(rx.unprotect_rtp(&mut t, cut).is_err());
        }
        let fails = rx.stats().auth_failures + rx.stats().malformed;
        assert!(fails >= (p.len() * 8) as u64);
        // Accept 100..200 in order, then replays and too-old packets are refused.
        for p in &pkts[100..] {
            let mut t = p.clone();
            rx.unprotect_rtp(&mut t, p.len()).unwrap();
        }
        let before = rx.stats().replays;
        let mut t = pkts[150].clone();
        assert!(matches!(
            rx.unprotect_rtp(&mut t, pkts[150].len()),
            Err(RtpError::Replayed { index: 150, .. })
        ));
        let mut t = pkts[120].clone(); // 79 behind the highest, window 64
        assert!(matches!(
            rx.unprotect_rtp(&mut t, pkts[120].len()),
            Err(RtpError::Replayed { .. })
        ));
        let mut t = pkts[140].clone(); // inside the window, already seen
        assert!(rx.unprotect_rtp(&mut t, pkts[140].len()).is_err());
        assert_eq!(rx.stats().replays, before + 3);
        // SRTCP replay and tamper.
        let len = rtcp_packet(1, 42, &mut buf);
        let n = tx.protect_rtcp(&mut buf, len).unwrap();
        let good = buf[..n].to_vec();
        let mut t = good.clone();
        t[10] ^= 0x40;
        assert!(matches!(
            rx.unprotect_rtcp(&mut t, n),
            Err(RtpError::AuthFailed { .. })
        ));
        let mut t = good.clone();
        rx.unprotect_rtcp(&mut t, n).unwrap();
        let mut t = good.clone();
        assert!(matches!(
            rx.unprotect_rtcp(&mut t, n),
            Err(RtpError::Replayed { what: "SRTCP", .. })
        ));
    }
}

#[test]
fn roc_tracks_a_long_stream_with_loss_across_several_wraps() {
    let profile = SrtpProfile::Aes128CmHmacSha1_80;
    let mut tx = SrtpContext::new(profile, &[1; 16], &[2; 14], SrtpConfig::default()).unwrap();
    let mut rx = SrtpContext::new(profile, &[1; 16], &[2; 14], SrtpConfig::default()).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut buf = [0u8; 200];
    let mut delivered = 0u64;
    for i in 0..200_000u32 {
        let seq = (60_000 + i) as u16;
        let len = rtp_packet(seq, 9, 40, &mut buf);
        let n = tx.protect_rtp(&mut buf, len).unwrap();
        // Bursts of up to 1000 lost packets (below the 32768 ambiguity limit).
        if rng.gen_bool(0.001) {
            continue;
        }
        if i % 5000 < 800 && i > 10 {
            continue;
        }
        rx.unprotect_rtp(&mut buf, n).unwrap();
        delivered += 1;
    }
    assert_eq!(rx.stats().rtp_unprotected, delivered);
    assert_eq!(rx.stats().auth_failures, 0);
}
