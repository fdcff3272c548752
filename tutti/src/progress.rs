//! A minimal progress bar on stderr for long offline jobs (only when stderr is a terminal and enabled).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);
static LAST: AtomicU64 = AtomicU64::new(u64::MAX);

/// Switches the bar on when `want` and stderr is a terminal.
pub fn enable(want: bool) {
    ENABLED.store(want && std::io::stderr().is_terminal(), Ordering::Relaxed);
}

/// Reports progress `pos` of `total`.
pub fn tick(pos: usize, total: usize) {
    if !ENABLED.load(Ordering::Relaxed) || total == 0 {
        return;
    }
    let pct = (pos as u64 * 100 / total as u64).min(100);
    if LAST.swap(pct, Ordering::Relaxed) != pct {
        let filled = (pct / 4) as usize;
        let _ = write!(
            std::io::stderr(),
            "\r[{}{}] {pct:3}%",
            "#".repeat(filled),
            " ".repeat(25 - filled)
        );
    }
}

/// Ends the bar's line.
pub fn done() {
    if ENABLED.load(Ordering::Relaxed) && LAST.swap(u64::MAX, Ordering::Relaxed) != u64::MAX {
        let _ = writeln!(std::io::stderr());
    }
}
