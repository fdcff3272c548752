//! A counting global allocator that proves code paths do not allocate.
//!
//! # What
//! [`CountingAllocator`] wraps the system allocator and, on threads where counting is switched on, counts
//! every allocation, reallocation and free. [`count_allocations`] runs a closure with counting on and
//! returns what it saw. Tests install it with
//! `#[global_allocator] static A: tutti_engine::CountingAllocator = tutti_engine::CountingAllocator;`
//! and assert that the real-time path (`Processor::process`, a scheduler tick, a codec's encode…) makes
//! zero calls.
//!
//! # How
//! Counting state is thread-local (const-initialised `Cell`s, which never allocate), so tests running in
//! parallel on other threads do not disturb each other.
//!
//! # Real-time safety
//! The counter adds two thread-local reads per allocation and nothing else.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static FREES: Cell<u64> = const { Cell::new(0) };
}

/// Allocation calls seen by [`count_allocations`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AllocCounts {
    /// `alloc`, `alloc_zeroed` and `realloc` calls.
    pub allocs: u64,
    /// `dealloc` calls.
    pub frees: u64,
}

impl AllocCounts {
    /// True when nothing was allocated or freed.
    pub fn is_zero(&self) -> bool {
        self.allocs == 0 && self.frees == 0
    }
}

/// The system allocator with per-thread counting (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

fn note(cell: &'static std::thread::LocalKey<Cell<u64>>) {
    // `try_with` because the allocator can run while thread-locals are being torn down.
    let on = ENABLED.try_with(Cell::get).unwrap_or(false);
    if on {
        let _ = cell.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the `GlobalAlloc`
// contract is upheld by the system allocator; the counting touches only const-initialised thread-locals.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(&ALLOCS);
        // SAFETY: forwarded with the caller's layout, which the caller guarantees is valid.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(&ALLOCS);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(&FREES);
        // SAFETY: `ptr` was allocated by `System` with `layout` (all our allocations forward to it).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(&ALLOCS);
        // SAFETY: as for `dealloc`; `new_size` is passed through unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` with counting switched on for the current thread and returns its result and the counts.
///
/// Only meaningful when [`CountingAllocator`] is the global allocator of the test binary; otherwise the
/// counts stay zero — so tests also check [`counting_is_active`].
pub fn count_allocations<R>(f: impl FnOnce() -> R) -> (R, AllocCounts) {
    let a0 = ALLOCS.with(Cell::get);
    let f0 = FREES.with(Cell::get);
    ENABLED.with(|e| e.set(true));
    let r = f();
    ENABLED.with(|e| e.set(false));
    let counts = AllocCounts {
        allocs: ALLOCS.with(Cell::get) - a0,
        frees: FREES.with(Cell::get) - f0,
    };
    (r, counts)
}

/// True when the counting allocator is installed (checked by allocating once under counting).
pub fn counting_is_active() -> bool {
    let (_, c) = count_allocations(|| std::hint::black_box(Box::new(1u8)));
    c.allocs > 0
}
