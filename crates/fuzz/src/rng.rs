//! The fuzzer's only source of randomness: SplitMix64, seeded from the run's `--seed` and the
//! case's index. Every choice a run makes — the bytes wasm-smith reads, the arguments, the
//! mutations — comes from a stream derived from `(seed, index, purpose)`, so that
//! `--seed S --count N` is reproducible and case `i` can be re-run alone with `--start i
//! --count 1`.

/// What a stream is for: two purposes of one case never share a stream.
#[derive(Clone, Copy, Debug)]
pub enum Stream {
    /// The bytes wasm-smith builds the module from, and the generator's knobs.
    Module = 1,
    /// The arguments of the calls, and the Kiln configuration.
    Calls = 2,
    /// The mutations applied to an input.
    Mutations = 3,
}

/// SplitMix64 (Steele, Lea, Flood: "Fast splittable pseudorandom number generators"): tiny,
/// fast, and every seed gives a full-period stream.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

/// The SplitMix64 finalizer: a bijection of `u64` that mixes every input bit into every
/// output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// The stream of case `index` of the run seeded `seed`, for `purpose`.
    pub fn for_case(seed: u64, index: u64, purpose: Stream) -> Rng {
        Rng { state: mix(mix(seed ^ mix(index)) ^ purpose as u64) }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.state)
    }

    /// A number in `0..n` (`n > 0`); the modulo bias is irrelevant at the fuzzer's sizes.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// An index into a slice of length `len` (`len > 0`).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// One of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::for_case(7, 3, Stream::Module).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]), "the same case gives the same stream");
        let mut seen = std::collections::HashSet::new();
        for seed in 0..4 {
            for index in 0..64 {
                for purpose in [Stream::Module, Stream::Calls, Stream::Mutations] {
                    assert!(seen.insert(Rng::for_case(seed, index, purpose).next_u64()));
                }
            }
        }
    }

    #[test]
    fn ranges_hold() {
        let mut r = Rng::for_case(1, 2, Stream::Calls);
        for _ in 0..1000 {
            let v = r.range(3, 9);
            assert!((3..=9).contains(&v));
        }
        assert_eq!(r.bytes(13).len(), 13);
    }
}
