// name: shared-network
// title: Samples that contacted the same domain or IP address
// category: cross-sample
// attack: T1071
// param: min_analyses = 2 | Report indicators contacted in at least this many analyses
// param: max_share = 0.75 | Ignore indicators contacted in more than this share of all analyses (the sandbox's resolver, OS telemetry)
// param: min_corpus = 10 | Apply max_share only when the database holds at least this many analyses; in a smaller one nothing counts as noise
// returns: kind, indicator, analyses, samples
// description: Domains and IP addresses that several analyses contacted. A C2 domain,
//   a panel address or a download host shared by samples ties them to one operator
//   even when their code differs; the sandbox's own DNS resolver and the OS's update
//   and certificate hosts show up in most analyses and max_share leaves them out (once
//   the database holds min_corpus analyses). Safelisted hosts (graphmalw's shipped
//   list and the correlate.safelist setting) and those a clean baseline analysis
//   contacted are left out always.
MATCH (x:Analysis)
WITH count(x) AS total
MATCH (a:Analysis)-[:CONTACTED]->(n)
WHERE (n:Domain OR n:IpAddress) AND n.safelisted IS NULL
// Grouped and sorted as scalars (ids, names), not as nodes: ArcadeDB counts
// every buffered node against its query heap budget.
WITH total, n, collect(DISTINCT a.id) AS hits, count(CASE WHEN a.baseline THEN 1 END) AS baselines
WHERE size(hits) >= $min_analyses AND (total < $min_corpus OR toFloat(size(hits)) <= $max_share * total)
  AND baselines = 0
WITH CASE WHEN n:Domain THEN 'domain' ELSE 'ip' END AS kind, coalesce(n.name, n.address) AS indicator, hits
UNWIND hits AS id
// (hits dropped: ArcadeDB would keep it in every row it sorts below)
WITH kind, indicator, id
MATCH (a:Analysis {id: id})
OPTIONAL MATCH (a)-[:OF_SAMPLE]->(s:Sample)
WITH kind, indicator, id, coalesce(s.name, a.report) AS sample
ORDER BY sample
WITH kind, indicator, count(DISTINCT id) AS analyses, collect(DISTINCT sample) AS samples
RETURN kind, indicator, analyses, samples
ORDER BY analyses DESC, kind, indicator
