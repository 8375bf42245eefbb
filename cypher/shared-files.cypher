// name: shared-files
// title: Samples that touched the same file path
// category: cross-sample
// attack: T1105
// param: min_analyses = 2 | Report paths touched by at least this many analyses
// param: max_share = 0.75 | Ignore paths touched by more than this share of all analyses (system noise)
// param: min_corpus = 10 | Apply max_share only when the database holds at least this many analyses; in a smaller one nothing counts as noise
// returns: path, analyses, samples
// description: File paths that several analysed samples opened, created or wrote.
//   A path shared by a few samples (a dropped payload name, a staging folder) links
//   them to one family or campaign; paths common to most analyses are system noise
//   and are left out by max_share (once the database holds min_corpus analyses).
//   Safelisted paths and paths a clean baseline analysis touched are left out always.
MATCH (x:Analysis)
WITH count(x) AS total
// Only files referred to at least min_analyses times (a degree, cheap) can
// be shared by that many analyses: the others, most of them, are dropped
// before their handles are read and grouped.
MATCH (f:File)
WHERE f.safelisted IS NULL AND COUNT { (f)<-[:REFERS_TO]-() } >= $min_analyses
MATCH (h:FileHandle)-[:REFERS_TO]->(f)
MATCH (a:Analysis {id: h.analysis})
// Grouped and sorted as scalars (ids, names), not as nodes: ArcadeDB counts
// every buffered node against its query heap budget.
WITH total, f, collect(DISTINCT a.id) AS hits, count(CASE WHEN a.baseline THEN 1 END) AS baselines
WHERE size(hits) >= $min_analyses AND (total < $min_corpus OR toFloat(size(hits)) <= $max_share * total)
  AND baselines = 0
WITH f.path AS path, hits
UNWIND hits AS id
// (hits dropped: ArcadeDB would keep it in every row it sorts below)
WITH path, id
MATCH (a:Analysis {id: id})
OPTIONAL MATCH (a)-[:OF_SAMPLE]->(s:Sample)
WITH path, id, coalesce(s.name, a.report) AS sample
ORDER BY sample
WITH path, count(DISTINCT id) AS analyses, collect(DISTINCT sample) AS samples
RETURN path, analyses, samples
ORDER BY analyses DESC, path
