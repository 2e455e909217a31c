//! A bound in bytes on the input read ahead of the parsers.
//!
//! A channel bounded by a count of files cannot bound memory when files differ in size (a listing
//! knows only compressed sizes). A [`ByteBudget`] hands out shares of a fixed number of bytes; a
//! reader takes a share for each buffer it reads and the share returns when the buffer is dropped
//! (after it was parsed), so the bytes read but not yet parsed stay within the budget.

use std::sync::{Arc, Condvar, Mutex, PoisonError};

use bytes::Bytes;

/// Bytes that may be read ahead, shared between a reader and the buffers it hands out.
#[derive(Debug, Clone)]
pub struct ByteBudget {
    shared: Arc<Shared>,
    /// Largest share one buffer takes: half the budget, so that a buffer larger than that waits
    /// only for the buffers before it to be parsed, never for a consumer that holds the other
    /// half while it collects a group.
    max_share: u64,
}

#[derive(Debug)]
struct Shared {
    free: Mutex<u64>,
    freed: Condvar,
}

/// One buffer's share of a [`ByteBudget`], returned when dropped.
#[derive(Debug)]
struct Share {
    shared: Arc<Shared>,
    bytes: u64,
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut free = self
            .shared
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *free += self.bytes;
        self.shared.freed.notify_all();
    }
}

/// Bytes that keep their share of the budget until they are dropped.
struct Held {
    bytes: Bytes,
    _share: Share,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl ByteBudget {
    /// A budget of `total` bytes. Whoever collects buffers before releasing them must release
    /// them before holding `total / 2` bytes, or the reader waits forever.
    pub fn new(total: u64) -> Self {
        Self {
            shared: Arc::new(Shared {
                free: Mutex::new(total),
                freed: Condvar::new(),
            }),
            max_share: (total / 2).max(1),
        }
    }

    /// Waits until `bytes` (up to half the budget) are free, and returns `bytes` holding them.
    pub fn hold(&self, bytes: Bytes) -> Bytes {
        let share = (bytes.len() as u64).min(self.max_share);
        let mut free = self
            .shared
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while *free < share {
            free = self
                .shared
                .freed
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= share;
        drop(free);
        Bytes::from_owner(Held {
            bytes,
            _share: Share {
                shared: Arc::clone(&self.shared),
                bytes: share,
            },
        })
    }

    /// Bytes free now.
    pub fn free(&self) -> u64 {
        *self
            .shared
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_returns_when_its_bytes_are_dropped() {
        let budget = ByteBudget::new(100);
        let a = budget.hold(Bytes::from(vec![1; 30]));
        let huge = budget.hold(Bytes::from(vec![2; 1000]));
        assert_eq!(
            budget.free(),
            20,
            "a buffer over half the budget takes half"
        );
        assert_eq!(&a[..], &[1; 30][..]);
        let waiter = {
            let budget = budget.clone();
            std::thread::spawn(move || budget.hold(Bytes::from(vec![3; 40])).len())
        };
        drop((a, huge));
        assert_eq!(waiter.join().unwrap(), 40);
        assert_eq!(budget.free(), 100);
    }
}
