//! A conference split for real time: the mix tick on an engine scheduler worker, everything else beside it.
//!
//! # What
//! [`split`] turns a [`Conference`] into three parts that talk only through wait-free rings:
//! - [`ConferenceTask`], a [`tutti_engine::Task`] that runs on a scheduler worker every packet time: it
//!   takes the datagrams that arrived, routes them to their legs, inserts and removes legs, runs the mix
//!   tick, and queues the datagrams to send, the audio to record and the statistics asked for;
//! - [`ConferenceControl`], the control side: it prepares joining legs (the only place that allocates, with
//!   the conference's [`super::LegFactory`]), asks for removals and statistics, and receives
//!   [`Event`]s — join requests from unknown sources, expired legs, retired legs to finish and drop;
//! - [`NetEnds`], the two ring ends a network driver holds: received datagrams in, datagrams to send out.
//!
//! # How
//! The split media servers use (PipeWire's data loop, str0m's sans-IO core with a thin driver): the
//! real-time thread owns the state, the control thread owns allocation and system calls, and they exchange
//! moves of preallocated values over single-producer single-consumer `rtrb` rings. A leg goes
//! control → [`ConferenceTask`] as a boxed [`super::PreparedLeg`] and comes back as a
//! [`super::RetiredLeg`], to be finished (BYE) and dropped off the real-time thread. Conference time is
//! the time since the runtime's clock started; datagrams carry their arrival time on that clock.
//!
//! # Real-time safety
//! [`ConferenceTask::tick`] allocates nothing, takes no lock and makes no system call (reading the vDSO
//! clock aside): rings and route tables are preallocated, statistics are plain values (leg names are
//! shared `Arc<str>`), and when the event ring is full, retired legs wait in a preallocated list instead of
//! being dropped there. `tests/conference_runtime.rs` counts allocations on the tick while legs join and
//! leave, and `tutti conference` reports the scheduler's allocation count in its statistics.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use rtrb::{Consumer, Producer, RingBuffer};
use tutti_engine::Task;

use super::config::{ConferenceError, LegConfig, LegId};
use super::core::Conference;
use super::factory::{LegFactory, PreparedLeg, RetiredLeg};
use super::leg::MTU;
use super::stats::{ConferenceStats, LegStats};

/// One datagram with its peer address and its arrival (or send) time on the runtime's clock.
#[derive(Clone)]
pub struct Datagram {
    /// Bytes used in `data`.
    pub len: usize,
    /// Source (received) or destination (to send).
    pub addr: SocketAddr,
    /// Arrival time on the runtime's clock (received datagrams).
    pub at: Duration,
    /// The bytes.
    pub data: [u8; MTU],
}

impl std::fmt::Debug for Datagram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Datagram")
            .field("len", &self.len)
            .field("addr", &self.addr)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

impl Datagram {
    /// An empty datagram.
    pub fn empty() -> Self {
        Self {
            len: 0,
            addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            at: Duration::ZERO,
            data: [0; MTU],
        }
    }

    /// A datagram holding a copy of `bytes` (cut at [`MTU`]).
    pub fn new(addr: SocketAddr, at: Duration, bytes: &[u8]) -> Self {
        let mut d = Self::empty();
        d.len = bytes.len().min(MTU);
        d.data[..d.len].copy_from_slice(&bytes[..d.len]);
        d.addr = addr;
        d.at = at;
        d
    }

    /// The bytes in use.
    pub fn bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }
}

/// How the datagrams of a leg are recognised, where its mix goes, and where its audio is recorded.
#[derive(Debug)]
pub struct Route {
    /// Where the leg's datagrams are sent; without `by_ssrc`, datagrams from here belong to the leg.
    pub remote: SocketAddr,
    /// Recognise the leg's datagrams by this SSRC instead of their source address.
    pub by_ssrc: Option<u32>,
    /// What the leg hears, at the mix rate, for a recording (consenting legs only).
    pub record: Option<Producer<f32>>,
}

struct ActiveRoute {
    id: LegId,
    route: Route,
    expiring: bool,
}

enum Command {
    Insert {
        leg: PreparedLeg,
        route: Route,
        first: Option<Datagram>,
    },
    Remove(LegId),
    Stats,
}

/// What the real-time side tells the control side.
#[derive(Debug)]
pub enum Event {
    /// An RTP datagram from a source no leg owns (a leg may join with it).
    Join(Datagram),
    /// A leg fell silent for the timeout or said BYE: remove it with [`ConferenceControl::remove_leg`].
    Expired(LegId),
    /// A removed leg, to be finished ([`RetiredLeg::finish`] gives its statistics and the BYE to send)
    /// and dropped here, with its route (and its recording's ring).
    Retired(RetiredLeg, Route),
    /// A leg that could not be inserted (its slot is taken: a bug) — its route comes back with it.
    Rejected(PreparedLeg, Route),
    /// Statistics of one leg, in answer to [`ConferenceControl::request_stats`].
    LegStats(LegStats),
    /// The end of a statistics answer: the conference's figures and the runtime's counters.
    Stats(ConferenceStats, RuntimeCounters),
}

/// Counters of the real-time side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuntimeCounters {
    /// Datagrams received and handed to a leg.
    pub rx_routed: u64,
    /// Datagrams received that no leg owns (and that did not start a join).
    pub rx_unrouted: u64,
    /// Datagrams to send dropped because the send ring was full.
    pub tx_dropped: u64,
    /// Events dropped because the event ring was full (join requests and statistics only).
    pub events_dropped: u64,
    /// Audio samples dropped because a recording's ring was full.
    pub record_dropped: u64,
}

/// Ring sizes and options of [`split`].
#[derive(Debug)]
pub struct RuntimeOptions {
    /// Accept join requests from unknown RTP sources (they are passed to the control side).
    pub allow_join: bool,
    /// Most join requests passed on per tick (a flood of unknown sources costs little).
    pub joins_per_tick: usize,
    /// Datagrams the receive and send rings hold.
    pub datagram_capacity: usize,
    /// The full mix, for a recording.
    pub mix_record: Option<Producer<f32>>,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            allow_join: true,
            joins_per_tick: 4,
            datagram_capacity: 2048,
            mix_record: None,
        }
    }
}

/// The ring ends of a network driver: push what arrived into `rx`, send what `tx` gives.
#[derive(Debug)]
pub struct NetEnds {
    /// Received datagrams (with their arrival time from [`ConferenceControl::now`] or the same clock).
    pub rx: Producer<Datagram>,
    /// Datagrams to send to their `addr`.
    pub tx: Consumer<Datagram>,
    /// The runtime's clock (conference time zero).
    pub clock: Instant,
}

/// The real-time half: the mix tick as a scheduler task (see the module docs).
pub struct ConferenceTask {
    conf: Conference,
    clock: Instant,
    routes: Vec<ActiveRoute>,
    rx: Consumer<Datagram>,
    tx: Producer<Datagram>,
    cmds: Consumer<Command>,
    events: Producer<Event>,
    /// Retired legs and rejected inserts waiting for room in the event ring.
    held: Vec<Event>,
    mix_record: Option<Producer<f32>>,
    allow_join: bool,
    joins_per_tick: usize,
    out: Datagram,
    counters: RuntimeCounters,
}

impl std::fmt::Debug for ConferenceTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConferenceTask")
            .field("conf", &self.conf)
            .field("routes", &self.routes.len())
            .finish_non_exhaustive()
    }
}

/// The control half: prepares legs, asks for removals and statistics, receives [`Event`]s.
pub struct ConferenceControl {
    factory: LegFactory,
    cmds: Producer<Command>,
    events: Consumer<Event>,
    clock: Instant,
    mix_rate: u32,
    ptime: Duration,
}

impl std::fmt::Debug for ConferenceControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConferenceControl")
            .field("legs", &self.factory.len())
            .finish_non_exhaustive()
    }
}

/// Splits a conference for real-time use (see the module docs). Legs already in `conf` stay in it but
/// have no route; add legs through the returned [`ConferenceControl`].
///
/// # Errors
/// [`ConferenceError::Config`] when the conference's factory was already taken.
pub fn split(
    mut conf: Conference,
    opts: RuntimeOptions,
) -> Result<(ConferenceControl, ConferenceTask, NetEnds), ConferenceError> {
    let factory = conf.take_factory().ok_or(ConferenceError::Config {
        field: "control",
        detail: "the conference was split already".into(),
    })?;
    let max_legs = conf.config().max_legs;
    let clock = Instant::now();
    let (rx_p, rx_c) = RingBuffer::new(opts.datagram_capacity.max(16));
    let (tx_p, tx_c) = RingBuffer::new(opts.datagram_capacity.max(16));
    let (cmd_p, cmd_c) = RingBuffer::new(max_legs + 64);
    let (ev_p, ev_c) = RingBuffer::new(2 * max_legs + 64);
    let control = ConferenceControl {
        factory,
        cmds: cmd_p,
        events: ev_c,
        clock,
        mix_rate: conf.mix_rate(),
        ptime: conf.ptime(),
    };
    let task = ConferenceTask {
        conf,
        clock,
        routes: Vec::with_capacity(max_legs),
        rx: rx_c,
        tx: tx_p,
        cmds: cmd_c,
        events: ev_p,
        held: Vec::with_capacity(max_legs + 64),
        mix_record: opts.mix_record,
        allow_join: opts.allow_join,
        joins_per_tick: opts.joins_per_tick,
        out: Datagram::empty(),
        counters: RuntimeCounters::default(),
    };
    let net = NetEnds {
        rx: rx_p,
        tx: tx_c,
        clock,
    };
    Ok((control, task, net))
}

impl ConferenceControl {
    /// Conference time now (the runtime's clock).
    pub fn now(&self) -> Duration {
        self.clock.elapsed()
    }

    /// The mix rate (recordings are at this rate).
    pub fn mix_rate(&self) -> u32 {
        self.mix_rate
    }

    /// The tick period.
    pub fn ptime(&self) -> Duration {
        self.ptime
    }

    /// Prepares a leg here and hands it to the real-time side, which inserts it at its next tick and then
    /// hands it `first` (the datagram it joined with), if any.
    ///
    /// # Errors
    /// What [`LegFactory::prepare`] reports, or [`ConferenceError::Full`] when the command ring is full.
    pub fn add_leg(
        &mut self,
        cfg: LegConfig,
        route: Route,
        first: Option<Datagram>,
    ) -> Result<LegId, ConferenceError> {
        let now = first.as_ref().map_or_else(|| self.now(), |d| d.at);
        self.add_leg_at(cfg, route, first, now)
    }

    /// [`ConferenceControl::add_leg`] at conference time `now` (simulations driving
    /// [`ConferenceTask::tick_at`] with their own time).
    ///
    /// # Errors
    /// As [`ConferenceControl::add_leg`].
    pub fn add_leg_at(
        &mut self,
        cfg: LegConfig,
        route: Route,
        first: Option<Datagram>,
        now: Duration,
    ) -> Result<LegId, ConferenceError> {
        let leg = self.factory.prepare(cfg, now)?;
        let id = leg.id();
        if let Err(rtrb::PushError::Full(Command::Insert { .. })) =
            self.cmds.push(Command::Insert { leg, route, first })
        {
            let _ = self.factory.release(id);
            return Err(ConferenceError::Full {
                max_legs: self.factory.len(),
            });
        }
        Ok(id)
    }

    /// Asks the real-time side to remove a leg; it comes back as [`Event::Retired`].
    ///
    /// # Errors
    /// [`ConferenceError::Full`] when the command ring is full (try again after polling events).
    pub fn remove_leg(&mut self, id: LegId) -> Result<(), ConferenceError> {
        self.cmds
            .push(Command::Remove(id))
            .map_err(|_| ConferenceError::Full {
                max_legs: self.factory.len(),
            })
    }

    /// Asks for statistics: [`Event::LegStats`] for every leg, then [`Event::Stats`], after the next tick.
    /// Returns false when the command ring is full.
    pub fn request_stats(&mut self) -> bool {
        self.cmds.push(Command::Stats).is_ok()
    }

    /// The next event from the real-time side. A retired or rejected leg's slot is released in the
    /// factory before the event is handed out.
    pub fn poll_event(&mut self) -> Option<Event> {
        let e = self.events.pop().ok()?;
        match &e {
            Event::Retired(leg, _) => {
                let _ = self.factory.release(leg.id());
            }
            Event::Rejected(leg, _) => {
                let _ = self.factory.release(leg.id());
            }
            _ => {}
        }
        Some(e)
    }

    /// Legs prepared and not yet retired.
    pub fn legs(&self) -> usize {
        self.factory.len()
    }
}

fn ssrc_of(d: &[u8]) -> Option<u32> {
    match tutti_rtp::classify(d) {
        tutti_rtp::PacketKind::Rtp => d.get(8..12).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        tutti_rtp::PacketKind::Rtcp => d.get(4..8).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        _ => None,
    }
}

impl ConferenceTask {
    /// The conference (for inspection between ticks, e.g. in tests).
    pub fn conference(&self) -> &Conference {
        &self.conf
    }

    /// The counters of the real-time side.
    pub fn counters(&self) -> RuntimeCounters {
        self.counters
    }

    fn emit(&mut self, e: Event) {
        if let Err(rtrb::PushError::Full(e)) = self.events.push(e) {
            match e {
                // These own a leg: dropping them here would free memory on the real-time thread.
                Event::Retired(..) | Event::Rejected(..) if self.held.len() < self.held.capacity() => {
                    self.held.push(e);
                }
                Event::Retired(..) | Event::Rejected(..) => {
                    self.counters.events_dropped += 1;
                    std::mem::forget(e);
                }
                _ => self.counters.events_dropped += 1,
            }
        }
    }

    fn route_of(&self, d: &Datagram) -> Option<usize> {
        let ssrc = ssrc_of(d.bytes());
        self.routes
            .iter()
            .position(|r| r.route.by_ssrc.is_some() && r.route.by_ssrc == ssrc)
            .or_else(|| {
                self.routes
                    .iter()
                    .position(|r| r.route.by_ssrc.is_none() && r.route.remote == d.addr)
            })
    }

    fn run_commands(&mut self) {
        while let Ok(cmd) = self.cmds.pop() {
            match cmd {
                Command::Insert { leg, route, first } => {
                    if self.routes.len() == self.routes.capacity() {
                        self.emit(Event::Rejected(leg, route));
                        continue;
                    }
                    match self.conf.insert_leg(leg) {
                        Ok(id) => {
                            self.routes.push(ActiveRoute {
                                id,
                                route,
                                expiring: false,
                            });
                            if let Some(d) = first {
                                let _ = self.conf.receive(id, d.at, d.bytes());
                            }
                        }
                        Err(leg) => self.emit(Event::Rejected(leg, route)),
                    }
                }
                Command::Remove(id) => {
                    if let Some(i) = self.routes.iter().position(|r| r.id == id) {
                        let r = self.routes.swap_remove(i);
                        if let Some(leg) = self.conf.take_leg(id) {
                            self.emit(Event::Retired(leg, r.route));
                        }
                    }
                }
                Command::Stats => {
                    for i in 0..self.routes.len() {
                        if let Ok(s) = self.conf.leg_stats(self.routes[i].id) {
                            self.emit(Event::LegStats(s));
                        }
                    }
                    self.emit(Event::Stats(self.conf.stats(), self.counters));
                }
            }
        }
    }

    fn receive(&mut self) {
        let mut joins = 0;
        while let Ok(d) = self.rx.pop() {
            match self.route_of(&d) {
                Some(i) => {
                    self.counters.rx_routed += 1;
                    let _ = self.conf.receive(self.routes[i].id, d.at, d.bytes());
                }
                None if self.allow_join
                    && joins < self.joins_per_tick
                    && tutti_rtp::classify(d.bytes()) == tutti_rtp::PacketKind::Rtp =>
                {
                    joins += 1;
                    self.emit(Event::Join(d));
                }
                None => self.counters.rx_unrouted += 1,
            }
        }
    }

    fn transmit_and_record(&mut self) {
        for i in 0..self.routes.len() {
            let id = self.routes[i].id;
            while let Some(n) = self.conf.poll_transmit(id, &mut self.out.data) {
                self.out.len = n;
                self.out.addr = self.routes[i].route.remote;
                if self.tx.push(self.out.clone()).is_err() {
                    self.counters.tx_dropped += 1;
                }
            }
            if let (Some(p), Some(heard)) = (self.routes[i].route.record.as_mut(), self.conf.heard(id)) {
                self.counters.record_dropped += push_samples(p, heard);
            }
        }
        if let Some(p) = self.mix_record.as_mut() {
            let mix = self.conf.full_mix();
            self.counters.record_dropped += push_samples(p, mix);
        }
    }
}

/// Copies `x` into a sample ring; returns how many samples did not fit.
fn push_samples(p: &mut Producer<f32>, x: &[f32]) -> u64 {
    let n = x.len().min(p.slots());
    match p.write_chunk_uninit(n) {
        Ok(chunk) => (x.len() - chunk.fill_from_iter(x.iter().copied())) as u64,
        Err(_) => x.len() as u64,
    }
}

impl ConferenceTask {
    /// One packet time at conference time `now`: commands, received datagrams, the mix tick, datagrams to
    /// send, recordings, expired legs. Real-time safe. [`Task::tick`] calls it with the runtime's clock;
    /// tests and simulations call it with their own time.
    pub fn tick_at(&mut self, now: Duration) {
        while let Some(e) = self.held.pop() {
            if let Err(rtrb::PushError::Full(e)) = self.events.push(e) {
                self.held.push(e);
                break;
            }
        }
        self.run_commands();
        self.receive();
        self.conf.tick(now);
        self.transmit_and_record();
        for i in 0..self.routes.len() {
            let id = self.routes[i].id;
            if !self.routes[i].expiring && self.conf.is_expired(id, now) {
                self.routes[i].expiring = true;
                self.emit(Event::Expired(id));
            }
        }
    }
}

impl Task for ConferenceTask {
    /// [`ConferenceTask::tick_at`] the runtime clock's time.
    fn tick(&mut self) {
        let now = self.clock.elapsed();
        self.tick_at(now);
    }
}
