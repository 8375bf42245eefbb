// name: files-written-then-executed
// title: Files a process wrote and a process then ran
// category: process
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it) or report file name; "" for every analysis
// param: write_apis = ["NtWriteFile", "WriteFile", "WriteFileEx", "NtWriteFileGather"] | Raw API names that write file content
// param: creation_apis = ["CreateProcessInternalW", "CreateProcessA", "CreateProcessW", "CreateProcessAsUserA", "CreateProcessAsUserW", "CreateProcessWithLogonW", "CreateProcessWithTokenW", "NtCreateUserProcess", "NtCreateProcess", "NtCreateProcessEx", "RtlCreateUserProcess", "ShellExecuteExW", "WinExec"] | Raw API names that start a process
// returns: report, analysis, writer_pid, writer, path, pid, process, how
// description: A file written during the analysis that was then started as a process:
//   the image path of a watched process, or the image or command line of a
//   process-creation call. This is the dropper pattern: the first stage writes the
//   payload (often under %APPDATA% or %TEMP% with a system-looking name) and runs it,
//   so the written path is the next thing to hash, hunt for and block. how says how the
//   run shows in the graph: "image" (a watched process has that path) or the creation
//   API whose arguments name it; pid is the started process (named after the file when
//   the sandbox did not follow it).
// From the writing calls (an index seek on :Api(api)) to their analysis, not
// from every file handle of every analysis.
MATCH (w:Api)
WHERE w.api IN $write_apis
MATCH (a:Analysis {id: w.analysis})
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
MATCH (w)-[:API_FILE_HANDLE]->(h:FileHandle)-[:REFERS_TO]->(f:File)
WITH DISTINCT a, h.pid AS writer_pid, h.path AS written, f
CALL (a, f) {
  MATCH (a)-[:HAS_PROCESS]->(p:Process)
  WHERE toLower(p.path) = f.path
  RETURN p.pid AS pid, 'image' AS how
  UNION
  MATCH (c:Api {analysis: a.id})-[r:API_NPROC]->(p:Process)
  WHERE c.api IN $creation_apis AND (toLower(r.image) = f.path OR toLower(r.command_line) CONTAINS f.path)
  RETURN p.pid AS pid, c.api AS how
}
OPTIONAL MATCH (wp:Process {analysis: a.id, pid: writer_pid})
OPTIONAL MATCH (rp:Process {analysis: a.id, pid: pid})
WITH a, writer_pid, wp.name AS writer, written, pid,
     coalesce(rp.name, last(split(written, '\\'))) AS process, how
ORDER BY how
RETURN a.report AS report, a.id AS analysis, writer_pid, writer, written AS path, pid, process,
       collect(how) AS how
ORDER BY report, analysis, writer_pid, path, pid
