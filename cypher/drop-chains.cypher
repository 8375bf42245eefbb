// name: drop-chains
// title: Drop chains across samples: A dropped B, and B was analysed too
// category: cross-sample
// attack: T1105
// param: analysis = "" | Only chains through this analysis (id or report file name); "" for all chains
// param: max_hops = 4 | Longest chain to follow, in drops
// returns: first_report, first_sample, last_report, last_sample, hops, chain, dropped, paths
// description: Chains of analyses in which each one dropped a file (by SHA-256) that is
//   the sample of the next analysis: (:Analysis)-[:DROPPED]->(:Sample)<-[:OF_SAMPLE]-
//   (:Analysis), repeated. A chain turns separate reports into one infection story
//   (downloader → loader → stealer), tells which first stage delivers a known payload
//   and which payload a new first stage leads to. A sample that drops a copy of
//   itself is not a chain. chain lists the samples in order, dropped the SHA-256 of
//   each dropped file and paths where it was written.
MATCH p = (head_an:Analysis)-[:DROPPED|OF_SAMPLE*2..12]-(tail_an:Analysis)
WHERE size(relationships(p)) % 2 = 0 AND size(relationships(p)) <= 2 * $max_hops
  AND all(i IN range(0, size(relationships(p)) - 1) WHERE
        CASE i % 2
          WHEN 0 THEN type(relationships(p)[i]) = 'DROPPED' AND startNode(relationships(p)[i]) = nodes(p)[i]
          ELSE type(relationships(p)[i]) = 'OF_SAMPLE' AND startNode(relationships(p)[i]) = nodes(p)[i + 1]
        END)
  AND all(x IN nodes(p) WHERE single(y IN nodes(p) WHERE y = x))
  AND ($analysis = '' OR any(x IN nodes(p) WHERE x:Analysis AND (x.id = $analysis OR x.report = $analysis)))
WITH p, head_an, tail_an, [i IN range(0, size(nodes(p)) - 1) WHERE i % 2 = 0 | nodes(p)[i]] AS analyses,
     [i IN range(0, size(relationships(p)) - 1) WHERE i % 2 = 0 | relationships(p)[i]] AS drops
UNWIND analyses AS an
OPTIONAL MATCH (an)-[:OF_SAMPLE]->(s:Sample)
WITH p, head_an, tail_an, drops, analyses, collect({id: an.id, label: coalesce(s.name, s.sha256, an.report)}) AS labels
RETURN head_an.report AS first_report, head([l IN labels WHERE l.id = head_an.id | l.label]) AS first_sample,
       tail_an.report AS last_report, head([l IN labels WHERE l.id = tail_an.id | l.label]) AS last_sample,
       size(drops) AS hops,
       [x IN analyses | head([l IN labels WHERE l.id = x.id | l.label])] AS chain,
       [d IN drops | endNode(d).sha256] AS dropped,
       [d IN drops | d.path] AS paths
ORDER BY hops DESC, first_report, last_report
