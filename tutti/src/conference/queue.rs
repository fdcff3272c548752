//! A fixed-capacity queue of outgoing datagrams (one per leg).
//!
//! # What
//! [`PacketQueue`] holds the datagrams a leg has produced until the I/O driver takes them. When the driver
//! falls behind, the oldest datagram is overwritten (and the caller counts it): a media path prefers fresh
//! audio to a growing backlog.
//!
//! # Real-time safety
//! One flat buffer of `capacity × mtu` bytes is allocated in [`PacketQueue::new`]; nothing else allocates.

/// Fixed ring of datagrams (see the module docs).
#[derive(Debug, Clone)]
pub struct PacketQueue {
    data: Vec<u8>,
    lens: Vec<usize>,
    mtu: usize,
    head: usize,
    len: usize,
    pending: usize,
}

impl PacketQueue {
    /// A queue of `capacity` datagrams of at most `mtu` bytes.
    pub fn new(capacity: usize, mtu: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            data: vec![0; capacity * mtu],
            lens: vec![0; capacity],
            mtu,
            head: 0,
            len: 0,
            pending: 0,
        }
    }

    /// Datagrams waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no datagram waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buffer of the next datagram to write, and whether making room overwrote the oldest datagram.
    /// The datagram is queued by [`PacketQueue::commit`].
    pub fn next_slot(&mut self) -> (&mut [u8], bool) {
        let cap = self.lens.len();
        let mut overwrote = false;
        if self.len == cap {
            self.head = (self.head + 1) % cap;
            self.len -= 1;
            overwrote = true;
        }
        let idx = (self.head + self.len) % cap;
        self.pending = idx;
        (&mut self.data[idx * self.mtu..(idx + 1) * self.mtu], overwrote)
    }

    /// Queues the datagram written into the last [`PacketQueue::next_slot`] with length `len`.
    pub fn commit(&mut self, len: usize) {
        self.lens[self.pending] = len.min(self.mtu);
        self.len += 1;
    }

    /// Copies the oldest datagram into `out` (truncated to `out.len()`), returns its full length.
    pub fn pop(&mut self, out: &mut [u8]) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let idx = self.head;
        let n = self.lens[idx];
        let m = n.min(out.len());
        out[..m].copy_from_slice(&self.data[idx * self.mtu..idx * self.mtu + m]);
        self.head = (self.head + 1) % self.lens.len();
        self.len -= 1;
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_with_overwrite_of_the_oldest() {
        let mut q = PacketQueue::new(2, 8);
        for v in 1..=3u8 {
            let (s, over) = q.next_slot();
            s[0] = v;
            assert_eq!(over, v == 3);
            q.commit(1);
        }
        let mut b = [0u8; 8];
        assert_eq!(q.pop(&mut b), Some(1));
        assert_eq!(b[0], 2);
        assert_eq!(q.pop(&mut b), Some(1));
        assert_eq!(b[0], 3);
        assert_eq!(q.pop(&mut b), None);
        // A slot taken but not committed is not queued.
        let _ = q.next_slot();
        assert!(q.is_empty());
    }
}
