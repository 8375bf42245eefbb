// name: shared-registry-keys
// title: Samples that touched the same registry key
// category: cross-sample
// param: min_analyses = 2 | Report keys touched by at least this many analyses
// param: max_share = 0.75 | Ignore keys touched by more than this share of all analyses (system noise)
// param: min_corpus = 10 | Apply max_share only when the database holds at least this many analyses; in a smaller one nothing counts as noise
// returns: key, analyses, samples
// description: Registry keys (lowercased, as :RegistryKey stores them) that several
//   analysed samples opened, created, read or wrote. A family tends to reuse its
//   configuration key, its autostart value and the same anti-VM probes, so a key
//   shared by a few samples links them; keys that most analyses touch (the loader's,
//   the shell's, locale settings) are noise and max_share leaves them out (once the
//   database holds min_corpus analyses). Safelisted keys and keys a clean baseline
//   analysis touched are left out always.
MATCH (x:Analysis)
WITH count(x) AS total
// Only keys referred to at least min_analyses times (a degree, cheap) can
// be shared by that many analyses: the others, most of them, are dropped
// before their handles are read and grouped.
MATCH (k:RegistryKey)
WHERE k.safelisted IS NULL AND COUNT { (k)<-[:REFERS_TO]-() } >= $min_analyses
MATCH (h:KeyHandle)-[:REFERS_TO]->(k)
MATCH (a:Analysis {id: h.analysis})
// Grouped and sorted as scalars (ids, names), not as nodes: ArcadeDB counts
// every buffered node against its query heap budget.
WITH total, k, collect(DISTINCT a.id) AS hits, count(CASE WHEN a.baseline THEN 1 END) AS baselines
WHERE size(hits) >= $min_analyses AND (total < $min_corpus OR toFloat(size(hits)) <= $max_share * total)
  AND baselines = 0
WITH k.path AS key, hits
UNWIND hits AS id
// (hits dropped: ArcadeDB would keep it in every row it sorts below)
WITH key, id
MATCH (a:Analysis {id: id})
OPTIONAL MATCH (a)-[:OF_SAMPLE]->(s:Sample)
WITH key, id, coalesce(s.name, a.report) AS sample
ORDER BY sample
WITH key, count(DISTINCT id) AS analyses, collect(DISTINCT sample) AS samples
RETURN key, analyses, samples
ORDER BY analyses DESC, key
