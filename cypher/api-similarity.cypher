// name: api-similarity
// title: Pairs of analyses with similar API sets (Jaccard)
// category: cross-sample
// param: min_jaccard = 0.3 | Report pairs whose Jaccard index is at least this (0 to 1)
// param: min_apis = 5 | Ignore analyses with fewer distinct APIs than this (too little behaviour to compare)
// param: max_band = 20 | Skip an API band held by more analyses than this (bounds the work; see the description)
// param: limit = 10000 | At most this many pairs, most similar first
// returns: report_a, sample_a, report_b, sample_b, jaccard, shared, apis_a, apis_b
// description: The Jaccard index |A ∩ B| / |A ∪ B| of the API sets of pairs of analyses,
//   most similar first. An API here is the api node's display name, lowercased;
//   loader APIs name their module by its identity (graph rule Q3), so a Cuckoo and a CAPE
//   analysis both give LdrGetProcedureAddress(kernel32.dll!Sleep). High
//   similarity between samples with different hashes points to one code base (repacked
//   builds, versions of one family); it complements the indicator queries, which link
//   samples by what they touched rather than by how they behave.
//   Scales with the corpus: ingest stores each analysis's API set as a MinHash
//   signature cut into 64 bands of 3 positions (`:ApiBand` nodes,
//   docs/correlation.md); only analyses that share a band are compared, and their
//   Jaccard index is then exact (counted over the sets' stored hashes). Pairs with
//   J >= 0.5 share a band all but surely (measured recall 1.000); one at J = 0.4
//   does 98.5 % of the time, one at J = 0.3 83 %, so some pairs near a low
//   `min_jaccard` are missing. A band held by more than `max_band` analyses is
//   skipped: its pairs alone would be quadratic; its members are still compared
//   through their other bands. At most `limit` pairs, the most similar.
MATCH (band:ApiBand)<-[:IN_API_BAND]-(x:Analysis)
WHERE x.api_count >= $min_apis
WITH band, collect(x) AS holders
WHERE size(holders) >= 2 AND size(holders) <= $max_band
UNWIND holders AS a
UNWIND holders AS b
WITH a, b
WHERE a.id < b.id
WITH DISTINCT a, b
// The lists bound once: read inside the comprehension, a property is read again per element.
WITH a, b, a.api_hashes AS ha, b.api_hashes AS hb
WITH a, b, size([h IN ha WHERE h IN hb]) AS shared
WITH a, b, shared, toFloat(shared) / (a.api_count + b.api_count - shared) AS jaccard
WHERE jaccard >= $min_jaccard
// Ordered on plain values: rows that carry nodes carry their lists too (ArcadeDB's heap).
WITH shared, round(jaccard * 1000) / 1000.0 AS jaccard, a.report < b.report AS ordered, a, b
WITH shared, jaccard,
     CASE WHEN ordered THEN a.id ELSE b.id END AS id_a, CASE WHEN ordered THEN b.id ELSE a.id END AS id_b,
     CASE WHEN ordered THEN a.report ELSE b.report END AS report_a,
     CASE WHEN ordered THEN b.report ELSE a.report END AS report_b
ORDER BY jaccard DESC, report_a, report_b
LIMIT $limit
MATCH (a:Analysis {id: id_a})
MATCH (b:Analysis {id: id_b})
OPTIONAL MATCH (a)-[:OF_SAMPLE]->(sa:Sample)
OPTIONAL MATCH (b)-[:OF_SAMPLE]->(sb:Sample)
RETURN report_a, sa.name AS sample_a, report_b, sb.name AS sample_b,
       jaccard, shared, a.api_count AS apis_a, b.api_count AS apis_b
ORDER BY jaccard DESC, report_a, report_b
