// name: nearest-neighbours
// title: The k analyses whose API sets are most similar to a given one
// category: cross-sample
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it), report file name or sample sha256; "" for every analysis
// param: k = 3 | How many neighbours to list per analysis
// param: min_apis = 5 | Ignore analyses with fewer distinct APIs than this
// param: max_band = 20 | For every analysis (""), skip an API band held by more analyses than this (bounds the work)
// returns: report, sample, rank, neighbour_report, neighbour_sample, jaccard, shared
// description: For one analysis (or each), the k other analyses with the highest Jaccard
//   index of API sets (see api-similarity for how APIs are compared), nearest first.
//   This is the "what does this new sample look like" question: a close neighbour that
//   is already named gives a first family guess and a starting point for comparing
//   reports; when even the nearest neighbour is far, the sample is new to this corpus.
//   Candidates are the analyses that share an API band with it (MinHash LSH, see
//   api-similarity and docs/correlation.md), compared by exact Jaccard: a neighbour
//   at J >= 0.5 is all but surely found, one at J = 0.3 83 % of the time, and
//   analyses with little in common (J below about 0.2) are rarely candidates, so
//   they are seldom listed: fewer than k rows means no other analysis is close.
OPTIONAL MATCH (t:Analysis)
WHERE t.id = $analysis OR t.report = $analysis OR EXISTS { (t)-[:OF_SAMPLE]->(:Sample {sha256: $analysis}) }
WITH collect(t.id) AS targets
MATCH (a:Analysis)
WHERE a.api_count >= $min_apis AND ($analysis = '' OR a.id IN targets)
// Per analysis: the holders of its bands (crowded bands skipped for every
// analysis), exact Jaccard for them only, the k best kept; the work and the
// memory of one analysis are bounded by 64 bands × max_band holders.
CALL (a) {
  MATCH (a)-[:IN_API_BAND]->(band:ApiBand)
  WHERE $analysis <> '' OR COUNT { (band)<-[:IN_API_BAND]-() } <= $max_band
  MATCH (band)<-[:IN_API_BAND]-(b:Analysis)
  WHERE b.id <> a.id AND b.api_count >= $min_apis
  WITH DISTINCT a, b
  WITH a, b, a.api_hashes AS ha, b.api_hashes AS hb
  WITH a, b, size([h IN ha WHERE h IN hb]) AS shared
  WITH b, shared, toFloat(shared) / (a.api_count + b.api_count - shared) AS jaccard
  ORDER BY jaccard DESC, b.report
  LIMIT $k
  RETURN collect({id: b.id, report: b.report, jaccard: jaccard, shared: shared}) AS near
}
UNWIND range(1, size(near)) AS rank
WITH a, rank, near[rank - 1] AS n
MATCH (b:Analysis {id: n.id})
OPTIONAL MATCH (a)-[:OF_SAMPLE]->(sa:Sample)
OPTIONAL MATCH (b)-[:OF_SAMPLE]->(sb:Sample)
RETURN a.report AS report, sa.name AS sample, rank, b.report AS neighbour_report,
       sb.name AS neighbour_sample, round(n.jaccard * 1000) / 1000.0 AS jaccard, n.shared AS shared
ORDER BY report, rank
