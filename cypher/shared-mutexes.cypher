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
WITH total, m, collect(DISTINCT a) AS hits
WHERE size(hits) >= $min_analyses AND (total < $min_corpus OR toFloat(size(hits)) <= $max_share * total)
  AND none(h IN hits WHERE coalesce(h.baseline, false))
UNWIND hits AS a
OPTIONAL MATCH (a)-[:OF_SAMPLE]->(s:Sample)
WITH m, a, s
ORDER BY coalesce(s.name, a.report)
WITH m, count(DISTINCT a) AS analyses, collect(DISTINCT coalesce(s.name, a.report)) AS samples
RETURN m.name AS mutex, analyses, samples
ORDER BY analyses DESC, mutex
