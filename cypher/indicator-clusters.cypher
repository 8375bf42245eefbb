// name: indicator-clusters
// title: Campaigns and the shared indicators that link their members
// category: cross-sample
// param: min_analyses = 2 | Report campaigns of at least this many analyses
// param: max_indicators = 25 | List at most this many shared indicators per campaign, those most members hold first
// returns: campaign, analyses, samples, reports, indicators
// description: The clusters `graphmalw correlate` found (its :Campaign nodes), each with
//   the indicators (file paths, registry keys, mutexes, domains, IP addresses, dropped
//   file hashes) that two or more of its members share, and how many members hold each:
//   `mutex:Global\abc (5)`. Safelisted indicators are left out, and so are those a
//   clean baseline analysis holds (`graphmalw baseline mark`): the guest's background.
//   Two samples that take the same mutex, write the same path, set the same autostart
//   value and talk to the same host are one family or one operator even when their
//   hashes and code differ; a cluster is the unit to name, report and hunt for.
//   correlate links two analyses when they share several indicators that few analyses
//   hold and that make up a good part of what each of the two holds, so chance shares
//   do not chain unrelated samples (docs/correlation.md). The clusters are computed by
//   graphmalw in bounded memory; this query only reads them and looks within each one,
//   so it stays fast on large corpora. Run `graphmalw correlate` after ingesting (or
//   `graphmalw ingest --correlate`); no rows means it has not run, or found nothing.
OPTIONAL MATCH (b:Analysis {baseline: true})
WITH collect(b) AS baselines
MATCH (c:Campaign)<-[r]-(a:Analysis)
WHERE type(r) = 'IN_CAMPAIGN'
OPTIONAL MATCH (a)-[:OF_SAMPLE]->(s:Sample)
WITH baselines, c, a, coalesce(s.name, a.report) AS sample
ORDER BY sample, a.report
WITH baselines, c, collect(a) AS members, collect(sample) AS samples, collect(a.report) AS reports
WHERE size(members) >= $min_analyses
CALL (members, baselines) {
  // The baseline analyses' indicators too, to leave out what they hold.
  UNWIND members + baselines AS a
  CALL (a) {
    MATCH (h:FileHandle {analysis: a.id})-[:REFERS_TO]->(f:File)
    WHERE f.safelisted IS NULL
    RETURN DISTINCT 'file:' + f.path AS indicator
    UNION
    MATCH (h:KeyHandle {analysis: a.id})-[:REFERS_TO]->(k:RegistryKey)
    WHERE k.safelisted IS NULL
    RETURN DISTINCT 'registry:' + k.path AS indicator
    UNION
    MATCH (a)-[:CREATED_MUTEX]->(m:Mutex)
    WHERE m.safelisted IS NULL
    RETURN 'mutex:' + m.name AS indicator
    UNION
    MATCH (a)-[:CONTACTED]->(d:Domain)
    WHERE d.safelisted IS NULL
    RETURN 'domain:' + d.name AS indicator
    UNION
    MATCH (a)-[:CONTACTED]->(i:IpAddress)
    WHERE i.safelisted IS NULL
    RETURN 'ip:' + i.address AS indicator
    UNION
    MATCH (a)-[:DROPPED]->(d:Sample)
    WHERE d.safelisted IS NULL
    RETURN 'dropped:' + d.sha256 AS indicator
  }
  WITH indicator,
       count(DISTINCT CASE WHEN a.baseline = true THEN null ELSE a END) AS holders,
       count(CASE WHEN a.baseline = true THEN 1 END) AS background
  WHERE holders >= 2 AND background = 0
  ORDER BY holders DESC, indicator
  RETURN collect(indicator + ' (' + toString(holders) + ')')[0..$max_indicators] AS indicators
}
RETURN c.id AS campaign, size(members) AS analyses, samples, reports, indicators
ORDER BY analyses DESC, campaign
