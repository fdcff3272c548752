//! Scheduler: ticks on period, batching, deadline misses, adding/removing while running, zero allocation on
//! the workers, tasks dropped on the control side; plus the 500-graph soak test:
//! `cargo test --release -p tutti-engine --test scheduler -- --ignored`.
mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use tutti_engine::{
    CountingAllocator, FnTask, GraphBuilder, Scheduler, SchedulerConfig, StreamConfig, Task, TaskOptions,
};

#[global_allocator]
static A: CountingAllocator = CountingAllocator;

const MS10: Duration = Duration::from_millis(10);
const MS20: Duration = Duration::from_millis(20);

fn counter_task(c: &Arc<AtomicU64>) -> Box<dyn Task> {
    let c = c.clone();
    Box::new(FnTask(move || {
        c.fetch_add(1, Ordering::Relaxed);
    }))
}

/// Busy-waits until it has used `d` of CPU time per tick (a deliberately slow task). CPU time, so that
/// the freewheel clock (which counts CPU time) sees exactly this much work however loaded the machine is.
fn slow_task(d: Duration) -> Box<dyn Task> {
    Box::new(FnTask(move || {
        let cpu = || tutti_engine::thread_cpu_time().expect("thread CPU time is available on Linux");
        let t = cpu();
        while cpu() - t < d {
            std::hint::spin_loop();
        }
    }))
}

fn freewheel(workers: usize) -> Scheduler {
    Scheduler::new(SchedulerConfig {
        workers,
        freewheel: true,
        track_allocations: true,
        ..Default::default()
    })
    .expect("a freewheel scheduler starts no threads")
}

#[test]
fn freewheel_ticks_each_task_on_its_period_and_batches_wakeups() {
    assert!(tutti_engine::counting_is_active());
    let mut s = freewheel(2);
    let c: Vec<Arc<AtomicU64>> = (0..6).map(|_| Arc::default()).collect();
    let mut ids = Vec::new();
    for (k, c) in c.iter().enumerate() {
        let period = if k % 3 == 2 { MS20 } else { MS10 };
        ids.push(s.add(counter_task(c), TaskOptions::every(period)).unwrap());
    }
    s.run_freewheel(Duration::from_secs(1)).unwrap();
    let ticks: Vec<u64> = c.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    assert_eq!(ticks, vec![100, 100, 50, 100, 100, 50]);
    let st = s.stats();
    assert_eq!(st.workers.len(), 2);
    assert_eq!(st.ticks, 500);
    assert_eq!(st.deadline_misses, 0);
    // Three tasks per worker, all on the 10 ms grid: one wake-up per 10 ms, not one per task.
    for w in &st.workers {
        assert_eq!(w.wakes, 100);
        assert_eq!(w.tasks, 3);
        assert_eq!(w.busy.count, 100);
        assert!(w.busy.p50_ns <= w.busy.p99_ns && w.busy.p99_ns <= w.busy.p999_ns);
        assert!(w.busy.p999_ns <= w.busy.max_ns);
        assert_eq!((w.rt_allocations, w.rt_frees), (0, 0), "worker allocated");
    }
    let ts = s.task_stats(ids[0]).unwrap();
    assert_eq!(ts.ticks, 100);
    assert!(ts.load >= 0.0 && ts.load < 0.5);
    // Removing while running: the task stops, comes back, and is dropped here.
    s.remove(ids[0]).unwrap();
    assert!(s.task_stats(ids[0]).is_none());
    assert!(s.remove(ids[0]).is_err());
    s.run_freewheel(Duration::from_secs(1)).unwrap();
    assert_eq!(c[0].load(Ordering::Relaxed), 100);
    assert_eq!(c[1].load(Ordering::Relaxed), 200);
    assert_eq!(s.len(), 5);
    let st = s.stats();
    assert!(st
        .workers
        .iter()
        .all(|w| w.rt_allocations == 0 && w.rt_frees == 0));
}

#[test]
fn freewheel_counts_misses_of_a_slow_task() {
    let mut s = freewheel(1);
    let fast = Arc::default();
    let f = s.add(counter_task(&fast), TaskOptions::every(MS10)).unwrap();
    let slow = s
        .add(slow_task(Duration::from_millis(15)), TaskOptions::every(MS10))
        .unwrap();
    s.run_freewheel(Duration::from_millis(100)).unwrap();
    let st = s.task_stats(slow).unwrap();
    assert!(st.deadline_misses >= 3, "slow task: {st:?}");
    assert!(
        st.load > 1.0,
        "15 ms per 10 ms tick is more than one core: {st:?}"
    );
    assert!(st.max_ns >= 15_000_000);
    assert!(s.stats().deadline_misses >= st.deadline_misses);
    let _ = f;
}

#[test]
fn deadline_shorter_than_the_period() {
    // A 3 ms tick against a 1 ms deadline misses every time, against the default (10 ms) never (the
    // freewheel clock counts CPU time, so machine load does not matter).
    let mut s = freewheel(1);
    let strict = s
        .add(
            slow_task(Duration::from_millis(3)),
            TaskOptions {
                period: MS10,
                deadline: Some(Duration::from_millis(1)),
            },
        )
        .unwrap();
    s.run_freewheel(Duration::from_millis(100)).unwrap();
    assert_eq!(s.task_stats(strict).unwrap().deadline_misses, 10);
    let mut s = freewheel(1);
    let lax = s
        .add(slow_task(Duration::from_millis(3)), TaskOptions::every(MS10))
        .unwrap();
    s.run_freewheel(Duration::from_millis(100)).unwrap();
    assert_eq!(s.task_stats(lax).unwrap().deadline_misses, 0);
}

#[test]
fn allocating_task_is_caught_on_the_worker() {
    let mut s = freewheel(1);
    s.add(
        Box::new(FnTask(|| drop(std::hint::black_box(vec![1u8; 64])))),
        TaskOptions::every(MS10),
    )
    .unwrap();
    s.run_freewheel(Duration::from_millis(50)).unwrap();
    let w = &s.stats().workers[0];
    assert_eq!((w.rt_allocations, w.rt_frees), (5, 5));
}

static DROPPED_ON: Mutex<Vec<std::thread::ThreadId>> = Mutex::new(Vec::new());

struct DropProbe(Arc<AtomicU64>);

impl Task for DropProbe {
    fn tick(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for DropProbe {
    fn drop(&mut self) {
        DROPPED_ON.lock().unwrap().push(std::thread::current().id());
    }
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn real_threads_tick_count_misses_and_return_removed_tasks() {
    let mut s = Scheduler::new(SchedulerConfig {
        workers: 2,
        realtime_priority: false,
        track_allocations: true,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(s.workers(), 2);
    let counters: Vec<Arc<AtomicU64>> = (0..4).map(|_| Arc::default()).collect();
    let ids: Vec<_> = counters
        .iter()
        .map(|c| s.add(counter_task(c), TaskOptions::every(MS10)).unwrap())
        .collect();
    let probe_count = Arc::new(AtomicU64::new(0));
    let probe = s
        .add(Box::new(DropProbe(probe_count.clone())), TaskOptions::every(MS20))
        .unwrap();
    let slow = s
        .add(slow_task(Duration::from_millis(25)), TaskOptions::every(MS10))
        .unwrap();
    wait_for("ticks", || {
        counters.iter().all(|c| c.load(Ordering::Relaxed) >= 5)
    });
    wait_for("misses of the slow task", || {
        s.task_stats(slow).unwrap().deadline_misses >= 2
    });
    wait_for("probe ticks", || probe_count.load(Ordering::Relaxed) >= 2);
    s.remove(slow).unwrap();
    s.remove(probe).unwrap();
    wait_for("the probe to come back", || {
        s.collect_garbage();
        !DROPPED_ON.lock().unwrap().is_empty()
    });
    assert_eq!(
        DROPPED_ON.lock().unwrap()[0],
        std::thread::current().id(),
        "dropped on the control thread"
    );
    // The remaining tasks keep ticking.
    let before = counters[0].load(Ordering::Relaxed);
    wait_for("more ticks", || counters[0].load(Ordering::Relaxed) >= before + 3);
    let st = s.stats();
    assert!(st.ticks >= 20);
    assert!(st.workers.iter().all(|w| w.busy.count > 0 && w.busy.max_ns > 0));
    assert!(
        st.workers
            .iter()
            .all(|w| w.rt_allocations == 0 && w.rt_frees == 0),
        "{st:?}"
    );
    assert_eq!(s.len(), 4);
    let _ = ids;
}

fn trivial_graph() -> tutti_engine::GraphRunner {
    let cfg = StreamConfig::new(16_000, 1, 10.0).expect("16 kHz mono 10 ms is supported");
    let mut b = GraphBuilder::new(cfg);
    let src = b.add_node("sine", Box::new(Sine::new(440.0)));
    let g = b.add_node("gain", Box::new(Gain::new(0.5)));
    let o = b.add_output("out", 1);
    b.connect(src, 0, g, 0).unwrap();
    b.connect(g, 0, o, 0).unwrap();
    b.build().unwrap().into_realtime().1
}

#[test]
fn graphs_run_as_tasks() {
    let mut s = freewheel(1);
    let id = s
        .add(Box::new(trivial_graph()), TaskOptions::every(MS10))
        .unwrap();
    s.run_freewheel(Duration::from_millis(200)).unwrap();
    assert_eq!(s.task_stats(id).unwrap().ticks, 20);
    assert_eq!(s.stats().workers[0].rt_allocations, 0);
}

/// 500 trivial graphs at a 10 ms tick for 5 s on real worker threads: no deadline miss.
/// Run with `cargo test --release -p tutti-engine --test scheduler -- --ignored --nocapture`.
#[test]
#[ignore = "soak test: 5 s of real time; run with --ignored in release mode"]
fn soak_500_graphs_10ms_5s_no_misses() {
    let mut s = Scheduler::new(SchedulerConfig {
        track_allocations: true,
        ..Default::default()
    })
    .unwrap();
    let ids: Vec<_> = (0..500)
        .map(|_| {
            s.add(Box::new(trivial_graph()), TaskOptions::every(MS10))
                .unwrap()
        })
        .collect();
    for _ in 0..5 {
        std::thread::sleep(Duration::from_secs(1));
        let st = s.stats();
        println!(
            "misses so far {} lateness max {} us",
            st.deadline_misses,
            st.workers[0].lateness.max_ns / 1000
        );
    }
    let st = s.stats();
    for (i, w) in st.workers.iter().enumerate() {
        println!(
            "worker {i}: fifo={} tasks={} wakes={} ticks={} misses={} busy p50/p99/p99.9/max = {}/{}/{}/{} us, \
             lateness p99.9 {} us",
            w.realtime_priority,
            w.tasks,
            w.wakes,
            w.ticks,
            w.deadline_misses,
            w.busy.p50_ns / 1000,
            w.busy.p99_ns / 1000,
            w.busy.p999_ns / 1000,
            w.busy.max_ns / 1000,
            w.lateness.p999_ns / 1000
        );
    }
    let loads: Vec<f64> = ids.iter().map(|&id| s.task_stats(id).unwrap().load).collect();
    println!(
        "mean load per graph: {:.5}",
        loads.iter().sum::<f64>() / loads.len() as f64
    );
    assert!(st.ticks >= 500 * 450, "only {} ticks in 5 s", st.ticks);
    assert_eq!(st.deadline_misses, 0);
    assert!(st
        .workers
        .iter()
        .all(|w| w.rt_allocations == 0 && w.rt_frees == 0));
}
