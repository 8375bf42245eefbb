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
WITH total, n, collect(DISTINCT a) AS hits
WHERE size(hits) >= $min_analyses AND (total < $min_corpus OR toFloat(size(hits)) <= $max_share * total)
  AND none(h IN hits WHERE coalesce(h.baseline, false))
UNWIND hits AS a
OPTIONAL MATCH (a)-[:OF_SAMPLE]->(s:Sample)
WITH n, a, s
ORDER BY coalesce(s.name, a.report)
WITH n, count(DISTINCT a) AS analyses, collect(DISTINCT coalesce(s.name, a.report)) AS samples
RETURN CASE WHEN n:Domain THEN 'domain' ELSE 'ip' END AS kind, coalesce(n.name, n.address) AS indicator,
       analyses, samples
ORDER BY analyses DESC, kind, indicator
