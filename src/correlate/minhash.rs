//! MinHash signatures of sets (an analysis's APIs, its indicators) and their
//! locality-sensitive-hashing bands.
//!
//! The signature of a set is, for each of `len` hash functions, the least
//! hash of its elements; two signatures agree at one position with
//! probability equal to the sets' Jaccard index J. Cut into `bands` bands of
//! `rows = len / bands` positions, two sets share at least one whole band with
//! probability `1 - (1 - J^rows)^bands`: that S-curve turns "compare every
//! pair" into "compare the pairs that share a band". Stored as shared band
//! nodes, candidate pairs are the analyses behind one band node.
//!
//! Everything is deterministic: an element's base hash is the first 8 bytes
//! of its BLAKE3, position `i` mixes it with a fixed seed (splitmix64), so a
//! signature is the same on every machine, run and version of graphmalw
//! (the band keys written to a database stay comparable).
//!
//! # Parameters (measured, `docs/correlation.md`)
//!
//! [`DEFAULT`] is 192 positions in 64 bands of 3 rows (the S-curve's
//! midpoint is J ≈ 0.25, under api-similarity's default `min_jaccard` of
//! 0.3). Measured against exact Jaccard on 1,500 synthetic API sets
//! (1,124,250 pairs, `correlate::measure`): recall 0.990 for pairs with
//! J ≥ 0.3 and 1.000 for J ≥ 0.5, 0.7 and 0.8, with 17,249 candidates
//! (1.53 % of the pairs). 42 bands of 3 (128 positions) give 1.45× fewer
//! candidates but recall 0.963 at J ≥ 0.3 and only a 94 % chance for a pair
//! at J = 0.4 (it missed the examples' dropper–stealer pair). The full table
//! is in `docs/correlation.md`.

use std::collections::{BTreeSet, HashMap};

/// Signature length and band count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LshParams {
    pub len: usize,
    pub bands: usize,
}

/// The shipped choice (see the module documentation).
pub const DEFAULT: LshParams = LshParams { len: 192, bands: 64 };

impl LshParams {
    /// Positions per band (the positions past `bands * rows` are not banded).
    pub fn rows(self) -> usize {
        self.len / self.bands.max(1)
    }

    /// The probability that two sets of Jaccard index `j` share a band.
    pub fn candidate_probability(self, j: f64) -> f64 {
        1.0 - (1.0 - j.powi(self.rows() as i32)).powi(self.bands as i32)
    }
}

/// A MinHash signature. Empty sets have an all-`u64::MAX` signature and no
/// bands: they are nobody's candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature(pub Vec<u64>);

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// An element's base hash (the first 8 bytes of its BLAKE3): what the
/// signature mixes, and what the store keeps of a set for exact Jaccard.
pub fn base_hash(item: &str) -> u64 {
    let h = blake3::hash(item.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.as_bytes()[..8]);
    u64::from_le_bytes(b)
}

/// Computes signatures of one length; the seeds are fixed.
#[derive(Debug, Clone)]
pub struct MinHasher {
    params: LshParams,
    seeds: Vec<u64>,
}

impl MinHasher {
    pub fn new(params: LshParams) -> MinHasher {
        let seeds = (0..params.len as u64)
            .map(|i| splitmix64(i ^ 0x6772_6170_686d_616c))
            .collect();
        MinHasher { params, seeds }
    }

    pub fn params(&self) -> LshParams {
        self.params
    }

    pub fn signature<S: AsRef<str>>(&self, items: impl IntoIterator<Item = S>) -> Signature {
        let mut sig = vec![u64::MAX; self.params.len];
        for item in items {
            let h = base_hash(item.as_ref());
            for (slot, seed) in sig.iter_mut().zip(&self.seeds) {
                *slot = (*slot).min(splitmix64(h ^ seed));
            }
        }
        Signature(sig)
    }

    /// One key per band: the band's index in the high byte, a hash of its rows
    /// below. Two signatures share a band exactly when they share a key.
    pub fn band_keys(&self, sig: &Signature) -> Vec<u64> {
        if sig.0.iter().all(|&v| v == u64::MAX) {
            return Vec::new();
        }
        let rows = self.params.rows();
        (0..self.params.bands)
            .map(|b| {
                let h = sig.0[b * rows..(b + 1) * rows]
                    .iter()
                    .fold(splitmix64(b as u64), |acc, &v| splitmix64(acc ^ v));
                ((b as u64) << 56) | (h >> 8)
            })
            .collect()
    }
}

/// What the database keeps of one set (`docs/neo4j-model.md`): its size,
/// the sorted base hashes of its elements (exact Jaccard, 8 bytes an
/// element), its [`DEFAULT`] signature and its band keys as text (the keys of
/// the shared band nodes: the band's index in the first two hex digits).
/// Integers are the `u64`s' bits as `i64`, the databases' integer type;
/// only equality is ever asked of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sketch {
    pub size: usize,
    pub hashes: Vec<i64>,
    pub signature: Vec<i64>,
    pub bands: Vec<String>,
}

impl Sketch {
    /// The sketch of a set of distinct elements; an empty set has no
    /// hashes, no signature and no bands.
    pub fn of<S: AsRef<str>>(set: &BTreeSet<S>) -> Sketch {
        if set.is_empty() {
            return Sketch {
                size: 0,
                hashes: Vec::new(),
                signature: Vec::new(),
                bands: Vec::new(),
            };
        }
        let h = MinHasher::new(DEFAULT);
        let sig = h.signature(set.iter().map(AsRef::as_ref));
        let hashes: BTreeSet<i64> = set.iter().map(|s| base_hash(s.as_ref()) as i64).collect();
        Sketch {
            size: set.len(),
            hashes: hashes.into_iter().collect(),
            bands: h.band_keys(&sig).into_iter().map(|k| format!("{k:016x}")).collect(),
            signature: sig.into_longs(),
        }
    }
}

impl Signature {
    /// The positions as the databases' integers (the `u64`s' bits as `i64`).
    pub fn into_longs(self) -> Vec<i64> {
        self.0.into_iter().map(|v| v as i64).collect()
    }

    /// The share of equal positions: an unbiased estimate of Jaccard.
    pub fn estimate(&self, other: &Signature) -> f64 {
        let same = self.0.iter().zip(&other.0).filter(|(a, b)| a == b).count();
        same as f64 / self.0.len().max(1) as f64
    }
}

/// The exact Jaccard index of two sets (0 for two empty sets).
pub fn jaccard<T: Ord>(a: &BTreeSet<T>, b: &BTreeSet<T>) -> f64 {
    let shared = a.intersection(b).count();
    let union = a.len() + b.len() - shared;
    if union == 0 {
        0.0
    } else {
        shared as f64 / union as f64
    }
}

/// The candidate pairs `(i, j)`, `i < j`, of sets given by their band keys:
/// what the band nodes give a query. Buckets larger than `max_bucket` are
/// skipped (a band every set shares is no evidence, and would be n²).
pub fn candidate_pairs(keys: &[Vec<u64>], max_bucket: usize) -> BTreeSet<(usize, usize)> {
    let mut buckets: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, ks) in keys.iter().enumerate() {
        for &k in ks {
            buckets.entry(k).or_default().push(i);
        }
    }
    let mut pairs = BTreeSet::new();
    for members in buckets.values().filter(|m| m.len() >= 2 && m.len() <= max_bucket) {
        for (x, &i) in members.iter().enumerate() {
            for &j in &members[x + 1..] {
                pairs.insert((i.min(j), i.max(j)));
            }
        }
    }
    pairs
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A deterministic generator for synthetic sets (no `rand` dependency).
    pub(crate) struct Rng(pub u64);

    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 = splitmix64(self.0);
            self.0
        }
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    fn set(range: std::ops::Range<u32>) -> BTreeSet<String> {
        range.map(|i| format!("api{i}")).collect()
    }

    #[test]
    fn signatures_are_deterministic_and_order_free() {
        let h = MinHasher::new(DEFAULT);
        let a = h.signature(["b", "a", "c"]);
        let b = h.signature(["c", "b", "a", "a"]);
        assert_eq!(a, b);
        assert_eq!(h.band_keys(&a), h.band_keys(&b));
        // Fixed seeds: a change to the hash family changes every stored band.
        assert_eq!(a.0[0], MinHasher::new(DEFAULT).signature(["a", "b", "c"]).0[0]);
    }

    #[test]
    fn estimate_follows_exact_jaccard() {
        let h = MinHasher::new(LshParams { len: 256, bands: 64 });
        let (a, b) = (set(0..300), set(100..400)); // J = 200 / 400
        assert!((jaccard(&a, &b) - 0.5).abs() < 1e-9);
        let est = h.signature(&a).estimate(&h.signature(&b));
        assert!((est - 0.5).abs() < 0.1, "{est}");
    }

    #[test]
    fn empty_sets_have_no_bands() {
        let h = MinHasher::new(DEFAULT);
        assert!(h.band_keys(&h.signature(Vec::<String>::new())).is_empty());
        assert_eq!(jaccard::<String>(&BTreeSet::new(), &BTreeSet::new()), 0.0);
    }

    #[test]
    fn near_duplicates_share_a_band_and_strangers_do_not() {
        let h = MinHasher::new(DEFAULT);
        let sets = [set(0..200), set(10..210), set(5000..5200)];
        let keys: Vec<_> = sets.iter().map(|s| h.band_keys(&h.signature(s))).collect();
        let pairs = candidate_pairs(&keys, 100);
        assert!(pairs.contains(&(0, 1)));
        assert!(!pairs.contains(&(0, 2)) && !pairs.contains(&(1, 2)));
    }

    #[test]
    fn crowded_buckets_are_skipped() {
        let keys = vec![vec![1u64]; 5];
        assert_eq!(candidate_pairs(&keys, 5).len(), 10);
        assert!(candidate_pairs(&keys, 4).is_empty());
    }

    #[test]
    fn sketches_keep_the_set_size_hashes_signature_and_bands() {
        let s = Sketch::of(&set(0..10));
        let shape = (s.size, s.hashes.len(), s.signature.len(), s.bands.len());
        assert_eq!(shape, (10, 10, DEFAULT.len, DEFAULT.bands));
        assert!(s.hashes.windows(2).all(|w| w[0] < w[1]));
        assert!(s.bands[1].starts_with("01") && s.bands.iter().all(|b| b.len() == 16));
        let t = Sketch::of(&set(0..9));
        let shared = s.hashes.iter().filter(|h| t.hashes.contains(h)).count();
        assert_eq!(shared, 9);
        let empty = Sketch::of(&BTreeSet::<String>::new());
        assert!(empty.hashes.is_empty() && empty.signature.is_empty() && empty.bands.is_empty());
    }

    #[test]
    fn the_s_curve_of_the_default_parameters() {
        assert_eq!(DEFAULT.rows(), 3);
        assert!(DEFAULT.candidate_probability(0.4) > 0.98);
        assert!(DEFAULT.candidate_probability(0.5) > 0.999);
        assert!(DEFAULT.candidate_probability(0.1) < 0.07);
    }
}
