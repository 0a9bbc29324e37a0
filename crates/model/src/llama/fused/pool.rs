//! Float buffers kept from one step to the next. A step's activations and scratch space come in
//! the same few sizes every step, so handing them back and taking them again spares the
//! allocator, and the kernel the zeroing of fresh pages, a few percent of a step's time.

use std::sync::Mutex;

/// Buffers handed back and not yet taken again.
#[derive(Debug, Default)]
pub(super) struct BufferPool {
    free: Mutex<Vec<Vec<f32>>>,
}

impl BufferPool {
    /// A buffer of `len` floats whose contents are left from earlier use (every caller
    /// overwrites what it reads).
    pub fn take(&self, len: usize) -> Vec<f32> {
        let mut free = self.free.lock().expect("no thread panics holding the pool");
        // The smallest buffer that is large enough, else the largest one (grown).
        let fits = (0..free.len())
            .filter(|&i| free[i].capacity() >= len)
            .min_by_key(|&i| free[i].capacity());
        let largest = (0..free.len()).max_by_key(|&i| free[i].capacity());
        let mut buffer = match fits.or(largest) {
            Some(i) => free.swap_remove(i),
            None => Vec::new(),
        };
        drop(free);
        buffer.truncate(len);
        buffer.resize(len, 0.0);
        buffer
    }

    /// A buffer of `len` zeros.
    pub fn zeroed(&self, len: usize) -> Vec<f32> {
        let mut buffer = self.take(len);
        buffer.fill(0.0);
        buffer
    }

    /// A buffer holding a copy of `values`.
    pub fn copy_of(&self, values: &[f32]) -> Vec<f32> {
        let mut buffer = self.take(values.len());
        buffer.copy_from_slice(values);
        buffer
    }

    /// Hands buffers back for later steps.
    pub fn give(&self, buffers: impl IntoIterator<Item = Vec<f32>>) {
        let mut free = self.free.lock().expect("no thread panics holding the pool");
        free.extend(buffers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_handed_back_is_taken_again_at_the_size_asked() {
        let pool = BufferPool::default();
        let mut a = pool.take(10);
        a[3] = 7.0;
        let address = a.as_ptr();
        pool.give([a, Vec::with_capacity(100)]);
        let b = pool.take(8);
        assert_eq!(
            (b.len(), b.as_ptr()),
            (8, address),
            "the best fit is reused"
        );
        assert_eq!(pool.zeroed(50), vec![0.0; 50]);
        assert_eq!(pool.copy_of(&[1.0, 2.0]), vec![1.0, 2.0]);
    }
}
