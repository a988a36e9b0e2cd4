//! A small deterministic generator for tests that pick random moments or bytes: each
//! run picks others, and a failure can be repeated with the seed it prints.

pub struct Moments(u64);

impl Moments {
    /// Seeded from the clock; says the seed, with what it is for, on stdout.
    pub fn from_clock(what: &str) -> Moments {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        println!("{what} from seed {seed}");
        Moments(seed)
    }

    pub fn next_below(&mut self, limit: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % limit.max(1)
    }
}
