// name: unique-behaviours
// title: Behaviours seen in only one analysis
// category: cross-sample
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it) or report file name; "" for every analysis
// param: kinds = ["api", "file", "registry", "dll", "mutex", "domain", "ip"] | Which kinds of behaviour to compare
// returns: report, analysis, kind, value
// description: APIs (compared as in api-similarity), file paths, registry keys, DLLs,
//   mutexes, domains and IP addresses that exactly one analysis in the database shows.
//   Against a corpus of known samples, what is unique to a new one is where to look
//   first: the one-off resolved function, the key nobody else writes, the host nobody
//   else calls. The answer depends on what is ingested: the larger and more varied the
//   corpus, the more meaningful "only here" becomes.
CALL () {
  MATCH (x:Api)
  RETURN DISTINCT x.analysis AS an, 'api' AS kind, toLower(x.name) AS value
  UNION
  MATCH (h:FileHandle)-[:REFERS_TO]->(f:File)
  RETURN DISTINCT h.analysis AS an, 'file' AS kind, f.path AS value
  UNION
  MATCH (h:KeyHandle)-[:REFERS_TO]->(k:RegistryKey)
  RETURN DISTINCT h.analysis AS an, 'registry' AS kind, k.path AS value
  UNION
  MATCH (m:Module)-[:REFERS_TO]->(d:Dll)
  RETURN DISTINCT m.analysis AS an, 'dll' AS kind, d.name AS value
  UNION
  MATCH (a:Analysis)-[:CREATED_MUTEX]->(m:Mutex)
  RETURN a.id AS an, 'mutex' AS kind, m.name AS value
  UNION
  MATCH (a:Analysis)-[:CONTACTED]->(d:Domain)
  RETURN a.id AS an, 'domain' AS kind, d.name AS value
  UNION
  MATCH (a:Analysis)-[:CONTACTED]->(i:IpAddress)
  RETURN a.id AS an, 'ip' AS kind, i.address AS value
}
WITH kind, value, collect(DISTINCT an) AS ans
WHERE size(ans) = 1 AND kind IN $kinds
MATCH (a:Analysis {id: ans[0]})
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
RETURN a.report AS report, a.id AS analysis, kind, value
ORDER BY report, analysis, kind, value
