//! The scheduler: many independent graphs on a pool of real-time worker threads.
//!
//! # What
//! A [`Scheduler`] runs [`Task`]s (a [`crate::GraphRunner`], or anything with a `tick`) on a few worker
//! threads, one per core by default. Each task ticks on its own period (e.g. 10 or 20 ms) with a deadline
//! (by default the end of its period). Tasks can be added and removed while everything runs; removed tasks
//! come back to the control side and are dropped there. Statistics (busy time per wake-up as a
//! p50/p99/p99.9/max histogram, lateness of wake-ups, deadline misses, load per task) are readable at any
//! time without locks. In freewheel mode ([`SchedulerConfig::freewheel`]) no threads are started:
//! [`Scheduler::run_freewheel`] renders ticks as fast as possible on the calling thread through the same
//! worker code, on a virtual clock that skips the sleeps and advances with the CPU time spent ticking.
//!
//! # How
//! Following the "one pinned worker per core running tasks with deadlines, batched per tick" design of
//! PipeWire data loops and GStreamer threadshare (see `shared/research/engine.md` §4): due times lie on a
//! grid of each task's period counted from the scheduler's start, so tasks with periods 10 and 20 ms fall
//! due together and run in one wake-up. A worker sleeps with absolute-time waits until the earliest due
//! time (so its period does not drift), runs every due task, records the wake's busy time, and counts a
//! deadline miss when a task finishes after `due + deadline`; a task that fell more than a period behind
//! skips the lost ticks and each counts as a miss. Workers ask for `SCHED_FIFO`; when refused, one warning
//! line is printed and they run at normal priority.
//!
//! Tasks go to the worker with the fewest tasks, over a wait-free `rtrb` ring per worker; removed tasks
//! return over a second ring.
//!
//! # Real-time safety
//! A wake-up allocates nothing (task lists are preallocated to `max_tasks_per_worker`), takes no lock and
//! makes no system call apart from reading the vDSO clock; the sleep between wake-ups is the only system
//! call. With [`SchedulerConfig::track_allocations`] each wake-up runs under the counting allocator and
//! [`WorkerStats::rt_allocations`] proves it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rtrb::{Consumer, Producer, RingBuffer};

use crate::histogram::{Histogram, HistogramSummary};
use crate::{count_allocations, enable_flush_to_zero, os, EngineError, GraphRunner};

/// Work that runs once per period on a scheduler worker. `tick` must be real-time safe.
pub trait Task: Send {
    /// Runs one period's work.
    fn tick(&mut self);
}

impl Task for GraphRunner {
    /// Processes one block with the runner's own I/O buffers.
    fn tick(&mut self) {
        self.process_internal();
    }
}

/// A closure as a [`Task`].
pub struct FnTask<F>(pub F);

impl<F: FnMut() + Send> Task for FnTask<F> {
    fn tick(&mut self) {
        (self.0)();
    }
}

impl<F> std::fmt::Debug for FnTask<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnTask")
    }
}

/// Scheduler settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerConfig {
    /// Worker threads; 0 means one per available core.
    pub workers: usize,
    /// Ask for `SCHED_FIFO` on the workers (on refusal: one warning line, normal priority).
    pub realtime_priority: bool,
    /// The `SCHED_FIFO` priority (1..=99; default 10, as rtkit grants by default).
    pub priority: i32,
    /// Most tasks one worker holds (its task list is preallocated to this).
    pub max_tasks_per_worker: usize,
    /// Capacity of each worker's command ring (adds and removes in flight).
    pub queue_capacity: usize,
    /// Start no threads; ticks run on [`Scheduler::run_freewheel`]'s caller on a virtual clock.
    pub freewheel: bool,
    /// Count allocations made on the workers ([`WorkerStats::rt_allocations`]); needs the
    /// [`crate::CountingAllocator`] as global allocator to see anything.
    pub track_allocations: bool,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            workers: 0,
            realtime_priority: true,
            priority: 10,
            max_tasks_per_worker: 4096,
            queue_capacity: 1024,
            freewheel: false,
            track_allocations: false,
        }
    }
}

/// How a task is scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskOptions {
    /// Tick period.
    pub period: Duration,
    /// A tick must finish within this time after it falls due (default: the period).
    pub deadline: Option<Duration>,
}

impl TaskOptions {
    /// Ticks every `period`, deadline at the end of the period.
    pub fn every(period: Duration) -> Self {
        Self {
            period,
            deadline: None,
        }
    }
}

/// Identifies a task in a [`Scheduler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(u64);

/// Statistics of one task.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TaskStats {
    /// Ticks run.
    pub ticks: u64,
    /// Ticks that finished after their deadline, plus ticks skipped because the task fell behind.
    pub deadline_misses: u64,
    /// Mean time of one tick, ns.
    pub mean_ns: f64,
    /// Longest tick, ns.
    pub max_ns: u64,
    /// Mean tick time divided by the period (1.0 = a whole core).
    pub load: f64,
}

/// Statistics of one worker thread.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkerStats {
    /// Wake-ups that ran at least one task.
    pub wakes: u64,
    /// Ticks run.
    pub ticks: u64,
    /// Deadline misses of its tasks.
    pub deadline_misses: u64,
    /// Tasks it holds now.
    pub tasks: u64,
    /// Busy time per wake-up (all due tasks).
    pub busy: HistogramSummary,
    /// How late a wake-up started after its earliest due time.
    pub lateness: HistogramSummary,
    /// Whether it runs with `SCHED_FIFO`.
    pub realtime_priority: bool,
    /// Allocations seen on the worker (with [`SchedulerConfig::track_allocations`]).
    pub rt_allocations: u64,
    /// Frees seen on the worker (with [`SchedulerConfig::track_allocations`]).
    pub rt_frees: u64,
}

/// Statistics of the whole scheduler.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchedulerStats {
    /// Per worker.
    pub workers: Vec<WorkerStats>,
    /// Sum of all workers' misses.
    pub deadline_misses: u64,
    /// Sum of all workers' ticks.
    pub ticks: u64,
}

#[derive(Debug, Default)]
struct TaskShared {
    ticks: AtomicU64,
    misses: AtomicU64,
    total_ns: AtomicU64,
    max_ns: AtomicU64,
    period_ns: u64,
}

fn bump(a: &AtomicU64, by: u64) {
    // Single writer: a load and a store, no locked read-modify-write.
    a.store(a.load(Ordering::Relaxed).wrapping_add(by), Ordering::Relaxed);
}

#[derive(Debug)]
struct WorkerShared {
    busy: Histogram,
    lateness: Histogram,
    wakes: AtomicU64,
    ticks: AtomicU64,
    misses: AtomicU64,
    tasks: AtomicU64,
    allocs: AtomicU64,
    frees: AtomicU64,
    realtime: AtomicBool,
}

struct Entry {
    id: u64,
    task: Box<dyn Task>,
    period: u64,
    deadline: u64,
    next_due: u64,
    /// Removed but not yet sent back (the return ring was full).
    removed: bool,
    shared: Arc<TaskShared>,
}

enum Cmd {
    Add(Entry),
    Remove(u64),
}

/// Time as a worker sees it.
trait Clock {
    fn now(&self) -> u64;
    /// The time the current wake-up was due to start (new tasks are put on the grid from here).
    fn woke_at(&self) -> u64;
    fn sleep_until(&mut self, t: u64);
}

struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> u64 {
        os::now_ns()
    }
    fn woke_at(&self) -> u64 {
        os::now_ns()
    }
    fn sleep_until(&mut self, t: u64) {
        os::sleep_until_ns(t);
    }
}

/// Virtual time: advances with the thread's CPU time while working (so preemption by other processes
/// does not count as work), jumps to the target instead of sleeping, and stands still between
/// [`Scheduler::run_freewheel`] calls.
struct VirtualClock {
    virt: u64,
    real: u64,
}

impl Clock for VirtualClock {
    fn now(&self) -> u64 {
        self.virt + (work_clock_ns() - self.real)
    }
    fn woke_at(&self) -> u64 {
        self.virt
    }
    fn sleep_until(&mut self, t: u64) {
        let now = self.now();
        self.virt = t.max(now);
        self.real = work_clock_ns();
    }
}

/// The clock that measures work in freewheel mode: thread CPU time where available, else wall time.
fn work_clock_ns() -> u64 {
    os::thread_cpu_time().map_or_else(os::now_ns, |d| d.as_nanos() as u64)
}

/// The part of a worker that runs on its thread.
struct WorkerCore {
    tasks: Vec<Entry>,
    commands: Consumer<Cmd>,
    garbage: Producer<Entry>,
    shared: Arc<WorkerShared>,
    epoch: u64,
    track: bool,
}

impl WorkerCore {
    /// Applies commands, runs every due task once, and returns the next due time.
    fn wake(&mut self, clock: &dyn Clock) -> Option<u64> {
        if self.track {
            let (next, c) = count_allocations(|| self.wake_inner(clock));
            bump(&self.shared.allocs, c.allocs);
            bump(&self.shared.frees, c.frees);
            next
        } else {
            self.wake_inner(clock)
        }
    }

    fn wake_inner(&mut self, clock: &dyn Clock) -> Option<u64> {
        enable_flush_to_zero();
        self.apply_commands(clock.woke_at());
        let wake = clock.now();
        let mut ran = false;
        let mut earliest_due = u64::MAX;
        for e in self.tasks.iter_mut() {
            if e.removed || e.next_due > wake {
                continue;
            }
            ran = true;
            earliest_due = earliest_due.min(e.next_due);
            let t0 = clock.now();
            e.task.tick();
            let t1 = clock.now();
            let busy = t1 - t0;
            let s = &e.shared;
            bump(&s.ticks, 1);
            bump(&s.total_ns, busy);
            if busy > s.max_ns.load(Ordering::Relaxed) {
                s.max_ns.store(busy, Ordering::Relaxed);
            }
            let mut misses = u64::from(t1 > e.next_due + e.deadline);
            e.next_due += e.period;
            if e.next_due <= t1 {
                let behind = (t1 - e.next_due) / e.period + 1;
                misses += behind;
                e.next_due += behind * e.period;
            }
            if misses > 0 {
                bump(&s.misses, misses);
                bump(&self.shared.misses, misses);
            }
            bump(&self.shared.ticks, 1);
        }
        if ran {
            let end = clock.now();
            self.shared.busy.record(end - wake);
            self.shared.lateness.record(wake - earliest_due);
            bump(&self.shared.wakes, 1);
        }
        self.tasks.iter().filter(|e| !e.removed).map(|e| e.next_due).min()
    }

    fn apply_commands(&mut self, now: u64) {
        // Send back tasks whose return failed earlier.
        let mut i = 0;
        while i < self.tasks.len() {
            if self.tasks[i].removed && self.garbage.slots() > 0 {
                let e = self.tasks.swap_remove(i);
                let _ = self.garbage.push(e);
            } else {
                i += 1;
            }
        }
        while let Ok(cmd) = self.commands.pop() {
            match cmd {
                Cmd::Add(mut e) => {
                    // First grid point of the task's period at or after now.
                    let since = now.saturating_sub(self.epoch);
                    e.next_due = self.epoch + since.div_ceil(e.period) * e.period;
                    if self.tasks.len() < self.tasks.capacity() {
                        self.tasks.push(e);
                    } else {
                        // Cannot happen: the control side never sends more tasks than the capacity. Should
                        // it, running the task matters more than avoiding this one allocation.
                        self.tasks.push(e);
                    }
                }
                Cmd::Remove(id) => {
                    if let Some(i) = self.tasks.iter().position(|e| e.id == id) {
                        if self.garbage.slots() > 0 {
                            let e = self.tasks.swap_remove(i);
                            let _ = self.garbage.push(e);
                        } else {
                            self.tasks[i].removed = true;
                        }
                    }
                }
            }
        }
        self.shared.tasks.store(
            self.tasks.iter().filter(|e| !e.removed).count() as u64,
            Ordering::Relaxed,
        );
    }
}

struct Worker {
    commands: Producer<Cmd>,
    garbage: Consumer<Entry>,
    shared: Arc<WorkerShared>,
    count: usize,
    thread: Option<JoinHandle<WorkerCore>>,
    /// Freewheel mode: the core and its virtual clock live here.
    core: Option<(WorkerCore, VirtualClock)>,
}

/// Runs many tasks on worker threads (one per core by default), each on its own period with a deadline,
/// batching tasks due together into one wake-up; see the crate documentation for the design.
pub struct Scheduler {
    workers: Vec<Worker>,
    tasks: HashMap<u64, (usize, Arc<TaskShared>)>,
    next_id: u64,
    stop: Arc<AtomicBool>,
    cfg: SchedulerConfig,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("workers", &self.workers.len())
            .field("tasks", &self.tasks.len())
            .field("freewheel", &self.cfg.freewheel)
            .finish_non_exhaustive()
    }
}

static PRIORITY_WARNED: AtomicBool = AtomicBool::new(false);

/// Longest a worker sleeps without checking for commands or shutdown.
const POLL_NS: u64 = 5_000_000;

impl Scheduler {
    /// Starts the workers (none in freewheel mode).
    pub fn new(cfg: SchedulerConfig) -> Result<Self, EngineError> {
        let n = if cfg.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            cfg.workers
        };
        let stop = Arc::new(AtomicBool::new(false));
        let epoch = if cfg.freewheel { 0 } else { os::now_ns() };
        let mut workers = Vec::with_capacity(n);
        for w in 0..n {
            let (cmd_tx, cmd_rx) = RingBuffer::new(cfg.queue_capacity.max(1));
            let (gc_tx, gc_rx) = RingBuffer::new(cfg.max_tasks_per_worker.max(1) + cfg.queue_capacity.max(1));
            let shared = Arc::new(WorkerShared {
                busy: Histogram::new(),
                lateness: Histogram::new(),
                wakes: AtomicU64::new(0),
                ticks: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                tasks: AtomicU64::new(0),
                allocs: AtomicU64::new(0),
                frees: AtomicU64::new(0),
                realtime: AtomicBool::new(false),
            });
            let core = WorkerCore {
                tasks: Vec::with_capacity(cfg.max_tasks_per_worker.max(1)),
                commands: cmd_rx,
                garbage: gc_tx,
                shared: shared.clone(),
                epoch,
                track: cfg.track_allocations,
            };
            let mut worker = Worker {
                commands: cmd_tx,
                garbage: gc_rx,
                shared,
                count: 0,
                thread: None,
                core: None,
            };
            if cfg.freewheel {
                worker.core = Some((
                    core,
                    VirtualClock {
                        virt: 0,
                        real: work_clock_ns(),
                    },
                ));
            } else {
                let stop = stop.clone();
                let (rt, prio) = (cfg.realtime_priority, cfg.priority);
                let handle = std::thread::Builder::new()
                    .name(format!("tutti-worker-{w}"))
                    .spawn(move || worker_main(core, stop, rt, prio))
                    .map_err(|e| EngineError::Os {
                        detail: format!("cannot start worker thread: {e}"),
                    })?;
                worker.thread = Some(handle);
            }
            workers.push(worker);
        }
        Ok(Self {
            workers,
            tasks: HashMap::new(),
            next_id: 1,
            stop,
            cfg,
        })
    }

    /// Adds a task on the least-loaded worker; it first ticks at the next multiple of its period.
    ///
    /// Errors: [`EngineError::BadParam`] for a zero period, [`EngineError::Capacity`] when every worker
    /// is full or its command ring is (retry after the workers have caught up).
    pub fn add(&mut self, task: Box<dyn Task>, opts: TaskOptions) -> Result<TaskId, EngineError> {
        self.collect_garbage();
        let period = opts.period.as_nanos() as u64;
        if period == 0 {
            return Err(EngineError::BadParam {
                node: "scheduler".into(),
                param: "period".into(),
                detail: "must be positive".into(),
            });
        }
        let deadline = opts.deadline.map_or(period, |d| d.as_nanos() as u64);
        let cap = self.cfg.max_tasks_per_worker.max(1);
        let w = (0..self.workers.len())
            .filter(|&w| self.workers[w].count < cap && self.workers[w].commands.slots() > 0)
            .min_by_key(|&w| self.workers[w].count)
            .ok_or(EngineError::Capacity {
                what: "scheduler tasks",
                limit: cap * self.workers.len(),
            })?;
        let id = self.next_id;
        self.next_id += 1;
        let shared = Arc::new(TaskShared {
            period_ns: period,
            ..TaskShared::default()
        });
        let entry = Entry {
            id,
            task,
            period,
            deadline,
            next_due: 0,
            removed: false,
            shared: shared.clone(),
        };
        if self.workers[w].commands.push(Cmd::Add(entry)).is_err() {
            return Err(EngineError::Capacity {
                what: "scheduler command queue",
                limit: self.cfg.queue_capacity,
            });
        }
        self.workers[w].count += 1;
        self.tasks.insert(id, (w, shared));
        Ok(TaskId(id))
    }

    /// Removes a task; its worker sends it back and it is dropped on the control side.
    pub fn remove(&mut self, id: TaskId) -> Result<(), EngineError> {
        self.collect_garbage();
        let (w, _) = *self
            .tasks
            .get(&id.0)
            .ok_or(EngineError::UnknownTask { id: id.0 })?;
        if self.workers[w].commands.push(Cmd::Remove(id.0)).is_err() {
            return Err(EngineError::Capacity {
                what: "scheduler command queue",
                limit: self.cfg.queue_capacity,
            });
        }
        self.tasks.remove(&id.0);
        self.workers[w].count -= 1;
        Ok(())
    }

    /// Drops tasks sent back by the workers; returns how many.
    pub fn collect_garbage(&mut self) -> usize {
        let mut n = 0;
        for w in &mut self.workers {
            while let Ok(e) = w.garbage.pop() {
                drop(e);
                n += 1;
            }
        }
        n
    }

    /// Renders ticks as fast as possible until the virtual clock reaches `duration` more (freewheel mode
    /// only): every worker's due tasks run on the calling thread, through the same code as the threads.
    pub fn run_freewheel(&mut self, duration: Duration) -> Result<(), EngineError> {
        if !self.cfg.freewheel {
            return Err(EngineError::BadEdit {
                detail: "run_freewheel needs SchedulerConfig::freewheel".into(),
            });
        }
        let span = duration.as_nanos() as u64;
        for w in &mut self.workers {
            let (core, clock) = w.core.as_mut().expect("freewheel workers keep their core");
            // Virtual time stands still between runs.
            clock.real = work_clock_ns();
            let end = clock.virt + span;
            loop {
                let next = core.wake(&*clock);
                match next {
                    Some(t) if t < end => clock.sleep_until(t),
                    _ => {
                        clock.sleep_until(end);
                        break;
                    }
                }
            }
        }
        self.collect_garbage();
        Ok(())
    }

    /// Statistics of every worker (allocates; control side).
    pub fn stats(&self) -> SchedulerStats {
        let workers: Vec<WorkerStats> = self
            .workers
            .iter()
            .map(|w| {
                let s = &w.shared;
                WorkerStats {
                    wakes: s.wakes.load(Ordering::Relaxed),
                    ticks: s.ticks.load(Ordering::Relaxed),
                    deadline_misses: s.misses.load(Ordering::Relaxed),
                    tasks: s.tasks.load(Ordering::Relaxed),
                    busy: s.busy.summary(),
                    lateness: s.lateness.summary(),
                    realtime_priority: s.realtime.load(Ordering::Relaxed),
                    rt_allocations: s.allocs.load(Ordering::Relaxed),
                    rt_frees: s.frees.load(Ordering::Relaxed),
                }
            })
            .collect();
        SchedulerStats {
            deadline_misses: workers.iter().map(|w| w.deadline_misses).sum(),
            ticks: workers.iter().map(|w| w.ticks).sum(),
            workers,
        }
    }

    /// Statistics of one task.
    pub fn task_stats(&self, id: TaskId) -> Option<TaskStats> {
        let (_, s) = self.tasks.get(&id.0)?;
        let ticks = s.ticks.load(Ordering::Relaxed);
        let mean = if ticks == 0 {
            0.0
        } else {
            s.total_ns.load(Ordering::Relaxed) as f64 / ticks as f64
        };
        Some(TaskStats {
            ticks,
            deadline_misses: s.misses.load(Ordering::Relaxed),
            mean_ns: mean,
            max_ns: s.max_ns.load(Ordering::Relaxed),
            load: mean / s.period_ns as f64,
        })
    }

    /// Number of worker threads (or freewheel cores).
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Number of tasks scheduled.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True when no task is scheduled.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

impl Drop for Scheduler {
    /// Stops the workers and drops their tasks here, on the control side.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for w in &mut self.workers {
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
        }
    }
}

fn worker_main(mut core: WorkerCore, stop: Arc<AtomicBool>, realtime: bool, priority: i32) -> WorkerCore {
    if realtime {
        match os::set_realtime_priority(priority) {
            Ok(()) => core.shared.realtime.store(true, Ordering::Relaxed),
            Err(e) => {
                if !PRIORITY_WARNED.swap(true, Ordering::Relaxed) {
                    eprintln!("tutti: warning: cannot get SCHED_FIFO priority {priority} ({e}); running at normal priority");
                }
            }
        }
    }
    let mut clock = RealClock;
    while !stop.load(Ordering::Relaxed) {
        let next = core.wake(&clock);
        let now = clock.now();
        let target = next.map_or(now + POLL_NS, |t| t.min(now + POLL_NS));
        clock.sleep_until(target);
    }
    core
}
