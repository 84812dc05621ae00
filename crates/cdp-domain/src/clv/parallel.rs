//! Work shared among the machine's cores with scoped threads, and a fast hash
//! for keys made of f64 bits. Results never depend on the number of cores:
//! sums are taken over fixed-size blocks, then added in block order.

use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

/// The cores this process may use, asked once: std reads cgroup files to answer.
fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map(|t| t.get()).unwrap_or(1).min(16))
}

/// `work` over 0..n, split in one contiguous range per core, unless n is
/// below `smallest` (where spawning would cost more); the results in order.
pub fn map_ranges<T: Send>(n: usize, smallest: usize, work: impl Fn(Range<usize>) -> Vec<T> + Sync) -> Vec<T> {
    let threads = threads();
    if threads == 1 || n < smallest {
        return work(0..n);
    }
    let chunk = n.div_ceil(threads);
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n).step_by(chunk).map(|lo| scope.spawn(move || work(lo..(lo + chunk).min(n)))).collect();
        handles.into_iter().flat_map(|h| h.join().expect("a worker thread panicked")).collect()
    })
}

/// Σ `part(range)` over 0..n, for sums of K values (a log-likelihood and its
/// gradient). Blocks are dealt to the threads in turn, since rows sorted by
/// their data can be cheap at one end and dear at the other.
pub fn sum_ranges<const K: usize>(n: usize, part: impl Fn(Range<usize>) -> [f64; K] + Sync) -> [f64; K] {
    const BLOCK: usize = 4096;
    let blocks = n.div_ceil(BLOCK);
    let block = |b: usize| part(b * BLOCK..((b + 1) * BLOCK).min(n));
    let threads = if blocks < 2 { 1 } else { threads().min(blocks) };
    let partials: Vec<[f64; K]> = if threads <= 1 {
        (0..blocks).map(block).collect()
    } else {
        let block = &block;
        let dealt: Vec<Vec<[f64; K]>> = std::thread::scope(|scope| {
            let handles: Vec<_> =
                (0..threads).map(|t| scope.spawn(move || (t..blocks).step_by(threads).map(block).collect::<Vec<_>>())).collect();
            handles.into_iter().map(|h| h.join().expect("a worker thread panicked")).collect()
        });
        // Back in block order: block b is the (b / threads)-th of thread b % threads.
        (0..blocks).map(|b| dealt[b % threads][b / threads]).collect()
    };
    partials.into_iter().fold([0.0; K], |mut acc, p| {
        acc.iter_mut().zip(p).for_each(|(a, v)| *a += v);
        acc
    })
}

/// FxHash (rustc's): one multiply per word, enough for keys that are f64 bits.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, word: u32) {
        self.write_u64(word as u64);
    }
    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FastMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_do_not_depend_on_how_the_work_is_split() {
        let v: Vec<f64> = (0..100_003).map(|i| (i as f64 * 0.37).sin()).collect();
        let [s, n] = sum_ranges(v.len(), |r| [v[r.clone()].iter().sum(), r.len() as f64]);
        let blocks: f64 = v.chunks(4096).map(|c| c.iter().sum::<f64>()).sum();
        assert_eq!(s.to_bits(), blocks.to_bits());
        assert_eq!(n, v.len() as f64);
        let small = sum_ranges(10, |r| [r.len() as f64]);
        assert_eq!(small, [10.0]);
        assert_eq!(sum_ranges(0, |r| [r.len() as f64]), [0.0]);
        let mapped = map_ranges(50_000, 4096, |r| r.collect::<Vec<_>>());
        assert!(mapped.iter().copied().eq(0..50_000));
    }
}
