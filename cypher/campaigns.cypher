// name: campaigns
// title: Campaigns found by graphmalw correlate
// category: cross-sample
// param: min_analyses = 2 | Report campaigns of at least this many analyses
// returns: campaign, analyses, samples, reports, found_with
// description: The :Campaign nodes `graphmalw correlate` wrote: groups of analyses
//   linked, pair by pair, by several shared rare indicators (file paths, registry keys,
//   mutexes, domains, addresses, dropped files), each weighted by how few analyses hold
//   it; safelisted indicators and those of clean baseline analyses never link. This is
//   indicator-clusters computed by graphmalw in bounded memory, for corpora too large
//   for that query. found_with names the correlate settings. Run `graphmalw correlate`
//   after ingesting to bring the campaigns up to date; no rows means it has not run
//   (or found none).
MATCH (c:Campaign)<-[r]-(a:Analysis)
WHERE type(r) = 'IN_CAMPAIGN'
OPTIONAL MATCH (a)-[:OF_SAMPLE]->(s:Sample)
WITH c, a, coalesce(s.name, a.report) AS sample
ORDER BY sample, a.report
WITH c, count(a) AS analyses, collect(sample) AS samples, collect(a.report) AS reports
WHERE analyses >= $min_analyses
RETURN c.id AS campaign, analyses, samples, reports, c.params AS found_with
ORDER BY analyses DESC, campaign
