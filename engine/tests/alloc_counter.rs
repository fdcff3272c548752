//! The allocation counter catches allocations (so zero-allocation tests elsewhere can fail).
use tutti_engine::{count_allocations, counting_is_active, CountingAllocator};

#[global_allocator]
static A: CountingAllocator = CountingAllocator;

#[test]
fn counter_sees_allocations_and_frees() {
    assert!(counting_is_active());
    let (_, c) = count_allocations(|| {
        let v: Vec<u32> = Vec::with_capacity(16);
        drop(std::hint::black_box(v));
    });
    assert_eq!(c.allocs, 1);
    assert_eq!(c.frees, 1);
    let (_, c) = count_allocations(|| std::hint::black_box(3 + 4));
    assert!(c.is_zero());
}
