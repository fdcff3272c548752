//! The conference split for real time (`tutti::conference::split`): the task's tick allocates and frees
//! nothing while legs join (from unknown sources, through the control side), time out and leave, statistics
//! are asked for and recordings are fed; legs hear the others (CSRCs) and not themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
mod common;

use std::time::Duration;

use common::ToneSender;
use rtrb::RingBuffer;
use tutti::codecs::CodecSpec;
use tutti::conference::{
    split, Conference, ConferenceConfig, Datagram, Event, LegConfig, LegId, Route, RuntimeOptions,
};
use tutti::engine::{count_allocations, counting_is_active, AllocCounts, CountingAllocator};
use tutti::rtp::RtpPacket;

#[global_allocator]
static A: CountingAllocator = CountingAllocator;

/// A participant: a UDP address that sends a tone in RTP.
struct Client {
    addr: SocketAddr,
    ssrc: u32,
    spec: CodecSpec,
    tone: ToneSender,
    /// Packets it got back, and the CSRCs they named.
    got: u64,
    csrcs: BTreeSet<u32>,
}

impl Client {
    fn new(k: u16, codec: &str) -> Self {
        let spec = CodecSpec::parse(codec).expect("codec");
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 40000 + k)),
            ssrc: 0x5000 + u32::from(k),
            spec,
            tone: ToneSender::new(spec),
            got: 0,
            csrcs: BTreeSet::new(),
        }
    }

    fn next(&mut self, amp: f32, at: Duration) -> Datagram {
        let info = self.spec.info();
        let f = 150.0 + (self.ssrc % 16) as f32 * 60.0;
        let pt = info.static_payload_type.unwrap_or(96);
        let step = self.tone.pcm.len() as u32;
        let pkt = self
            .tone
            .packet(info.audio_rate as f32, pt, self.ssrc, step, |t| {
                (amp * 32767.0 * (2.0 * std::f32::consts::PI * f * t).sin()) as i16
            });
        Datagram::new(self.addr, at, pkt)
    }
}

#[test]
fn runtime_tick_is_allocation_free_while_legs_join_expire_and_leave() {
    assert!(counting_is_active(), "the counting allocator must be installed");
    let cfg = ConferenceConfig {
        leg_timeout: Duration::from_millis(300),
        max_legs: 64,
        ..ConferenceConfig::default()
    };
    let conf = Conference::new(cfg).expect("config");
    let (mix_p, mut mix_c) = RingBuffer::new(16000 * 2);
    let opts = RuntimeOptions {
        mix_record: Some(mix_p),
        ..RuntimeOptions::default()
    };
    let (mut ctl, mut task, mut net) = split(conf, opts).expect("split");
    // One configured leg with a recording; the others join by sending.
    let mut clients: Vec<Client> = (0..24u16)
        .map(|k| Client::new(k, ["pcmu", "g722", "pcma"][k as usize % 3]))
        .collect();
    let (rec_p, mut rec_c) = RingBuffer::new(16000 * 2);
    let c0 = &clients[0];
    let mut lc = LegConfig::new(String::from("configured"), c0.spec);
    lc.payload_type = 0;
    let route = Route {
        remote: c0.addr,
        by_ssrc: Some(c0.ssrc),
        record: Some(rec_p),
    };
    ctl.add_leg_at(lc, route, None, Duration::ZERO)
        .expect("configured leg");
    let mut ids: BTreeMap<SocketAddr, LegId> = BTreeMap::new();
    let mut total = AllocCounts::default();
    let (mut joined, mut retired, mut stats_answers, mut recorded, mut mixed) = (0, 0, 0, 0usize, 0usize);
    let mut byes = 0;
    for tick in 0..600u64 {
        let now = Duration::from_millis(20 * tick);
        // Network side: clients 0..3 talk; client k (k ≥ 4) is present from tick 10k/2 for 150 ticks, so
        // legs keep joining and timing out.
        for (k, c) in clients.iter_mut().enumerate() {
            let start = if k < 4 { 0 } else { 5 * k as u64 };
            let present = tick >= start && (k < 4 || tick < start + 150);
            if present {
                let d = c.next(if k < 3 { 0.3 } else { 0.02 }, now);
                assert!(net.rx.push(d).is_ok(), "receive ring full");
            }
        }
        if tick % 50 == 25 {
            assert!(ctl.request_stats());
        }
        let (_, c) = count_allocations(|| task.tick_at(now));
        if tick >= 2 {
            total.allocs += c.allocs;
            total.frees += c.frees;
        }
        // What the conference sent.
        while let Ok(d) = net.tx.pop() {
            if let Some(c) = clients.iter_mut().find(|c| c.addr == d.addr) {
                if let Ok(p) = RtpPacket::parse(d.bytes()) {
                    c.got += 1;
                    c.csrcs.extend(p.csrcs());
                }
            }
        }
        // Control side.
        while let Some(e) = ctl.poll_event() {
            match e {
                Event::Join(d) => {
                    let from = d.addr;
                    if ids.contains_key(&from) {
                        continue;
                    }
                    let codec = clients.iter().find(|c| c.addr == from).expect("a client").spec;
                    let mut lc = LegConfig::new(format!("{from}"), codec);
                    lc.payload_type = codec.info().static_payload_type.expect("static");
                    let route = Route {
                        remote: from,
                        by_ssrc: None,
                        record: None,
                    };
                    ids.insert(from, ctl.add_leg(lc, route, Some(d)).expect("join"));
                    joined += 1;
                }
                Event::Expired(id) => ctl.remove_leg(id).expect("remove"),
                Event::Retired(leg, route) => {
                    let (_, out) = leg.finish(now);
                    byes += out.len();
                    ids.remove(&route.remote);
                    retired += 1;
                }
                Event::Rejected(leg, _) => panic!("leg {} rejected", leg.id()),
                Event::LegStats(_) => {}
                Event::Stats(s, counters) => {
                    stats_answers += 1;
                    assert_eq!(counters.tx_dropped, 0);
                    assert!(s.legs >= 4, "{s:?}");
                }
            }
        }
        recorded += rec_c
            .read_chunk(rec_c.slots())
            .map(|c| {
                let n = c.len();
                c.commit_all();
                n
            })
            .unwrap_or(0);
        mixed += mix_c
            .read_chunk(mix_c.slots())
            .map(|c| {
                let n = c.len();
                c.commit_all();
                n
            })
            .unwrap_or(0);
    }
    assert_eq!(total.allocs, 0, "allocations on the real-time tick");
    assert_eq!(total.frees, 0, "frees on the real-time tick");
    // Clients 1..23 joined (client 0 is configured); those with k ≥ 4 left and timed out (all but the
    // last few, still present at the end).
    assert_eq!(joined, 23, "joins");
    assert!(retired >= 15, "expired legs retired ({retired})");
    assert!(byes >= retired, "every retired leg ends with a BYE");
    assert_eq!(stats_answers, 12);
    assert_eq!(
        recorded,
        600 * 320,
        "the configured leg's recording got every tick"
    );
    assert_eq!(mixed, 600 * 320, "the full-mix recording got every tick");
    // N−1: the three loud talkers hear the two others (CSRCs) and never themselves.
    let talkers: Vec<u32> = clients[..3].iter().map(|c| c.ssrc).collect();
    for c in &clients[..3] {
        assert!(c.got > 500, "client {:x} got {} packets", c.ssrc, c.got);
        assert!(!c.csrcs.contains(&c.ssrc), "client {:x} hears itself", c.ssrc);
        for t in &talkers {
            if *t != c.ssrc {
                assert!(c.csrcs.contains(t), "client {:x} misses {t:x}", c.ssrc);
            }
        }
    }
}
