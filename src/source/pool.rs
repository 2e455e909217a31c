//! Recycled file buffers: large log files are read into buffers the parsers have finished with.
//!
//! A fresh buffer for every 30 MB log file costs page faults on first touch and an unmap when it is
//! freed (the allocator hands blocks that large straight to and from the kernel); on a 1 GB input
//! that is a quarter of a million faults. Reusing the few buffers in flight avoids all of them.

use std::sync::Mutex;

/// Buffers smaller than this are left to the allocator (song files are a few hundred bytes).
pub const MIN_POOLED: usize = 1 << 20;
/// Most buffers kept for reuse: a parse group gives back about as many as the reader then needs.
const MAX_KEPT: usize = 4;

/// A bounded stack of spare byte buffers.
#[derive(Debug, Default)]
pub struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// A buffer of exactly `len` bytes (their content is unspecified) with `spare` more bytes of
    /// capacity: a recycled one when there is one, else a new zeroed one.
    pub fn take(&self, len: usize, spare: usize) -> Vec<u8> {
        let recycled = if len >= MIN_POOLED {
            let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
            // The largest spare buffer: grown if need be, which keeps the pages it already has.
            let largest = (0..free.len()).max_by_key(|&i| free[i].capacity());
            largest.map(|i| free.swap_remove(i))
        } else {
            None
        };
        match recycled {
            // Keeping the old bytes rather than zeroing them spares a pass over the buffer; the
            // caller overwrites the first `len` bytes before reading them.
            Some(mut buffer) => {
                buffer.resize(len, 0);
                buffer.reserve(spare);
                buffer
            }
            None => {
                let mut buffer = Vec::with_capacity(len + spare);
                buffer.resize(len, 0);
                buffer
            }
        }
    }

    /// Returns a buffer for reuse; small ones, and any beyond the pool's bound, are freed.
    pub fn give(&self, buffer: Vec<u8>) {
        if buffer.capacity() < MIN_POOLED {
            return;
        }
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < MAX_KEPT {
            free.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_buffers_come_back_small_ones_do_not() {
        let pool = BufferPool::default();
        let big = pool.take(2 * MIN_POOLED, 64);
        let ptr = big.as_ptr();
        pool.give(big);
        pool.give(vec![0; 10]);
        let small = pool.take(10, 64);
        assert_ne!(small.as_ptr(), ptr, "small files get their own buffer");
        let again = pool.take(MIN_POOLED, 64);
        assert_eq!(again.as_ptr(), ptr);
        assert_eq!(again.len(), MIN_POOLED);
        let fresh = pool.take(MIN_POOLED, 64);
        assert_ne!(fresh.as_ptr(), ptr);
        assert!(fresh.capacity() >= MIN_POOLED + 64);
        pool.give(again);
        let grown = pool.take(3 * MIN_POOLED, 64);
        assert_eq!(grown.len(), 3 * MIN_POOLED);
        assert!(grown.capacity() >= 3 * MIN_POOLED + 64);
    }
}
