//! The `tutti` command-line tool.

/// Counts allocations on threads that ask for it (the scheduler's workers), so `tutti conference` and
/// `tutti bench conference` can report that the real-time tick allocated nothing. Elsewhere it is the
/// system allocator plus one thread-local read.
#[global_allocator]
static ALLOC: tutti_engine::CountingAllocator = tutti_engine::CountingAllocator;
fn main() {
    std::process::exit(tutti::cli::main());
}
