// name: nearest-neighbours
// title: The k analyses whose API sets are most similar to a given one
// category: cross-sample
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it), report file name or sample sha256; "" for every analysis
// param: k = 3 | How many neighbours to list per analysis
// param: min_apis = 5 | Ignore analyses with fewer distinct APIs than this
// returns: report, sample, rank, neighbour_report, neighbour_sample, jaccard, shared
// description: For one analysis (or each), the k other analyses with the highest Jaccard
//   index of API sets (see api-similarity for how APIs are compared), nearest first.
//   This is the "what does this new sample look like" question: a close neighbour that
//   is already named gives a first family guess and a starting point for comparing
//   reports; when even the nearest neighbour is far, the sample is new to this corpus.
//   Analyses that share no API with the given one are never neighbours.
OPTIONAL MATCH (t:Analysis)
WHERE t.id = $analysis OR t.report = $analysis OR EXISTS { (t)-[:OF_SAMPLE]->(:Sample {sha256: $analysis}) }
WITH collect(t.id) AS targets
CALL () {
  MATCH (x:Api)
  RETURN DISTINCT x.analysis AS an, toLower(x.name) AS api
}
WITH targets, an, collect(api) AS apis
WHERE size(apis) >= $min_apis
WITH targets, an, apis, size(apis) AS n
UNWIND apis AS api
WITH targets, api, collect({an: an, n: n}) AS holders
UNWIND holders AS x
UNWIND holders AS y
WITH targets, x, y
WHERE x.an <> y.an AND ($analysis = '' OR x.an IN targets)
WITH x.an AS i, y.an AS j, x.n AS na, y.n AS nb, count(*) AS shared
MATCH (a:Analysis {id: i})
OPTIONAL MATCH (a)-[:OF_SAMPLE]->(sa:Sample)
WITH a, sa, j, na, nb, shared
MATCH (b:Analysis {id: j})
OPTIONAL MATCH (b)-[:OF_SAMPLE]->(sb:Sample)
WITH a, sa, b, sb, shared, toFloat(shared) / (na + nb - shared) AS jaccard
ORDER BY jaccard DESC, b.report
WITH a, sa, collect({report: b.report, sample: sb.name, jaccard: jaccard, shared: shared}) AS near
UNWIND range(1, CASE WHEN size(near) < $k THEN size(near) ELSE $k END) AS rank
RETURN a.report AS report, sa.name AS sample, rank, near[rank - 1].report AS neighbour_report,
       near[rank - 1].sample AS neighbour_sample, round(near[rank - 1].jaccard * 1000) / 1000.0 AS jaccard,
       near[rank - 1].shared AS shared
ORDER BY report, rank
