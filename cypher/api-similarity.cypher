// name: api-similarity
// title: Pairs of analyses with similar API sets (Jaccard)
// category: cross-sample
// param: min_jaccard = 0.3 | Report pairs whose Jaccard index is at least this (0 to 1)
// param: min_apis = 5 | Ignore analyses with fewer distinct APIs than this (too little behaviour to compare)
// returns: report_a, sample_a, report_b, sample_b, jaccard, shared, apis_a, apis_b
// description: The Jaccard index |A ∩ B| / |A ∪ B| of the API sets of every pair of
//   analyses, most similar first. An API here is the api node's display name, lowercased;
//   loader APIs name their module by its identity (graph rule Q3), so a Cuckoo and a CAPE
//   analysis both give LdrGetProcedureAddress(kernel32.dll!Sleep). High
//   similarity between samples with different hashes points to one code base (repacked
//   builds, versions of one family); it complements the indicator queries, which link
//   samples by what they touched rather than by how they behave.
CALL () {
  MATCH (x:Api)
  RETURN DISTINCT x.analysis AS an, toLower(x.name) AS api
}
WITH an, collect(api) AS apis
WHERE size(apis) >= $min_apis
WITH an, apis, size(apis) AS n
UNWIND apis AS api
WITH api, collect({an: an, n: n}) AS holders
UNWIND holders AS x
UNWIND holders AS y
WITH x, y
WHERE x.an < y.an
WITH x.an AS i, y.an AS j, x.n AS na, y.n AS nb, count(*) AS shared
WITH i, j, na, nb, shared, toFloat(shared) / (na + nb - shared) AS jaccard
WHERE jaccard >= $min_jaccard
MATCH (a:Analysis {id: i})
MATCH (b:Analysis {id: j})
OPTIONAL MATCH (a)-[:OF_SAMPLE]->(sa:Sample)
OPTIONAL MATCH (b)-[:OF_SAMPLE]->(sb:Sample)
WITH a, b, sa, sb, na, nb, shared, round(jaccard * 1000) / 1000.0 AS jaccard,
     a.report < b.report AS ordered
RETURN CASE WHEN ordered THEN a.report ELSE b.report END AS report_a,
       CASE WHEN ordered THEN sa.name ELSE sb.name END AS sample_a,
       CASE WHEN ordered THEN b.report ELSE a.report END AS report_b,
       CASE WHEN ordered THEN sb.name ELSE sa.name END AS sample_b,
       jaccard, shared,
       CASE WHEN ordered THEN na ELSE nb END AS apis_a,
       CASE WHEN ordered THEN nb ELSE na END AS apis_b
ORDER BY jaccard DESC, report_a, report_b
