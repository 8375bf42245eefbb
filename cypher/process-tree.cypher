// name: process-tree
// title: Process tree of each analysis
// category: process
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it) or report file name; "" for every analysis
// param: creation_apis = ["CreateProcessInternalW", "CreateProcessA", "CreateProcessW", "CreateProcessAsUserA", "CreateProcessAsUserW", "CreateProcessWithLogonW", "CreateProcessWithTokenW", "NtCreateUserProcess", "NtCreateProcess", "NtCreateProcessEx", "RtlCreateUserProcess"] | APIs whose api-nproc edge means "created that process"
// returns: report, analysis, depth, pid, ppid, name, path, lineage, created_by
// description: Every process the sandbox watched, plus every process one of them created,
//   in tree order, with its depth below its first known ancestor and its lineage
//   ("name (pid) > name (pid)"). A document reader or invoice that spawns a copy of itself
//   from %APPDATA%, a LOLBin (RegAsm.exe, wscript.exe) or a shell is the first thing to
//   read in a report. created_by names the creation API and the creating pid. The graph
//   has one api node per analysis, so when several processes called the same creation
//   API each of them is a candidate creator; the parent is the reported ppid, else the
//   creator when there is exactly one. A created process the sandbox did not follow gets
//   its path and name from the creation call's image (its image argument, else the
//   program its command line starts).
//
// Processes that were only opened or enumerated (api-nproc from NtOpenProcess,
// Process32NextW, ...) are not part of the tree.
MATCH (a:Analysis)
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
MATCH (a)-[:HAS_PROCESS]->(p:Process)
OPTIONAL MATCH (c:Process)-[:PROC_API]->(api:Api)-[r:API_NPROC]->(p)
WHERE api.api IN $creation_apis AND c <> p AND c.analysis = a.id
WITH a, p, c, api, r
ORDER BY c.pid, api.api
WITH a, p, collect(DISTINCT c.pid) AS creators,
     collect(DISTINCT {api: api.api, pid: c.pid}) AS calls, head(collect(r.image)) AS image
WHERE p.ppid IS NOT NULL OR size(creators) > 0
WITH a, p, creators, [x IN calls WHERE x.pid IS NOT NULL] AS calls, image
WITH a, collect({
       pid: p.pid, ppid: p.ppid,
       path: coalesce(CASE WHEN p.path <> '' THEN p.path END, image),
       name: coalesce(p.name, last(split(image, '\\')), '?'),
       parent: CASE WHEN p.ppid IS NOT NULL THEN p.ppid WHEN size(creators) = 1 THEN creators[0] END,
       created_by: [x IN calls WHERE p.ppid IS NULL OR NOT p.ppid IN creators OR x.pid = p.ppid
                    | x.api + ' by ' + toString(x.pid)]
     }) AS procs
UNWIND procs AS proc
WITH a, proc,
     reduce(chain = [proc], i IN range(1, 32) |
       chain + [x IN procs WHERE x.pid = chain[size(chain) - 1].parent AND NOT x IN chain][0..1]) AS up
RETURN a.report AS report, a.id AS analysis, size(up) - 1 AS depth, proc.pid AS pid, proc.ppid AS ppid,
       proc.name AS name, proc.path AS path,
       reduce(s = '', x IN up | x.name + ' (' + toString(x.pid) + ')' + CASE WHEN s = '' THEN '' ELSE ' > ' + s END) AS lineage,
       proc.created_by AS created_by
ORDER BY report, analysis, lineage
