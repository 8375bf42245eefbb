//! Measurements behind `docs/correlation.md` (ignored tests that print).
//!
//! Real reports: build them first, then point the tests at the JSON graphs:
//!
//! ```text
//! graphmalw build --format json --out /tmp/graphs <report dirs>
//! GRAPHMALW_CORRELATE_GRAPHS=/tmp/graphs \
//!   cargo test --lib correlate::measure -- --ignored --nocapture --test-threads 1
//! ```
//!
//! The synthetic MinHash measurement needs nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde_json::Value;

use super::minhash::{candidate_pairs, jaccard, tests::Rng, LshParams, MinHasher};
use super::safelist::{NoiseFilter, Safelist};
use super::{Features, Indicator, IndicatorKind};

/// Features of one `build --format json` output, through the same
/// [`Features`] adders as a built analysis.
fn features_of_json(doc: &Value) -> Features {
    let mut f = Features::default();
    for n in doc["nodes"].as_array().into_iter().flatten() {
        let path = n["path"].as_str().unwrap_or("");
        match n["type"].as_str() {
            Some("api") => f.add_api(n["name"].as_str().unwrap_or("")),
            Some("file_handle") => f.add(IndicatorKind::File, path),
            Some("key_handle") => f.add(IndicatorKind::Registry, path),
            _ => {}
        }
    }
    if let Ok(iocs) = serde_json::from_value::<IocsView>(doc["iocs"].clone()) {
        iocs.mutexes.iter().for_each(|m| f.add(IndicatorKind::Mutex, m));
        iocs.domains
            .iter()
            .for_each(|d| f.add(IndicatorKind::Domain, &d.domain));
        iocs.ips.iter().for_each(|i| f.add(IndicatorKind::Ip, i));
        iocs.dropped
            .iter()
            .for_each(|d| f.add(IndicatorKind::Dropped, &d.sha256));
    }
    f
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct IocsView {
    mutexes: Vec<String>,
    domains: Vec<DomainView>,
    ips: Vec<String>,
    dropped: Vec<DroppedView>,
}
#[derive(serde::Deserialize)]
struct DomainView {
    domain: String,
}
#[derive(serde::Deserialize)]
struct DroppedView {
    sha256: String,
}

/// The analyses of the directory, one per analysis id (a report under two
/// names is one analysis), by id.
fn real_corpus() -> Option<BTreeMap<String, Features>> {
    let dir = std::env::var_os("GRAPHMALW_CORRELATE_GRAPHS")?;
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(Path::new(&dir)).ok()?.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let Ok(doc) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if let Some(id) = doc["analysis"]["id"].as_str() {
            out.insert(id.to_string(), features_of_json(&doc));
        }
    }
    Some(out)
}

fn top_shared(
    corpus: &BTreeMap<String, Features>,
    keep: impl Fn(&Indicator) -> bool,
    n: usize,
) -> Vec<(usize, Indicator)> {
    let mut df: HashMap<&Indicator, usize> = HashMap::new();
    for f in corpus.values() {
        for i in f.indicators.iter().filter(|i| keep(i)) {
            *df.entry(i).or_default() += 1;
        }
    }
    let mut v: Vec<(usize, Indicator)> = df
        .into_iter()
        .filter(|(_, c)| *c >= 2)
        .map(|(i, c)| (c, i.clone()))
        .collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    v.truncate(n);
    v
}

#[test]
#[ignore = "reads built graphs from GRAPHMALW_CORRELATE_GRAPHS; prints numbers"]
fn noise_share_of_top_shared_indicators() {
    let Some(corpus) = real_corpus() else { return };
    let filter = NoiseFilter::new(Safelist::builtin());
    println!("{} analyses", corpus.len());
    let before = top_shared(&corpus, |_| true, 20);
    let noisy = before.iter().filter(|(_, i)| filter.is_noise(i)).count();
    println!(
        "before: {noisy} of {} top shared indicators are safelisted background",
        before.len()
    );
    for (c, i) in &before {
        println!("  {c:3} {} {i}", if filter.is_noise(i) { "noise" } else { "     " });
    }
    let after = top_shared(&corpus, |i| !filter.is_noise(i), 20);
    println!("after: top {} shared indicators once the safelist applies", after.len());
    for (c, i) in &after {
        println!("  {c:3} {i}");
    }
    let (all, safe) = corpus
        .values()
        .flat_map(|f| &f.indicators)
        .fold((0, 0), |(a, s), i| (a + 1, s + usize::from(filter.is_noise(i))));
    println!("indicator occurrences: {all}, safelisted {safe}");
}

/// Recall of the candidates against exact Jaccard, per threshold, and the
/// number of candidates, for one corpus of sets.
fn recall_table(name: &str, sets: &[BTreeSet<String>], choices: &[LshParams]) {
    let n = sets.len();
    let mut exact = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            exact.push(((i, j), jaccard(&sets[i], &sets[j])));
        }
    }
    let thresholds = [0.3, 0.5, 0.7, 0.8];
    let counts: Vec<usize> = thresholds
        .iter()
        .map(|t| exact.iter().filter(|(_, j)| j >= t).count())
        .collect();
    println!(
        "{name}: {n} sets, {} pairs; pairs with J >= 0.3/0.5/0.7/0.8: {counts:?}",
        exact.len()
    );
    for &p in choices {
        let h = MinHasher::new(p);
        let keys: Vec<Vec<u64>> = sets.iter().map(|s| h.band_keys(&h.signature(s))).collect();
        let cand = candidate_pairs(&keys, usize::MAX);
        let recall: Vec<String> = thresholds
            .iter()
            .zip(&counts)
            .map(|(t, &c)| {
                let found = exact.iter().filter(|(pair, j)| j >= t && cand.contains(pair)).count();
                if c == 0 {
                    "-".to_string()
                } else {
                    format!("{:.3}", found as f64 / c as f64)
                }
            })
            .collect();
        println!(
            "  len {:3} bands {:2} rows {}: recall J>=0.3/0.5/0.7/0.8 {}  candidates {} ({:.2}% of pairs)",
            p.len,
            p.bands,
            p.rows(),
            recall.join(" / "),
            cand.len(),
            100.0 * cand.len() as f64 / exact.len().max(1) as f64
        );
    }
}

const CHOICES: [LshParams; 8] = [
    LshParams { len: 64, bands: 16 },
    LshParams { len: 64, bands: 32 },
    LshParams { len: 128, bands: 32 },
    LshParams { len: 128, bands: 42 },
    LshParams { len: 128, bands: 64 },
    LshParams { len: 256, bands: 64 },
    LshParams { len: 192, bands: 64 },
    LshParams { len: 256, bands: 85 },
];

#[test]
#[ignore = "reads built graphs from GRAPHMALW_CORRELATE_GRAPHS; prints numbers"]
fn minhash_recall_on_real_reports() {
    let Some(corpus) = real_corpus() else { return };
    let apis: Vec<BTreeSet<String>> = corpus
        .values()
        .map(|f| f.apis.clone())
        .filter(|s| s.len() >= 5)
        .collect();
    recall_table("real API sets", &apis, &CHOICES);
    let inds: Vec<BTreeSet<String>> = corpus
        .values()
        .map(|f| f.indicator_keys().collect::<BTreeSet<_>>())
        .filter(|s| s.len() >= 5)
        .collect();
    recall_table("real indicator sets", &inds, &CHOICES);
}

/// API-set-like corpus: every set takes half of a 150-API common core (the
/// loader and runtime calls every program makes) and 100-300 APIs of a long
/// tail; families are variants of one base with a share of its APIs replaced,
/// so that pairs span the whole Jaccard range.
pub(crate) fn synthetic_api_sets(families: usize, per_family: usize, seed: u64) -> Vec<BTreeSet<String>> {
    let mut rng = Rng(seed);
    let base_set = |rng: &mut Rng| -> BTreeSet<String> {
        let mut s: BTreeSet<String> = (0..150)
            .filter(|_| rng.below(2) == 0)
            .map(|i| format!("core{i}"))
            .collect();
        let tail = 100 + rng.below(200);
        s.extend((0..tail).map(|_| format!("tail{}", rng.below(20_000))));
        s
    };
    let mut out = Vec::new();
    for _ in 0..families {
        let base = base_set(&mut rng);
        for _ in 0..per_family {
            let x = rng.below(50);
            let replace = x * x / 50; // percent of the base replaced: 0-48, mostly few
            let mut v: BTreeSet<String> = base.iter().filter(|_| rng.below(100) >= replace).cloned().collect();
            let add = base.len() - v.len();
            v.extend((0..add).map(|_| format!("tail{}", rng.below(20_000))));
            out.push(v);
        }
    }
    out
}

#[test]
#[ignore = "prints the synthetic recall table of docs/correlation.md"]
fn minhash_recall_on_synthetic_sets() {
    let sets = synthetic_api_sets(300, 5, 11);
    recall_table("synthetic API sets (300 families x 5)", &sets, &CHOICES);
}

#[test]
fn synthetic_corpus_spans_the_jaccard_range() {
    let sets = synthetic_api_sets(2, 8, 1);
    let within: Vec<f64> = (0..8)
        .flat_map(|a| (a + 1..8).map(move |b| (a, b)))
        .map(|(a, b)| jaccard(&sets[a], &sets[b]))
        .collect();
    let max = within.iter().cloned().fold(0.0, f64::max);
    let min = within.iter().cloned().fold(1.0, f64::min);
    assert!(max > 0.7 && min < 0.5, "{within:?}");
    assert!(jaccard(&sets[0], &sets[8]) < 0.4);
}

#[test]
#[ignore = "reads built graphs from GRAPHMALW_CORRELATE_GRAPHS; prints numbers"]
fn campaigns_on_real_reports() {
    use super::cluster::{ClusterParams, Correlator};
    let Some(corpus) = real_corpus() else { return };
    let filter = NoiseFilter::new(Safelist::builtin());
    for (name, safelisted) in [("without safelist", false), ("with safelist", true)] {
        let mut holders: BTreeMap<&Indicator, Vec<&str>> = BTreeMap::new();
        for (id, f) in &corpus {
            for i in f.indicators.iter().filter(|i| !safelisted || !filter.is_noise(i)) {
                holders.entry(i).or_default().push(id);
            }
        }
        let mut c = Correlator::new(ClusterParams::default(), corpus.len());
        holders.values().for_each(|h| {
            c.add_indicator(h);
        });
        let campaigns = c.campaigns();
        let sizes: Vec<usize> = campaigns.iter().map(|k| k.members.len()).collect();
        for k in campaigns.iter().filter(|_| safelisted) {
            println!("  {}: {:?}", k.id, k.members);
        }
        println!("{name}: {} analyses, campaigns by size {sizes:?}", corpus.len());
    }
}

/// A planted-campaign corpus: `n` analyses, families of 5-30 members that
/// each show ~70 % of their family's 6 planted indicators, and background in
/// every analysis: a 300-indicator pool most analyses share (residual system
/// noise the safelist missed: 10-94 % of analyses each), `n / 10` guest
/// artefacts each held by 2-60 random analyses (about 3 per analysis), and 20
/// indicators of its own. Returns the
/// holders per indicator and each analysis's family (`None`: unrelated).
pub(crate) fn planted_corpus(n: usize, seed: u64) -> (Vec<Vec<String>>, Vec<Option<usize>>) {
    let mut rng = Rng(seed);
    let mut family = vec![None; n];
    let mut next = 0;
    let mut k = 0;
    while next < n / 5 {
        let size = 5 + rng.below(26) as usize;
        for slot in family.iter_mut().skip(next).take(size) {
            *slot = Some(k);
        }
        next += size;
        k += 1;
    }
    let mut holders: HashMap<String, Vec<String>> = HashMap::new();
    let common_p: Vec<u64> = (0..300).map(|_| 10 + rng.below(85)).collect();
    for (a, fam) in family.iter().enumerate() {
        let id = format!("analysis{a:05}");
        let mut add = |ind: String| holders.entry(ind).or_default().push(id.clone());
        for (i, p) in common_p.iter().enumerate() {
            if rng.below(100) < *p {
                add(format!("common{i}"));
            }
        }
        for i in 0..20 {
            add(format!("own{a}-{i}"));
        }
        if let Some(f) = fam {
            for i in 0..6 {
                if rng.below(100) < 70 {
                    add(format!("planted{f}-{i}"));
                }
            }
        }
    }
    for i in 0..n / 10 {
        let df = 2 + rng.below(59);
        let mut h: Vec<String> = (0..df).map(|_| format!("analysis{:05}", rng.below(n as u64))).collect();
        h.sort();
        h.dedup();
        holders.insert(format!("guest{i}"), h);
    }
    (holders.into_values().collect(), family)
}

/// Pairwise precision and recall of campaigns against the planted families.
fn pair_scores(campaigns: &[super::cluster::Campaign], family: &[Option<usize>]) -> (f64, f64) {
    let fam = |id: &str| {
        id.trim_start_matches("analysis")
            .parse::<usize>()
            .ok()
            .and_then(|i| family[i])
    };
    let (mut predicted, mut correct) = (0u64, 0u64);
    for c in campaigns {
        for (x, a) in c.members.iter().enumerate() {
            for b in &c.members[x + 1..] {
                predicted += 1;
                correct += u64::from(fam(a).is_some() && fam(a) == fam(b));
            }
        }
    }
    let mut sizes: HashMap<usize, u64> = HashMap::new();
    family.iter().flatten().for_each(|f| *sizes.entry(*f).or_default() += 1);
    let truth: u64 = sizes.values().map(|s| s * (s - 1) / 2).sum();
    (
        correct as f64 / predicted.max(1) as f64,
        correct as f64 / truth.max(1) as f64,
    )
}

fn planted_run(n: usize, seed: u64, params: super::cluster::ClusterParams) -> (f64, f64, usize) {
    let (rows, family) = planted_corpus(n, seed);
    let mut c = super::cluster::Correlator::new(params, n);
    for h in &rows {
        c.add_indicator(h);
    }
    let campaigns = c.campaigns();
    let (p, r) = pair_scores(&campaigns, &family);
    (p, r, campaigns.len())
}

#[test]
fn planted_campaigns_are_found_among_background() {
    // A regression guard on a corpus small enough for every run, with the
    // defaults; the 10,000-analysis numbers are in docs/correlation.md.
    let (p, r, _) = planted_run(1000, 7, super::cluster::ClusterParams::default());
    assert!(p >= 0.95 && r >= 0.6, "precision {p:.3} recall {r:.3}");
}

#[test]
#[ignore = "prints the planted-campaign table of docs/correlation.md"]
fn planted_campaigns_precision_and_recall() {
    use super::cluster::ClusterParams;
    for n in [1000, 10_000] {
        for (max_share, min_weight, min_similarity) in [
            (0.0, 8.0, 0.0),
            (0.1, 8.0, 0.0),
            (0.1, 12.0, 0.0),
            (0.1, 12.0, 0.25),
            (0.1, 14.0, 0.3),
            (0.05, 14.0, 0.3),
        ] {
            let params = ClusterParams {
                max_share,
                min_weight,
                min_similarity,
                ..ClusterParams::default()
            };
            let (p, r, k) = planted_run(n, 7, params);
            println!(
                "n {n:6} max_share {max_share:4} min_weight {min_weight:4} min_similarity {min_similarity:4}: precision {p:.3} recall {r:.3} campaigns {k}"
            );
        }
    }
}
