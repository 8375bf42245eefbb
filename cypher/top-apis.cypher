// name: top-apis
// title: The most called APIs, over all analyses or in one
// category: triage
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it) or report file name; "" for every analysis
// param: limit = 25 | How many APIs to list
// returns: api, category, calls, processes, analyses
// description: APIs by the number of calls that reached the graph (the proc-api count),
//   with the number of processes and analyses that made them. Over the whole database it
//   shows what the corpus mostly does (file, registry, loader activity) and which
//   behaviour dominates; for one analysis it is the quickest summary of its trace. APIs
//   are the raw names: the loader calls of every module and function are counted
//   together as LdrLoadDll, LdrGetProcedureAddress and so on.
MATCH (a:Analysis)
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
MATCH (p:Process {analysis: a.id})-[c:PROC_API]->(x:Api)
WITH x.api AS api, x.category AS category, sum(c.count) AS calls, count(DISTINCT p) AS processes,
     count(DISTINCT a) AS analyses
RETURN api, category, calls, processes, analyses
ORDER BY calls DESC, api, category
LIMIT $limit
