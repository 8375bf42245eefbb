// name: process-hollowing
// title: Process hollowing: create a process, unmap its image, write a new one
// category: injection
// attack: T1055.012
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it) or report file name; "" for every analysis
// returns: report, analysis, parent_pid, parent, target_pid, target, target_path, steps, suspended
// description: A process that created another process and then unmapped that process's
//   image (NtUnmapViewOfSection) and wrote into it (NtWriteVirtualMemory,
//   WriteProcessMemory) or mapped a section into it. This is the RunPE / hollowing
//   sequence: the new process keeps its name and path (often a signed .NET or system
//   binary) while running the attacker's image. steps lists, in the usual order, which
//   steps the graph shows (create, unmap, allocate, write, map, set-context, resume; the
//   last two only when the "threading" category is ingested); suspended says whether
//   the creation call asked for CREATE_SUSPENDED (0x4 in its creation_flags; null when
//   the flags were not logged).
MATCH (a:Analysis)
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
MATCH (a)-[:HAS_PROCESS]->(src:Process)-[:PROC_API]->(api:Api)-[r:API_NPROC]->(tgt:Process)
WHERE src <> tgt
WITH a, src, tgt, api, r,
     CASE
       WHEN api.api IN ['CreateProcessInternalW', 'CreateProcessA', 'CreateProcessW', 'CreateProcessAsUserA',
                        'CreateProcessAsUserW', 'NtCreateUserProcess', 'NtCreateProcess', 'NtCreateProcessEx',
                        'RtlCreateUserProcess'] THEN 'create'
       WHEN api.api IN ['NtUnmapViewOfSection', 'ZwUnmapViewOfSection'] THEN 'unmap'
       WHEN api.api IN ['NtAllocateVirtualMemory', 'VirtualAllocEx'] THEN 'allocate'
       WHEN api.api IN ['NtWriteVirtualMemory', 'WriteProcessMemory', 'NtWow64WriteVirtualMemory64'] THEN 'write'
       WHEN api.api IN ['NtMapViewOfSection', 'ZwMapViewOfSection'] THEN 'map'
       WHEN api.api IN ['NtSetContextThread', 'SetThreadContext'] THEN 'set-context'
       WHEN api.api IN ['NtResumeThread', 'ResumeThread'] THEN 'resume'
     END AS step
WHERE step IS NOT NULL
WITH a, src, tgt, collect(DISTINCT step) AS present,
     head(collect(CASE WHEN step = 'create' THEN r.creation_flags END)) AS flags
WHERE 'create' IN present AND 'unmap' IN present AND ('write' IN present OR 'map' IN present)
RETURN a.report AS report, a.id AS analysis, src.pid AS parent_pid, src.name AS parent,
       tgt.pid AS target_pid, tgt.name AS target, tgt.path AS target_path,
       [s IN ['create', 'unmap', 'allocate', 'write', 'map', 'set-context', 'resume'] WHERE s IN present] AS steps,
       (flags / 4) % 2 = 1 AS suspended
ORDER BY report, analysis, parent_pid, target_pid
