// name: ordinal-imports
// title: Functions resolved by ordinal instead of by name
// category: loader
// attack: T1027.007
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it) or report file name; "" for every analysis
// returns: report, analysis, pid, process, module, ordinal, calls
// description: LdrGetProcedureAddress calls that named no function, only an export
//   ordinal (shown as module!#ordinal). Resolving by number hides which function is
//   wanted from string scans and from a reader of the trace; some runtimes do it for
//   a few well-known exports (ws2_32 #115 is WSAStartup, oleaut32 #6 SysFreeString),
//   so look up the ordinal in the DLL's export table before judging. A sample that
//   resolves many ordinals from uncommon DLLs is hiding its API use.
MATCH (a:Analysis)
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
MATCH (p:Process {analysis: a.id})-[c:PROC_API]->(api:Api {api: 'LdrGetProcedureAddress'})
WHERE api.name CONTAINS '!#'
WITH a, p, c, split(substring(api.name, 23, size(api.name) - 24), '!#') AS parts
RETURN a.report AS report, a.id AS analysis, p.pid AS pid, p.name AS process, parts[0] AS module,
       toInteger(parts[1]) AS ordinal, sum(c.count) AS calls
ORDER BY report, analysis, pid, module, ordinal
