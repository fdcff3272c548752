//! Real-time safety of the conference: zero allocations (and frees) in `receive`, `tick` and
//! `poll_transmit`, with 50 legs of four codecs joining and leaving between ticks, per-leg chains on some
//! legs, and RTCP reports falling due.

use std::time::Duration;

use tutti::codecs::{CodecSpec, Encoder};
use tutti::conference::{Conference, ConferenceConfig, LegConfig, LegId, MTU};
use tutti::engine::{count_allocations, counting_is_active, CountingAllocator};
use tutti::rtp::RtpBuilder;

#[global_allocator]
static A: CountingAllocator = CountingAllocator;

struct Src {
    id: LegId,
    enc: Box<dyn Encoder>,
    spec: CodecSpec,
    seq: u16,
    ts: u32,
    n: usize,
    pkt: Vec<u8>,
    pcm: Vec<i16>,
    payload: Vec<u8>,
}

impl Src {
    fn new(conf: &mut Conference, spec: &str, k: usize, now: Duration) -> Self {
        let spec = CodecSpec::parse(spec).expect("codec");
        let mut lc = LegConfig::new(format!("leg{k}"), spec);
        if k % 5 == 0 {
            lc.chain = Some("hpf(hz=100),agc".into());
        }
        let frame = (spec.info().audio_rate / 50) as usize;
        Self {
            id: conf.add_leg(lc, now).expect("leg"),
            enc: spec.encoder().expect("encoder"),
            spec,
            seq: 0,
            ts: 0,
            n: k * 1000,
            pkt: vec![0; MTU],
            pcm: vec![0; frame],
            payload: vec![0; MTU],
        }
    }

    /// Builds the next packet into preallocated buffers; returns its length.
    fn next(&mut self, ssrc: u32, amp: f32) -> usize {
        let rate = self.spec.info().audio_rate as f32;
        for (i, s) in self.pcm.iter_mut().enumerate() {
            let t = (self.n + i) as f32 / rate;
            *s = (amp * 32767.0 * (2.0 * std::f32::consts::PI * (200.0 + ssrc as f32 % 900.0) * t).sin())
                as i16;
        }
        self.n += self.pcm.len();
        let len = self.enc.encode(&self.pcm, &mut self.payload).expect("encode");
        let info = self.spec.info();
        let b = RtpBuilder {
            payload_type: info.static_payload_type.unwrap_or(96),
            sequence_number: self.seq,
            timestamp: self.ts,
            ssrc,
            ..Default::default()
        };
        self.seq = self.seq.wrapping_add(1);
        self.ts = self
            .ts
            .wrapping_add(self.pcm.len() as u32 * info.clock_rate / info.audio_rate);
        b.write(&self.payload[..len], &mut self.pkt).expect("write")
    }
}

#[test]
fn tick_receive_and_poll_never_allocate_while_legs_join_and_leave() {
    assert!(counting_is_active(), "the counting allocator must be installed");
    let mut conf = Conference::new(ConferenceConfig::default()).expect("config");
    let codecs = ["pcmu", "g722", "opus", "pcma"];
    let mut srcs: Vec<Src> = (0..50)
        .map(|k| Src::new(&mut conf, codecs[k % 4], k, Duration::ZERO))
        .collect();
    let mut out = vec![0u8; MTU];
    let mut total = tutti::engine::AllocCounts::default();
    let mut next_k = 50;
    let mut sent = 0u64;
    for tick in 0..1000u64 {
        let now = Duration::from_millis(20 * tick);
        // Control side, between ticks: every 10th tick a leg leaves and a new one joins.
        if tick % 10 == 5 {
            let victim = srcs.remove((tick as usize * 7) % srcs.len());
            let (_, byes) = conf.remove_leg(victim.id, now).expect("remove");
            assert!(!byes.is_empty());
            srcs.push(Src::new(&mut conf, codecs[next_k % 4], next_k, now));
            next_k += 1;
        }
        // Network side (lengths computed outside the counted region would be cheating: encoding a test
        // packet does not allocate either, so it runs inside).
        let (_, c) = count_allocations(|| {
            for (i, s) in srcs.iter_mut().enumerate() {
                let amp = if i < 4 { 0.3 } else { 0.01 };
                let n = s.next(0x1000 + i as u32, amp);
                let _ = conf.receive(s.id, now, &s.pkt[..n]);
            }
            conf.tick(now);
            for s in &srcs {
                while conf.poll_transmit(s.id, &mut out).is_some() {
                    sent += 1;
                }
            }
        });
        if tick >= 5 {
            total.allocs += c.allocs;
            total.frees += c.frees;
        }
    }
    assert_eq!(total.allocs, 0, "allocations on the mix path");
    assert_eq!(total.frees, 0, "frees on the mix path");
    assert!(sent >= 50 * 950, "every leg got a packet every tick ({sent})");
    let st = conf.stats();
    assert_eq!(st.legs, 50);
    assert!(st.talkers >= 1);
}
