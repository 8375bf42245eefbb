//! Campaigns: analyses linked by shared rare indicators, grouped by
//! union-find.
//!
//! Input is streamed, one shared indicator at a time, as the database gives
//! it (`docs/correlation.md`): the indicator, how many analyses hold it (its
//! document frequency `df`) and which. An indicator weighs `ln(N / df)` (its
//! idf over `N` analyses): a mutex two samples share says much, a path a
//! tenth of the corpus touches says little, and indicators held by more than
//! [`ClusterParams::df_limit`] analyses (a share of the corpus) are not read
//! at all. A pair of analyses is linked when what it shares is enough
//! evidence in absolute terms (`min_shared` indicators weighing `min_weight`)
//! *and* a good part of what each of the two holds: the shared weight over the
//! geometric mean of both analyses' rare weight (a weighted Ochiai, or cosine,
//! similarity) is at least `min_similarity`. The second test is what keeps
//! chance shares from chaining: an analysis that touches hundreds of rare
//! paths shares a few with many others by chance, but those few are a small
//! part of its rare weight, while family members share most of theirs.
//! Campaigns are the connected components of the links, each named by a hash
//! of its members so that the same members give the same campaign id on every
//! run.

use std::collections::HashMap;

/// How rare indicators must be, and how much a pair must share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterParams {
    /// Indicators held by more than this share of the analyses are skipped…
    pub max_share: f64,
    /// …or by more than this many, if that is more (a small corpus).
    pub max_df: usize,
    /// A pair is linked when its shared indicators weigh at least this…
    pub min_weight: f64,
    /// …and are at least this many (chance shares one or two guest artefacts
    /// now and then; a family shares several planted ones)…
    pub min_shared: u32,
    /// …and weigh at least this share of the geometric mean of the two
    /// analyses' rare weight (their weighted cosine similarity).
    pub min_similarity: f64,
    /// Campaigns smaller than this are not reported.
    pub min_size: usize,
}

impl Default for ClusterParams {
    /// Measured on planted campaigns at 1,000 and 10,000 analyses, and on
    /// real reports (`docs/correlation.md`, section 3).
    fn default() -> Self {
        ClusterParams {
            max_share: 0.1,
            max_df: 50,
            min_weight: 14.0,
            min_shared: 3,
            min_similarity: 0.3,
            min_size: 2,
        }
    }
}

impl ClusterParams {
    /// The most analyses an indicator may be held by, in a corpus of `n`:
    /// `max(max_df, max_share × n)`. A family grows with its corpus, so the
    /// limit does too: a fixed one hides every family larger than it.
    pub fn df_limit(&self, n: usize) -> usize {
        self.max_df.max((self.max_share * n as f64).ceil() as usize)
    }

    /// The shared weight that links a pair in a corpus of `n`: `min_weight`,
    /// or in a small corpus, where no indicator weighs much, what two
    /// indicators only the pair holds weigh (`2 ln(n/2)`).
    pub fn weight_limit(&self, n: usize) -> f64 {
        self.min_weight.min(2.0 * idf(n, 2))
    }

    /// The parameters as `graphmalw correlate` records them on its campaigns.
    pub fn describe(&self) -> String {
        format!(
            "max_share={} max_df={} min_weight={} min_shared={} min_similarity={}",
            self.max_share, self.max_df, self.min_weight, self.min_shared, self.min_similarity
        )
    }
}

/// The weight of an indicator held by `df` of `n` analyses.
pub fn idf(n: usize, df: usize) -> f64 {
    if df == 0 || n == 0 {
        0.0
    } else {
        (n as f64 / df as f64).ln().max(0.0)
    }
}

/// Disjoint sets over `0..n`, by size with path halving.
#[derive(Debug, Clone, Default)]
pub struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    pub fn push(&mut self) -> u32 {
        let i = self.parent.len() as u32;
        self.parent.push(i);
        self.size.push(1);
        i
    }

    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let up = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = up;
            x = up;
        }
        x
    }

    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let (big, small) = if self.size[ra as usize] >= self.size[rb as usize] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
    }
}

/// Interns analysis ids to dense numbers.
#[derive(Debug, Clone, Default)]
struct Ids {
    names: Vec<String>,
    index: HashMap<String, u32>,
}

impl Ids {
    fn get(&mut self, id: &str, uf: &mut UnionFind) -> u32 {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        let i = uf.push();
        self.names.push(id.to_string());
        self.index.insert(id.to_string(), i);
        i
    }
}

/// One campaign: its id and its members (analysis ids, sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: String,
    pub members: Vec<String>,
}

/// `campaign-` and 16 hex digits of the BLAKE3 of the sorted member ids:
/// the same members give the same id on every run.
pub fn campaign_id(sorted_members: &[String]) -> String {
    let mut h = blake3::Hasher::new();
    for m in sorted_members {
        h.update(m.as_bytes());
        h.update(b"\n");
    }
    format!("campaign-{}", &h.finalize().to_hex()[..16])
}

/// Accumulates pair weights from streamed indicators, then links pairs and
/// groups analyses. Memory: one entry per pair that shares a rare indicator,
/// and each analysis's rare weight.
#[derive(Debug, Clone)]
pub struct Correlator {
    params: ClusterParams,
    corpus: usize,
    df_limit: usize,
    weight_limit: f64,
    ids: Ids,
    uf: UnionFind,
    /// Per analysis (interned number): the summed weight of its rare indicators.
    mass: Vec<f64>,
    pairs: HashMap<u64, (f32, u32), PairHasher>,
}

/// A pair of interned analyses `i < j` as one map key, `i` in the high half
/// (16 bytes an entry with its weight and count: the pair map is what grows).
fn pair_key(i: u32, j: u32) -> u64 {
    (u64::from(i.min(j)) << 32) | u64::from(i.max(j))
}

fn pair_of(key: u64) -> (u32, u32) {
    ((key >> 32) as u32, key as u32)
}

/// Hashes pair keys by a fold and a multiplication: the keys are
/// numbers this module hands out, not input, so a keyed hash buys nothing
/// and doubled the clustering time (8.5 million pairs at 10,000 analyses).
#[derive(Debug, Clone, Copy, Default)]
struct PairHasher;

impl std::hash::BuildHasher for PairHasher {
    type Hasher = PairHash;
    fn build_hasher(&self) -> PairHash {
        PairHash(0)
    }
}

#[derive(Debug, Clone, Copy)]
struct PairHash(u64);

impl std::hash::Hasher for PairHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        // Fold both halves into the low bits (the table's index), then mix.
        let h = (self.0 ^ n ^ (n >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 29);
    }
}

impl Correlator {
    /// `corpus` is N, the number of analyses (for idf).
    pub fn new(params: ClusterParams, corpus: usize) -> Correlator {
        Correlator {
            params,
            corpus,
            df_limit: params.df_limit(corpus),
            weight_limit: params.weight_limit(corpus),
            ids: Ids::default(),
            uf: UnionFind::default(),
            mass: Vec::new(),
            pairs: HashMap::default(),
        }
    }

    /// The most analyses an indicator may be held by in this corpus.
    pub fn df_limit(&self) -> usize {
        self.df_limit
    }

    /// How many pairs of analyses share a rare indicator (the memory used).
    pub fn pair_count(&self) -> usize {
        self.pairs.len()
    }

    /// One shared indicator and the analyses that hold it (distinct ids).
    /// Returns false when it was skipped as too common.
    pub fn add_indicator<S: AsRef<str>>(&mut self, holders: &[S]) -> bool {
        let df = holders.len();
        if df < 2 || df > self.df_limit {
            return false;
        }
        let w = idf(self.corpus.max(df), df);
        let ids: Vec<u32> = holders.iter().map(|h| self.ids.get(h.as_ref(), &mut self.uf)).collect();
        self.mass.resize(self.ids.names.len(), 0.0);
        for &i in &ids {
            self.mass[i as usize] += w;
        }
        for (x, &i) in ids.iter().enumerate() {
            for &j in &ids[x + 1..] {
                let e = self.pairs.entry(pair_key(i, j)).or_insert((0.0, 0));
                e.0 += w as f32;
                e.1 += 1;
            }
        }
        true
    }

    /// Whether the pair `key` (see [`pair_key`]), sharing `shared`
    /// indicators of summed weight `weight`, is linked.
    fn is_link(&self, key: u64, (weight, shared): (f32, u32)) -> bool {
        let (i, j) = pair_of(key);
        let weight = f64::from(weight);
        let mean = (self.mass[i as usize] * self.mass[j as usize]).sqrt();
        weight >= self.weight_limit && shared >= self.params.min_shared && weight >= self.params.min_similarity * mean
    }

    /// The linked pairs (a, b, weight), strongest first, then by ids.
    pub fn links(&self) -> Vec<(String, String, f64)> {
        let mut out: Vec<_> = self
            .pairs
            .iter()
            .filter(|(&p, &s)| self.is_link(p, s))
            .map(|(&p, &(w, _))| {
                let (i, j) = pair_of(p);
                let (a, b) = (&self.ids.names[i as usize], &self.ids.names[j as usize]);
                let (a, b) = if a <= b { (a, b) } else { (b, a) };
                (a.clone(), b.clone(), f64::from(w))
            })
            .collect();
        out.sort_by(|x, y| y.2.total_cmp(&x.2).then_with(|| (&x.0, &x.1).cmp(&(&y.0, &y.1))));
        out
    }

    /// The campaigns, largest first, then by id.
    pub fn campaigns(mut self) -> Vec<Campaign> {
        let linked: Vec<(u32, u32)> = self
            .pairs
            .iter()
            .filter(|(&p, &s)| self.is_link(p, s))
            .map(|(&p, _)| pair_of(p))
            .collect();
        for (i, j) in linked {
            self.uf.union(i, j);
        }
        let mut groups: HashMap<u32, Vec<String>> = HashMap::new();
        for i in 0..self.ids.names.len() as u32 {
            let root = self.uf.find(i);
            groups.entry(root).or_default().push(self.ids.names[i as usize].clone());
        }
        let mut out: Vec<Campaign> = groups
            .into_values()
            .filter(|m| m.len() >= self.params.min_size.max(2))
            .map(|mut members| {
                members.sort();
                Campaign {
                    id: campaign_id(&members),
                    members,
                }
            })
            .collect();
        out.sort_by(|a, b| b.members.len().cmp(&a.members.len()).then_with(|| a.id.cmp(&b.id)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(max_df: usize, min_weight: f64) -> ClusterParams {
        ClusterParams {
            max_share: 0.0,
            max_df,
            min_weight,
            min_shared: 1,
            min_similarity: 0.0,
            min_size: 2,
        }
    }

    #[test]
    fn union_find_joins_transitively() {
        let mut uf = UnionFind::default();
        let v: Vec<u32> = (0..5).map(|_| uf.push()).collect();
        uf.union(v[0], v[1]);
        uf.union(v[3], v[1]);
        assert_eq!(uf.find(v[0]), uf.find(v[3]));
        assert_ne!(uf.find(v[0]), uf.find(v[2]));
    }

    #[test]
    fn idf_weights_rare_indicators_more() {
        assert!(idf(1000, 2) > idf(1000, 100));
        assert_eq!(idf(10, 10), 0.0);
        assert_eq!(idf(10, 0), 0.0);
    }

    #[test]
    fn a_rare_indicator_links_where_common_ones_do_not() {
        let mut c = Correlator::new(params(50, 4.0), 1000);
        c.add_indicator(&["a", "b"]); // ln 500 ≈ 6.2: a link alone
        c.add_indicator(&["c", "d", "e", "f", "g", "h", "i", "j", "k", "l"]); // ln 100 ≈ 4.6
        c.add_indicator(&["x", "y"]);
        let campaigns = c.campaigns();
        assert_eq!(campaigns.len(), 3);
        assert_eq!(campaigns[0].members.len(), 10);
        let mut c = Correlator::new(params(50, 5.0), 1000);
        c.add_indicator(&["c", "d", "e", "f", "g", "h", "i", "j", "k", "l"]);
        assert!(c.campaigns().is_empty());
    }

    #[test]
    fn common_indicators_add_up() {
        let mut c = Correlator::new(params(50, 8.0), 100);
        let many: Vec<String> = (0..20).map(|i| format!("s{i}")).collect();
        c.add_indicator(&many[..]); // ln 5 ≈ 1.6 for all 190 pairs
        assert!(c.links().is_empty());
        for _ in 0..4 {
            c.add_indicator(&["s1", "s2", "s3", "s4", "s5"]); // ln 20 ≈ 3.0 each
        }
        let campaigns = c.campaigns();
        assert_eq!(campaigns.len(), 1);
        assert_eq!(campaigns[0].members, ["s1", "s2", "s3", "s4", "s5"]);
    }

    #[test]
    fn the_df_limit_follows_the_corpus() {
        let p = ClusterParams::default();
        assert_eq!(p.df_limit(3), 50);
        assert_eq!(p.df_limit(500), 50);
        assert_eq!(p.df_limit(1000), 100);
        assert_eq!(p.df_limit(10_000), 1000);
        assert_eq!(p.weight_limit(10_000), 14.0);
        assert!((p.weight_limit(20) - 2.0 * 10f64.ln()).abs() < 1e-9);
    }

    #[test]
    fn chance_shares_of_a_busy_analysis_do_not_link() {
        // "busy" touches 40 rare paths, each also touched by one other
        // analysis: three by "a", three by "b" (chance), the rest by others;
        // "a" and "b" also share five planted indicators. Every indicator
        // weighs ln 500: busy's three with "a" weigh enough, but they are
        // 3 / √(40 × 8) = 0.17 of the two's rare weight.
        let p = ClusterParams {
            min_similarity: 0.3,
            ..params(50, 6.0)
        };
        let mut c = Correlator::new(p, 1000);
        for i in 0..40 {
            let other = match i {
                0..=2 => "a".to_string(),
                3..=5 => "b".to_string(),
                _ => format!("other{i}"),
            };
            c.add_indicator(&["busy".to_string(), other]);
        }
        for _ in 0..5 {
            c.add_indicator(&["a", "b"]);
        }
        let links = c.links();
        assert!(links.iter().all(|(a, b, _)| a != "busy" && b != "busy"), "{links:?}");
        let campaigns = c.campaigns();
        assert_eq!(campaigns.len(), 1);
        assert_eq!(campaigns[0].members, ["a", "b"]);
    }

    #[test]
    fn indicators_above_max_df_are_skipped() {
        let mut c = Correlator::new(params(3, 0.1), 100);
        assert!(!c.add_indicator(&["a", "b", "c", "d"]));
        assert!(!c.add_indicator(&["a"]));
        assert!(c.add_indicator(&["a", "b", "c"]));
        assert!(c.campaigns()[0].members.len() == 3);
    }

    fn row(kind: crate::correlate::IndicatorKind, value: &str, holders: &[&str]) -> IndicatorRow {
        IndicatorRow {
            kind,
            value: value.into(),
            holders: holders.iter().map(|h| h.to_string()).collect(),
        }
    }

    #[test]
    fn rows_of_baselines_and_safelisted_indicators_never_link() {
        use crate::correlate::safelist::{NoiseFilter, Safelist};
        use crate::correlate::IndicatorKind::*;
        let rows = vec![
            row(Mutex, "Global\\planted", &["a", "b"]),
            row(Ip, "8.8.8.8", &["a", "c"]),
            row(
                Registry,
                r"hkey_local_machine\software\vendor\agent",
                &["c", "d", "clean"],
            ),
            row(File, r"c:\users\x\evil.exe", &["e", "e", "e"]), // one analysis through three handles
            row(Domain, "c2.example", &["a", "b", "c", "d", "e", "f"]),
        ];
        let baseline = ["clean".to_string()].into_iter().collect();
        let filter = NoiseFilter::new(Safelist::builtin());
        let (campaigns, n) = campaigns_from_rows(rows, 1000, &baseline, &filter, params(5, 1.0));
        assert_eq!(campaigns.len(), 1);
        assert_eq!(campaigns[0].members, ["a", "b"]);
        let counts = RowCounts {
            read: 5,
            safelisted: 1,
            baseline: 1,
            out_of_range: 2,
            used: 1,
        };
        assert_eq!(n, counts);
    }

    #[test]
    fn campaign_ids_depend_on_members_only() {
        let run = |order: &[&[&str]]| {
            let mut c = Correlator::new(params(50, 1.0), 100);
            for h in order {
                c.add_indicator(h);
            }
            c.campaigns()
        };
        let a = run(&[&["p", "q"], &["q", "r"], &["x", "y"]]);
        let b = run(&[&["y", "x"], &["r", "q"], &["q", "p"]]);
        assert_eq!(a, b);
        assert_eq!(a[0].members, ["p", "q", "r"]);
        assert!(a[0].id.starts_with("campaign-") && a[0].id.len() == 25);
        assert_ne!(a[0].id, a[1].id);
    }
}

/// One shared indicator as `graphmalw correlate` reads it from the database:
/// its kind, its value (the shared node's key) and the ids of the analyses
/// that hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorRow {
    pub kind: super::IndicatorKind,
    pub value: String,
    pub holders: Vec<String>,
}

/// What a run did with its rows, for the command's summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCounts {
    pub read: usize,
    /// On the safelist (re-checked here, whatever the database's flags say).
    pub safelisted: usize,
    /// Held by a baseline analysis.
    pub baseline: usize,
    /// Held by fewer than two analyses, or by more than the df limit.
    pub out_of_range: usize,
    pub used: usize,
}

/// Campaigns from streamed rows: rows a baseline analysis holds and
/// safelisted indicators never link; baseline analyses are never members.
/// Holders are deduplicated per row (file and key rows come through handles).
pub fn campaigns_from_rows(
    rows: impl IntoIterator<Item = IndicatorRow>,
    corpus: usize,
    baseline: &std::collections::HashSet<String>,
    filter: &super::safelist::NoiseFilter,
    params: ClusterParams,
) -> (Vec<Campaign>, RowCounts) {
    let mut c = Correlator::new(params, corpus);
    let mut n = RowCounts::default();
    for mut row in rows {
        n.read += 1;
        if filter.is_noise(&super::Indicator {
            kind: row.kind,
            value: row.value,
        }) {
            n.safelisted += 1;
            continue;
        }
        if row.holders.iter().any(|h| baseline.contains(h)) {
            n.baseline += 1;
            continue;
        }
        row.holders.sort();
        row.holders.dedup();
        if c.add_indicator(&row.holders) {
            n.used += 1;
        } else {
            n.out_of_range += 1;
        }
    }
    (c.campaigns(), n)
}
