// name: shared-mutexes
// title: Samples that created the same mutex
// category: cross-sample
// param: min_analyses = 2 | Report mutexes created in at least this many analyses
// param: max_share = 0.75 | Ignore mutexes created in more than this share of all analyses (system noise)
// param: min_corpus = 10 | Apply max_share only when the database holds at least this many analyses; in a smaller one nothing counts as noise
// returns: mutex, analyses, samples
// description: Mutex names that several analyses created. Malware takes a fixed,
//   often hard-coded mutex so that only one copy runs; the same name in two samples
//   is one of the strongest links between them (same family, same builder or the same
//   campaign's configuration). Names that Windows components create in most analyses
//   (MSCTF, ZonesCache) are noise and max_share leaves them out (once the database
//   holds min_corpus analyses). Safelisted names and names a clean baseline analysis
//   created are left out always.
MATCH (x:Analysis)
WITH count(x) AS total
MATCH (a:Analysis)-[:CREATED_MUTEX]->(m:Mutex)
WHERE m.safelisted IS NULL
// Grouped and sorted as scalars (ids, names), not as nodes: ArcadeDB counts
// every buffered node against its query heap budget.
WITH total, m, collect(DISTINCT a.id) AS hits, count(CASE WHEN a.baseline THEN 1 END) AS baselines
WHERE size(hits) >= $min_analyses AND (total < $min_corpus OR toFloat(size(hits)) <= $max_share * total)
  AND baselines = 0
WITH m.name AS mutex, hits
UNWIND hits AS id
// (hits dropped: ArcadeDB would keep it in every row it sorts below)
WITH mutex, id
MATCH (a:Analysis {id: id})
OPTIONAL MATCH (a)-[:OF_SAMPLE]->(s:Sample)
WITH mutex, id, coalesce(s.name, a.report) AS sample
ORDER BY sample
WITH mutex, count(DISTINCT id) AS analyses, collect(DISTINCT sample) AS samples
RETURN mutex, analyses, samples
ORDER BY analyses DESC, mutex
