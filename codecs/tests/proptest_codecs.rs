//! Property tests: round trips of every payload format and "malformed input never panics" for every
//! decoder and parser (seeded by proptest's deterministic default RNG per test name).

use proptest::prelude::*;
use tutti_codecs::{
    alaw_decode, alaw_encode, read_ogg_opus, rtp_format, ulaw_decode, ulaw_encode, CnPayload, CodecSpec,
    Decoder, Encoder, G722Decoder, G722Encoder, G722Mode, L16Decoder, L16Encoder, OggPacketReader,
    OggPageWriter, OpusDecoder, TelephoneEvent,
};

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn g711_round_trip_error_is_within_half_a_step(x in any::<i16>()) {
        // A-law: step 16·2^(seg−1) for 13-bit magnitude segments; µ-law similar; bound both by 1/16 of
        // the magnitude + the smallest step.
        let a = alaw_decode(alaw_encode(x));
        let u = ulaw_decode(ulaw_encode(x));
        let bound = (i32::from(x).abs() / 16 + 16) as i32;
        prop_assert!((i32::from(a) - i32::from(x)).abs() <= bound + 16, "A {x} → {a}");
        prop_assert!((i32::from(u) - i32::from(x)).abs() <= bound + 8, "µ {x} → {u}");
    }

    #[test]
    fn g722_decodes_any_bytes_and_encodes_any_pcm(bytes in proptest::collection::vec(any::<u8>(), 0..400),
                                                   pcm in proptest::collection::vec(any::<i16>(), 0..400)) {
        for mode in [G722Mode::Kbps64, G722Mode::Kbps56, G722Mode::Kbps48] {
            let mut d = G722Decoder::new(mode);
            let mut out = vec![0i16; bytes.len() * 2];
            prop_assert_eq!(d.decode(&bytes, &mut out).unwrap(), bytes.len() * 2);
            let mut e = G722Encoder::new(mode);
            let even = &pcm[..pcm.len() & !1];
            let mut codes = vec![0u8; even.len() / 2];
            prop_assert_eq!(e.encode(even, &mut codes).unwrap(), even.len() / 2);
            prop_assert!(codes.iter().all(|&c| c & !mode.code_mask() == 0));
        }
    }

    #[test]
    fn opus_decoder_never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let mut d = OpusDecoder::new(48000, 2).unwrap();
        let mut out = vec![0i16; 5760 * 2];
        let _ = d.decode(&bytes, &mut out);
        let _ = d.payload_samples(&bytes);
        let _ = d.decode_fec(&bytes, &mut out[..1920]);
        let _ = d.decode(&bytes, &mut out[..3]);
        prop_assert!(d.conceal(&mut out[..1920]).is_ok());
    }

    #[test]
    fn ogg_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = OggPacketReader::read(&bytes);
        let _ = read_ogg_opus(&bytes);
        // Also with a valid capture pattern in front, to get past the first check.
        let mut b = b"OggS\0\x02".to_vec();
        b.extend_from_slice(&bytes);
        let _ = OggPacketReader::read(&b);
    }

    #[test]
    fn ogg_pages_round_trip(packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1000), 1..40)) {
        let mut w = OggPageWriter::new(42);
        for (i, p) in packets.iter().enumerate() {
            w.add_packet(p, i as i64, i % 7 == 0).unwrap();
        }
        let bytes = w.finish();
        let got = OggPacketReader::read(&bytes).unwrap();
        prop_assert_eq!(got.len(), packets.len());
        for (g, p) in got.iter().zip(&packets) {
            prop_assert_eq!(&g.data, p);
        }
    }

    #[test]
    fn cn_and_telephone_event_parse_build(bytes in proptest::collection::vec(any::<u8>(), 0..20)) {
        if let Ok(p) = CnPayload::parse(&bytes) {
            let mut out = [0u8; 20];
            let n = p.write(&mut out).unwrap();
            // Coefficient bytes 0..=254 survive the round trip exactly; 255 saturates to 255 too.
            prop_assert_eq!(&out[..n], &bytes[..n]);
        }
        if let Ok(e) = TelephoneEvent::parse(&bytes) {
            let b = e.to_bytes();
            prop_assert_eq!(b[0], bytes[0]);
            prop_assert_eq!(b[1], bytes[1] & 0xBF);
            prop_assert_eq!(&b[2..], &bytes[2..4]);
        }
    }

    #[test]
    fn l16_round_trip(pcm in proptest::collection::vec(any::<i16>(), 0..200)) {
        let even = &pcm[..pcm.len() & !1];
        let mut e = L16Encoder::new(48000, 2).unwrap();
        let mut d = L16Decoder::new(48000, 2).unwrap();
        let mut b = vec![0u8; even.len() * 2];
        e.encode(even, &mut b).unwrap();
        let mut out = vec![0i16; even.len()];
        prop_assert_eq!(d.decode(&b, &mut out).unwrap(), even.len() / 2);
        prop_assert_eq!(&out[..], even);
    }

    #[test]
    fn registry_parsers_never_panic(s in ".{0,40}") {
        let _ = CodecSpec::parse(&s);
        let _ = rtp_format(&s);
    }
}
