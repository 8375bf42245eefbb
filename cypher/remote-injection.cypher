// name: remote-injection
// title: Memory writes, threads, APCs and section maps aimed at another process
// category: injection
// attack: T1055
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it) or report file name; "" for every analysis
// param: apis = ["NtWriteVirtualMemory", "WriteProcessMemory", "NtWow64WriteVirtualMemory64", "NtMapViewOfSection", "NtUnmapViewOfSection", "NtCreateThreadEx", "NtCreateThread", "CreateRemoteThread", "CreateRemoteThreadEx", "RtlCreateUserThread", "NtQueueApcThread", "NtQueueApcThreadEx", "QueueUserAPC", "NtSetContextThread", "SetThreadContext", "NtAllocateVirtualMemory", "VirtualAllocEx", "NtProtectVirtualMemory", "VirtualProtectEx"] | Raw API names that act on another process's memory or threads
// returns: report, analysis, source_pid, source, target_pid, target, apis, calls
// description: A process that writes into, maps a section into, allocates or protects
//   memory in, or starts a thread or queues an APC in another process (an api-nproc edge
//   from one of the listed APIs). Outside debuggers and a few system services this is code
//   injection: the target (often a signed host such as explorer.exe, svchost.exe or
//   RegAsm.exe) runs the payload under its own name. apis lists what was done to the
//   target, calls how many calls did it. The source is every process of the analysis that
//   called one of those APIs (the graph keeps one api node per analysis).
MATCH (a:Analysis)
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
MATCH (a)-[:HAS_PROCESS]->(src:Process)-[:PROC_API]->(api:Api)-[r:API_NPROC]->(tgt:Process)
WHERE api.api IN $apis AND src <> tgt
WITH a, src, tgt, api, r
ORDER BY api.api
WITH a, src, tgt, collect(DISTINCT api.api) AS apis, sum(r.count) AS calls
RETURN a.report AS report, a.id AS analysis, src.pid AS source_pid, src.name AS source,
       tgt.pid AS target_pid, tgt.name AS target, apis, calls
ORDER BY report, analysis, source_pid, target_pid
