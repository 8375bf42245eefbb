// name: nearest-neighbours
// title: The k analyses whose API sets are most similar to a given one
// category: cross-sample
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it), report file name or sample sha256; "" for every analysis
// param: k = 3 | How many neighbours to list per analysis
// param: min_apis = 5 | Ignore analyses with fewer distinct APIs than this
// param: max_band = 100 | For every analysis (""), skip an API band held by more analyses than this (bounds the work)
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
MATCH (a)-[:IN_API_BAND]->(band:ApiBand)
WITH DISTINCT targets, band
MATCH (band)<-[:IN_API_BAND]-(x:Analysis)
WHERE x.api_count >= $min_apis
WITH targets, band, collect(x) AS holders
WHERE size(holders) >= 2 AND ($analysis <> '' OR size(holders) <= $max_band)
// For every analysis, each pair once (a.id < b.id); for given ones, each of them with every holder.
UNWIND [h IN holders WHERE $analysis = '' OR h.id IN targets] AS a
UNWIND holders AS b
WITH targets, a, b
WHERE a.id <> b.id AND ($analysis <> '' OR a.id < b.id)
WITH DISTINCT a, b
WITH a, b, a.api_hashes AS ha, b.api_hashes AS hb
WITH a, b, size([h IN ha WHERE h IN hb]) AS shared
WITH a, b, shared, toFloat(shared) / (a.api_count + b.api_count - shared) AS jaccard
UNWIND CASE WHEN $analysis = '' THEN [[a, b], [b, a]] ELSE [[a, b]] END AS ab
// The k best of each analysis kept by insertion (no ORDER BY over every pair: ArcadeDB's heap).
WITH ab[0].id AS id_a, {id: ab[1].id, report: ab[1].report, jaccard: jaccard, shared: shared} AS c
WITH id_a, collect(c) AS cands
WITH id_a, reduce(top = [], c IN cands |
       CASE WHEN size(top) >= $k AND (c.jaccard < top[-1].jaccard OR (c.jaccard = top[-1].jaccard AND c.report >= top[-1].report))
            THEN top
            ELSE ([t IN top WHERE t.jaccard > c.jaccard OR (t.jaccard = c.jaccard AND t.report < c.report)] + [c] +
                  [t IN top WHERE t.jaccard < c.jaccard OR (t.jaccard = c.jaccard AND t.report >= c.report)])[0..$k]
       END) AS near
UNWIND range(1, size(near)) AS rank
WITH id_a, rank, near[rank - 1] AS n
MATCH (a:Analysis {id: id_a})
MATCH (b:Analysis {id: n.id})
OPTIONAL MATCH (a)-[:OF_SAMPLE]->(sa:Sample)
OPTIONAL MATCH (b)-[:OF_SAMPLE]->(sb:Sample)
RETURN a.report AS report, sa.name AS sample, rank, b.report AS neighbour_report,
       sb.name AS neighbour_sample, round(n.jaccard * 1000) / 1000.0 AS jaccard, n.shared AS shared
ORDER BY report, rank
