//! Random start offsets for `warmup`. Not for anything secret: the SplitMix64 generator
//! (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014), seeded
//! from the standard library's per-process random hash keys: no extra crate needed.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

pub struct Jitter {
    state: u64,
}

impl Jitter {
    pub fn new() -> Self {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(0x6c76_7366_7700_0000);
        Jitter {
            state: hasher.finish(),
        }
    }

    pub fn next_u32(&mut self) -> u32 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as u32
    }
}

impl Default for Jitter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_over_the_whole_range() {
        let mut jitter = Jitter::new();
        let mut buckets = [0u32; 4];
        for _ in 0..4000 {
            buckets[(jitter.next_u32() >> 30) as usize] += 1;
        }
        // Each quarter of the range gets roughly a quarter (1000 ± a wide margin).
        assert!(
            buckets.iter().all(|&n| (700..1300).contains(&n)),
            "{buckets:?}"
        );
    }
}
