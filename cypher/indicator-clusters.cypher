// name: indicator-clusters
// title: Clusters of samples linked by at least k shared indicators
// category: cross-sample
// param: min_shared = 3 | Link two analyses when they share at least this many indicators
// param: max_share = 0.75 | Ignore indicators seen in more than this share of all analyses (system noise)
// param: min_corpus = 10 | Apply max_share only when the database holds at least this many analyses; in a smaller one nothing counts as noise
// returns: cluster, analyses, samples, reports, links
// description: Groups of analyses in which every member shares at least min_shared
//   indicators (file paths, registry keys, mutexes, domains, IP addresses, dropped file
//   hashes) with another member, after dropping indicators that most analyses share
//   (once the database holds min_corpus analyses), safelisted indicators and those a
//   clean baseline analysis holds.
//   Two samples that take the same mutex, write the same path, set the same autostart
//   value and talk to the same host are one family or one operator even when their
//   hashes and code differ; a cluster is the unit to name, report and hunt for. links
//   lists each linked pair with the number of indicators it shares. Clusters are
//   connected components of the "shares at least k" relation, computed in plain Cypher.
MATCH (x:Analysis)
WITH count(x) AS total, collect(CASE WHEN x.baseline THEN x.id END) AS baseline
CALL () {
  MATCH (h:FileHandle)-[:REFERS_TO]->(f:File)
  WHERE f.safelisted IS NULL
  RETURN DISTINCT h.analysis AS an, 'file:' + f.path AS indicator
  UNION
  MATCH (h:KeyHandle)-[:REFERS_TO]->(k:RegistryKey)
  WHERE k.safelisted IS NULL
  RETURN DISTINCT h.analysis AS an, 'registry:' + k.path AS indicator
  UNION
  MATCH (a:Analysis)-[:CREATED_MUTEX]->(m:Mutex)
  WHERE m.safelisted IS NULL
  RETURN a.id AS an, 'mutex:' + m.name AS indicator
  UNION
  MATCH (a:Analysis)-[:CONTACTED]->(d:Domain)
  WHERE d.safelisted IS NULL
  RETURN a.id AS an, 'domain:' + d.name AS indicator
  UNION
  MATCH (a:Analysis)-[:CONTACTED]->(i:IpAddress)
  WHERE i.safelisted IS NULL
  RETURN a.id AS an, 'ip:' + i.address AS indicator
  UNION
  MATCH (a:Analysis)-[:DROPPED]->(s:Sample)
  WHERE s.safelisted IS NULL
  RETURN a.id AS an, 'dropped:' + s.sha256 AS indicator
}
WITH total, baseline, indicator, collect(DISTINCT an) AS ans
WHERE size(ans) >= 2 AND (total < $min_corpus OR toFloat(size(ans)) <= $max_share * total)
  AND none(an IN ans WHERE an IN baseline)
UNWIND ans AS i
UNWIND ans AS j
WITH i, j, indicator
WHERE i < j
WITH i, j, count(DISTINCT indicator) AS shared
WHERE shared >= $min_shared
WITH i, j, shared
ORDER BY shared DESC, i, j
WITH collect([i, j, shared]) AS edges
WITH edges,
     reduce(cs = [], e IN edges |
       [c IN cs WHERE NOT (e[0] IN c OR e[1] IN c)] +
       [reduce(m = [e[0], e[1]], c IN [c IN cs WHERE e[0] IN c OR e[1] IN c] | m + [x IN c WHERE NOT x IN m])]
     ) AS clusters
UNWIND clusters AS members
UNWIND members AS member
MATCH (a:Analysis {id: member})
OPTIONAL MATCH (a)-[:OF_SAMPLE]->(s:Sample)
WITH edges, members, a, coalesce(s.name, a.report) AS sample
ORDER BY sample, a.report
WITH edges, members, collect(sample) AS samples, collect(a.report) AS reports,
     collect({id: a.id, label: coalesce(sample, '') + ' (' + a.report + ')'}) AS labels
WITH samples, reports, size(members) AS n,
     [e IN edges WHERE e[0] IN members
        | head([l IN labels WHERE l.id = e[0] | l.label]) + ' ~ ' + head([l IN labels WHERE l.id = e[1] | l.label])
          + ': ' + toString(e[2])] AS links
ORDER BY n DESC, samples
WITH collect({samples: samples, reports: reports, n: n, links: links}) AS found
UNWIND range(1, size(found)) AS cluster
RETURN cluster, found[cluster - 1].n AS analyses, found[cluster - 1].samples AS samples,
       found[cluster - 1].reports AS reports, found[cluster - 1].links AS links
ORDER BY cluster
