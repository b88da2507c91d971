//! Python's `random.Random(seed)`: MT19937 seeded as CPython seeds it from an integer, and the
//! `getrandbits`/`_randbelow` draws `shuffle` makes. Only what [`super::shuffle`] needs.

const N: usize = 624;
const M: usize = 397;

/// The Mersenne Twister state of a `random.Random`.
pub(super) struct PyRandom {
    mt: [u32; N],
    index: usize,
}

impl PyRandom {
    /// `random.Random(seed)` for a non-negative integer seed (CPython's `init_by_array` over
    /// the seed's 32-bit words, least significant first).
    pub(super) fn new(seed: u64) -> Self {
        let key: &[u32] = &[seed as u32, (seed >> 32) as u32];
        let key = if seed >> 32 == 0 { &key[..1] } else { key };
        let mut r = PyRandom { mt: [0; N], index: N };
        r.init_by_array(key);
        r
    }

    fn init_genrand(&mut self, s: u32) {
        self.mt[0] = s;
        for i in 1..N {
            let prev = self.mt[i - 1];
            self.mt[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        self.index = N;
    }

    fn init_by_array(&mut self, key: &[u32]) {
        self.init_genrand(19_650_218);
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            let prev = self.mt[i - 1];
            self.mt[i] = (self.mt[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                self.mt[0] = self.mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = self.mt[i - 1];
            self.mt[i] = (self.mt[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                self.mt[0] = self.mt[N - 1];
                i = 1;
            }
        }
        self.mt[0] = 0x8000_0000;
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            for k in 0..N {
                let y = (self.mt[k] & 0x8000_0000) | (self.mt[(k + 1) % N] & 0x7fff_ffff);
                let mag = if y & 1 == 1 { 0x9908_b0df } else { 0 };
                self.mt[k] = self.mt[(k + M) % N] ^ (y >> 1) ^ mag;
            }
            self.index = 0;
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `getrandbits(k)` for `1 <= k <= 64`: 32-bit words, least significant first, the last one
    /// cut to the bits still wanted.
    fn getrandbits(&mut self, k: u32) -> u64 {
        let mut out = 0u64;
        let mut filled = 0;
        while filled < k {
            let want = (k - filled).min(32);
            let word = self.next_u32() >> (32 - want);
            out |= u64::from(word) << filled;
            filled += want;
        }
        out
    }

    /// `_randbelow(n)` for `n >= 1`: rejection sampling over `n.bit_length()` bits.
    pub(super) fn below(&mut self, n: u64) -> u64 {
        let k = 64 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PyRandom;

    /// `random.Random(0).getrandbits(32)` etc., printed by CPython 3.11.
    #[test]
    fn matches_cpython_streams() {
        let mut r = PyRandom::new(0);
        let got: Vec<u64> = (0..3).map(|_| r.getrandbits(32)).collect();
        assert_eq!(got, PY_SEED0_BITS32);
        let mut r = PyRandom::new(1 << 40 | 7);
        let got: Vec<u64> = (0..3).map(|_| r.getrandbits(32)).collect();
        assert_eq!(got, PY_SEED_BIG_BITS32);
    }

    const PY_SEED0_BITS32: [u64; 3] = [3_626_764_237, 1_654_615_998, 3_255_389_356];
    const PY_SEED_BIG_BITS32: [u64; 3] = [2_635_837_658, 3_209_733_218, 3_500_038_837];
}
