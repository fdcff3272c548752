//! Shared helpers for the criterion benches in `benches/benches/`.

/// This thread's CPU time in ns (`CLOCK_THREAD_CPUTIME_ID`; `None` where the platform has none). The
/// benches print it beside criterion's wall-clock figures because on a loaded machine wall time also
/// counts the time other processes ran.
pub fn thread_cpu_ns() -> Option<u64> {
    tutti_engine::thread_cpu_time().map(|d| d.as_nanos() as u64)
}

/// Whether criterion's name filter (the first free command-line argument; `a|b` alternatives, matched
/// as substrings) selects `label`.
pub fn selected(label: &str) -> bool {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    filter.is_none_or(|f| f.split('|').any(|alt| label.contains(alt)))
}
