// name: triage-overview
// title: One line per analysis: size, top APIs, top DLLs, signatures, indicators
// category: triage
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it) or report file name; "" for every analysis
// param: top = 5 | How many APIs and DLLs to list per analysis
// returns: report, analysis, format, sample, score, processes, nodes, edges, top_apis, top_dlls, signatures, max_severity, mutexes, hosts, dropped
// description: The first look at what is in the database: for each analysis its report
//   file, sandbox format, sample name, sandbox score, how many processes made calls, graph nodes
//   and edges it gave, the APIs called most often (by proc-api call count) and the DLLs
//   most functions were resolved from, how many signatures matched and the highest
//   severity among them, and its mutex, contacted host and dropped file counts. Sort
//   your reading by score and severity; an analysis with a high score and an empty graph
//   is one the sandbox could not watch (a crash, an evasive sample, a missing
//   "behavior" section).
MATCH (a:Analysis)
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
OPTIONAL MATCH (a)-[:OF_SAMPLE]->(s:Sample)
OPTIONAL MATCH (a)-[:HAS_PROCESS]->(p:Process)
WHERE EXISTS { (p)-[:PROC_API]->(:Api) }
WITH a, s, count(p) AS processes
OPTIONAL MATCH (:Process {analysis: a.id})-[c:PROC_API]->(api:Api)
WITH a, s, processes, api, sum(c.count) AS calls
ORDER BY calls DESC, api.name
WITH a, s, processes, collect(api.name)[0..$top] AS top_apis
OPTIONAL MATCH (m:Module {analysis: a.id})-[:REFERS_TO]->(d:Dll)
OPTIONAL MATCH (m)-[:MODULE_API]->(f:Api)
WITH a, s, processes, top_apis, d, count(DISTINCT f) AS functions
ORDER BY functions DESC, d.name
WITH a, s, processes, top_apis, collect(d.name)[0..$top] AS top_dlls
OPTIONAL MATCH (a)-[mt:MATCHED]->(sig:Signature)
WITH a, s, processes, top_apis, top_dlls, count(sig) AS signatures, max(mt.severity) AS max_severity
OPTIONAL MATCH (a)-[:CREATED_MUTEX]->(mx:Mutex)
WITH a, s, processes, top_apis, top_dlls, signatures, max_severity, count(mx) AS mutexes
OPTIONAL MATCH (a)-[:CONTACTED]->(host)
WITH a, s, processes, top_apis, top_dlls, signatures, max_severity, mutexes, count(host) AS hosts
OPTIONAL MATCH (a)-[dr:DROPPED]->(:Sample)
RETURN a.report AS report, a.id AS analysis, a.format AS format, s.name AS sample, a.score AS score,
       processes, a.nodes AS nodes, a.edges AS edges, top_apis, top_dlls, signatures, max_severity,
       mutexes, hosts, count(dr) AS dropped
ORDER BY report, analysis
