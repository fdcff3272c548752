//! Behaviour of the conference core: N−1 mixing across codecs, CSRC lists and RFC 6465 levels, talker
//! selection, shared encodes, cascading, timeouts and SRTP — with time as an input, faster than real time.

use std::f32::consts::PI;
use std::time::Duration;

use tutti::codecs::{CodecSpec, Decoder, Encoder};
use tutti::conference::{Conference, ConferenceConfig, LegConfig, LegId, MTU};
use tutti::rtp::{
    CryptoAttribute, MixerAudioLevels, RtpBuilder, RtpPacket, SrtpConfig, SrtpContext, SrtpProfile,
};

/// A client: encodes a signal into RTP and decodes what the mixer sends back.
struct Client {
    spec: CodecSpec,
    enc: Box<dyn Encoder>,
    dec: Box<dyn Decoder>,
    ssrc: u32,
    seq: u16,
    ts: u32,
    rate: u32,
    freq: f32,
    amp: f32,
    n: usize,
    heard: Vec<f32>,
    csrcs: Vec<Vec<u32>>,
    levels: Vec<Vec<u8>>,
    srtp_tx: Option<SrtpContext>,
    srtp_rx: Option<SrtpContext>,
}

impl Client {
    fn new(spec: &str, ssrc: u32, freq: f32, amp: f32) -> Self {
        let spec = CodecSpec::parse(spec).expect("known codec");
        Self {
            enc: spec.encoder().expect("encoder"),
            dec: spec.decoder().expect("decoder"),
            rate: spec.info().audio_rate,
            spec,
            ssrc,
            seq: 1000,
            ts: 5000,
            freq,
            amp,
            n: 0,
            heard: Vec::new(),
            csrcs: Vec::new(),
            levels: Vec::new(),
            srtp_tx: None,
            srtp_rx: None,
        }
    }

    fn packet(&mut self) -> Vec<u8> {
        let frame = (self.rate / 50) as usize;
        let pcm: Vec<i16> = (0..frame)
            .map(|i| {
                let t = (self.n + i) as f32 / self.rate as f32;
                (self.amp * (2.0 * PI * self.freq * t).sin() * 32767.0) as i16
            })
            .collect();
        self.n += frame;
        let mut payload = vec![0u8; 1500];
        let len = self.enc.encode(&pcm, &mut payload).expect("encode");
        let info = self.spec.info();
        let b = RtpBuilder {
            payload_type: info.static_payload_type.unwrap_or(96),
            sequence_number: self.seq,
            timestamp: self.ts,
            ssrc: self.ssrc,
            ..Default::default()
        };
        self.seq = self.seq.wrapping_add(1);
        self.ts = self
            .ts
            .wrapping_add(frame as u32 * info.clock_rate / info.audio_rate);
        let mut buf = vec![0u8; MTU];
        let mut n = b.write(&payload[..len], &mut buf).expect("write");
        if let Some(s) = self.srtp_tx.as_mut() {
            n = s.protect_rtp(&mut buf, n).expect("protect");
        }
        buf.truncate(n);
        buf
    }

    fn take(&mut self, dgram: &mut [u8], len: usize) {
        let len = match self.srtp_rx.as_mut() {
            Some(s) if dgram[1] < 192 || dgram[1] > 223 => {
                s.unprotect_rtp(dgram, len).expect("our SRTP verifies")
            }
            _ => len,
        };
        if (192..=223).contains(&dgram[1]) {
            return; // RTCP
        }
        let p = RtpPacket::parse(&dgram[..len]).expect("mixer sends valid RTP");
        let mut pcm = vec![0i16; 2048];
        let n = self.dec.decode(p.payload(), &mut pcm).expect("decodable payload");
        self.heard
            .extend(pcm[..n].iter().map(|&s| f32::from(s) / 32768.0));
        self.csrcs.push(p.csrcs().collect());
        self.levels.push(
            p.extension_element(2)
                .map(|d| MixerAudioLevels::new(d).iter().collect())
                .unwrap_or_default(),
        );
    }
}

/// Power of `x` at `f` (Goertzel), relative to a full-scale sine, in dB.
fn tone_db(x: &[f32], rate: u32, f: f32) -> f32 {
    let w = 2.0 * PI * f / rate as f32;
    let (mut s1, mut s2) = (0f32, 0f32);
    for &v in x {
        let s = v + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let p = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    let amp = 2.0 * p.sqrt() / x.len() as f32;
    20.0 * amp.max(1e-9).log10()
}

fn run(conf: &mut Conference, legs: &[LegId], clients: &mut [Client], ticks: usize) {
    let mut buf = vec![0u8; MTU];
    for k in 0..ticks {
        let now = Duration::from_millis(20 * k as u64);
        for (id, c) in legs.iter().zip(clients.iter_mut()) {
            let p = c.packet();
            conf.receive(*id, now, &p).expect("valid packet accepted");
        }
        conf.tick(now);
        for (id, c) in legs.iter().zip(clients.iter_mut()) {
            while let Some(n) = conf.poll_transmit(*id, &mut buf) {
                c.take(&mut buf, n);
            }
        }
    }
}

#[test]
fn n_minus_one_across_pcmu_g722_and_opus_with_csrcs_and_levels() {
    let mut conf = Conference::new(ConferenceConfig::default()).expect("valid config");
    let mut clients = vec![
        Client::new("pcmu", 0x1111, 440.0, 0.3),
        Client::new("g722", 0x2222, 1000.0, 0.2),
        Client::new("opus", 0x3333, 1700.0, 0.25),
    ];
    let legs: Vec<LegId> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            conf.add_leg(LegConfig::new(format!("leg{i}"), c.spec), Duration::ZERO)
                .expect("leg")
        })
        .collect();
    run(&mut conf, &legs, &mut clients, 150);
    for (i, c) in clients.iter().enumerate() {
        let tail = &c.heard[c.heard.len() / 2..];
        let own = tone_db(tail, c.rate, c.freq);
        for (j, o) in clients.iter().enumerate() {
            if i == j {
                continue;
            }
            let other = tone_db(tail, c.rate, o.freq);
            let sent = 20.0 * o.amp.log10();
            // The other legs' tones arrive at their level (codecs and resamplers within 1.5 dB)…
            assert!(
                (other - sent).abs() < 1.5,
                "leg {i} hears leg {j} at {other:.1} dB, sent {sent:.1}"
            );
        }
        // …and the leg's own tone is absent (below −45 dB relative to full scale).
        assert!(own < -45.0, "leg {i} hears itself at {own:.1} dB");
        // CSRCs name exactly the other two sources, with levels near their −dBov.
        let last = c.csrcs.last().expect("packets arrived");
        let mut want: Vec<u32> = clients
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, o)| o.ssrc)
            .collect();
        let mut got = last.clone();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want, "CSRC list of leg {i}");
        let lv = c.levels.last().expect("levels");
        assert_eq!(lv.len(), 2, "one RFC 6465 level per CSRC");
        for (k, csrc) in last.iter().enumerate() {
            let o = clients
                .iter()
                .find(|o| o.ssrc == *csrc)
                .expect("csrc is a client");
            // A sine's RMS is amp/√2: −dBov = −20·log10(amp) + 3.
            let expect = (-20.0 * o.amp.log10() + 3.0).round() as i32;
            assert!(
                (i32::from(lv[k]) - expect).abs() <= 2,
                "level {} for {csrc:x}, expected {expect}",
                lv[k]
            );
        }
    }
    let st = conf.stats();
    assert_eq!(st.talkers, 3);
    for id in &legs {
        let s = conf.leg_stats(*id).expect("leg");
        assert_eq!(s.quality.packets, 150);
        assert!(s.quality.mos > 3.5 && s.quality.r_factor > 60.0, "{s:?}");
    }
}

#[test]
fn quiet_legs_share_one_encode_and_hear_the_full_mix() {
    let mut cfg = ConferenceConfig::default();
    cfg.talkers.max_talkers = 3;
    let mut conf = Conference::new(cfg).expect("config");
    let mut clients: Vec<Client> = (0..20)
        .map(|i| {
            let amp = if i < 2 { 0.3 } else { 0.0 };
            Client::new("pcmu", 0x100 + i, 500.0 + 300.0 * i as f32, amp)
        })
        .collect();
    let legs: Vec<LegId> = clients
        .iter()
        .map(|c| {
            conf.add_leg(LegConfig::new("l", c.spec), Duration::ZERO)
                .expect("leg")
        })
        .collect();
    run(&mut conf, &legs, &mut clients, 100);
    let st = conf.stats();
    assert_eq!(st.talkers, 2);
    assert_eq!(st.shared_groups, 1);
    assert_eq!(st.encodes_last_tick, 3, "two talkers' own encodes + one shared");
    // A quiet leg hears both talkers; identical payloads for all quiet legs.
    let c = &clients[10];
    let tail = &c.heard[c.heard.len() / 2..];
    assert!(tone_db(tail, 8000, 500.0) > -12.0 && tone_db(tail, 8000, 800.0) > -12.0);
    let tail5 = &clients[5].heard[clients[5].heard.len() / 2..];
    assert_eq!(tail, tail5);
}

#[test]
fn at_most_k_talkers_loudest_win_without_flapping() {
    let mut cfg = ConferenceConfig::default();
    cfg.talkers.max_talkers = 3;
    let mut conf = Conference::new(cfg).expect("config");
    let amps = [0.05, 0.4, 0.1, 0.3, 0.02, 0.2];
    let mut clients: Vec<Client> = amps
        .iter()
        .enumerate()
        .map(|(i, &a)| Client::new("g722", 0x500 + i as u32, 300.0 + 450.0 * i as f32, a))
        .collect();
    let legs: Vec<LegId> = clients
        .iter()
        .map(|c| {
            conf.add_leg(LegConfig::new("l", c.spec), Duration::ZERO)
                .expect("leg")
        })
        .collect();
    run(&mut conf, &legs, &mut clients, 250);
    let talking: Vec<bool> = legs.iter().map(|&l| conf.is_talking(l)).collect();
    assert_eq!(talking, vec![false, true, false, true, false, true]);
    // After the start-up, the set is stable: at most the initial fills and a few swaps.
    assert!(conf.stats().talker_changes <= 9, "{:?}", conf.stats());
    // A listener that is not talking hears exactly the three loudest.
    let c = &clients[0];
    let tail = &c.heard[c.heard.len() / 2..];
    for (j, o) in clients.iter().enumerate() {
        let db = tone_db(tail, 16000, o.freq);
        if talking[j] {
            assert!(db > 20.0 * o.amp.log10() - 1.5, "talker {j} at {db:.1} dB");
        } else {
            assert!(db < -50.0, "non-talker {j} leaks at {db:.1} dB");
        }
    }
}

#[test]
fn cascaded_conferences_pass_talkers_through_csrcs() {
    let mut a = Conference::new(ConferenceConfig {
        seed: 1,
        ..ConferenceConfig::default()
    })
    .expect("config");
    let mut b = Conference::new(ConferenceConfig {
        seed: 2,
        ..ConferenceConfig::default()
    })
    .expect("config");
    let talker = 0xabcd_0001;
    let mut alice = Client::new("g722", talker, 700.0, 0.3);
    let mut bob = Client::new("pcmu", 0xabcd_0002, 1300.0, 0.0);
    let la = a
        .add_leg(LegConfig::new("alice", alice.spec), Duration::ZERO)
        .expect("leg");
    // The trunk: each mixer is a leg of the other, plain RTP, G.722.
    let g722 = CodecSpec::parse("g722").expect("g722");
    let a_trunk = a
        .add_leg(LegConfig::new("to-b", g722), Duration::ZERO)
        .expect("leg");
    let b_trunk = b
        .add_leg(LegConfig::new("to-a", g722), Duration::ZERO)
        .expect("leg");
    let lb = b
        .add_leg(LegConfig::new("bob", bob.spec), Duration::ZERO)
        .expect("leg");
    let mut buf = vec![0u8; MTU];
    for k in 0..150 {
        let now = Duration::from_millis(20 * k);
        a.receive(la, now, &alice.packet()).expect("alice");
        b.receive(lb, now, &bob.packet()).expect("bob");
        a.tick(now);
        b.tick(now);
        while let Some(n) = a.poll_transmit(a_trunk, &mut buf) {
            let _ = b.receive(b_trunk, now, &buf[..n]);
        }
        while let Some(n) = b.poll_transmit(b_trunk, &mut buf) {
            let _ = a.receive(a_trunk, now, &buf[..n]);
        }
        while let Some(n) = b.poll_transmit(lb, &mut buf) {
            bob.take(&mut buf, n);
        }
        while a.poll_transmit(la, &mut buf).is_some() {}
    }
    let tail = &bob.heard[bob.heard.len() / 2..];
    assert!(
        tone_db(tail, 8000, 700.0) > 20.0 * 0.3f32.log10() - 2.0,
        "alice reaches bob across the trunk"
    );
    assert_eq!(
        bob.csrcs.last().expect("packets"),
        &vec![talker],
        "alice's SSRC in bob's CSRC list"
    );
    // Alice's level is passed through too (~−dBov of her tone).
    let lv = bob.levels.last().expect("levels")[0];
    assert!((i32::from(lv) - 13).abs() <= 2, "level {lv}");
}

#[test]
fn srtp_leg_round_trip_and_tampering_is_counted() {
    let mut conf = Conference::new(ConferenceConfig::default()).expect("config");
    let key = CryptoAttribute::from_base64_key(
        SrtpProfile::from_sdes_name("AES_CM_128_HMAC_SHA1_80").expect("suite"),
        "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
    )
    .expect("key");
    let mut clients = vec![
        Client::new("pcma", 0x77, 600.0, 0.3),
        Client::new("pcma", 0x78, 1500.0, 0.3),
    ];
    clients[0].srtp_tx = Some(key.context(SrtpConfig::default()).expect("ctx"));
    clients[0].srtp_rx = Some(key.context(SrtpConfig::default()).expect("ctx"));
    let mut lc = LegConfig::new("secure", clients[0].spec);
    lc.srtp = Some(key);
    let legs = vec![
        conf.add_leg(lc, Duration::ZERO).expect("leg"),
        conf.add_leg(LegConfig::new("plain", clients[1].spec), Duration::ZERO)
            .expect("leg"),
    ];
    run(&mut conf, &legs, &mut clients, 100);
    let tail = &clients[0].heard[400..];
    assert!(tone_db(tail, 8000, 1500.0) > -13.0);
    let tail = &clients[1].heard[clients[1].heard.len() / 2..];
    assert!(tone_db(tail, 8000, 600.0) > -13.0);
    let mut p = clients[0].packet();
    let last = p.len() - 1;
    p[last] ^= 1;
    assert!(conf.receive(legs[0], Duration::from_secs(3), &p).is_err());
    assert!(conf
        .receive(legs[0], Duration::from_secs(3), &[0x80, 0x00])
        .is_err());
    assert_eq!(conf.leg_counters(legs[0]).expect("leg").rx_dropped, 2);
}

#[test]
fn silent_legs_expire_and_bye_is_sent_on_removal() {
    let mut cfg = ConferenceConfig::default();
    cfg.leg_timeout = Duration::from_secs(2);
    let mut conf = Conference::new(cfg).expect("config");
    let mut c = Client::new("pcmu", 0x42, 400.0, 0.2);
    let id = conf
        .add_leg(LegConfig::new("x", c.spec), Duration::ZERO)
        .expect("leg");
    for k in 0..50 {
        let now = Duration::from_millis(20 * k);
        conf.receive(id, now, &c.packet()).expect("packet");
        conf.tick(now);
    }
    assert!(conf.expired(Duration::from_millis(2500)).is_empty());
    assert_eq!(conf.expired(Duration::from_millis(3100)), vec![id]);
    let (stats, out) = conf.remove_leg(id, Duration::from_millis(3100)).expect("remove");
    assert_eq!(stats.quality.packets, 50);
    let bye = out.last().expect("a BYE is the last datagram");
    assert_eq!(bye[1], 200, "compound RTCP starts with SR/RR");
    assert!(tutti::rtp::rtcp_packets(bye)
        .flatten()
        .any(|p| matches!(p, tutti::rtp::RtcpPacket::Bye(_))));
    assert!(
        conf.receive(id, Duration::from_secs(4), &c.packet()).is_err(),
        "stale id refused"
    );
}
