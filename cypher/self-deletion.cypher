// name: self-deletion
// title: A sample deleting its own image (or its dropper's)
// category: evasion
// attack: T1070.004
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it) or report file name; "" for every analysis
// returns: report, analysis, pid, process, path, image_of_pid, image_of, api
// description: A process marked for deletion (NtSetInformationFile with
//   FileDispositionInformation, class 13 or 64) or deleted a file that is the image of a
//   process in the same analysis: itself, or, as droppers do, the parent that started
//   it. Removing the first stage leaves only the installed copy on disk and defeats
//   triage that starts from the file the user ran; the deleted path is the original
//   sample's location. image_of names the process whose image went; a hit where pid and
//   image_of_pid differ is a child cleaning up after its parent.
// From the deleting calls (an index seek on :Api(api)) to their analysis, not
// from every file handle of every analysis: the work grows with the number of
// deletions, not with the handles in the database.
MATCH (api:Api)
WHERE api.api IN ['NtSetInformationFile', 'ZwSetInformationFile', 'SetFileInformationByHandle',
                  'NtDeleteFile', 'DeleteFileA', 'DeleteFileW']
MATCH (a:Analysis {id: api.analysis})
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
MATCH (api)-[r:API_FILE_HANDLE|FILE_HANDLE_API]-(h:FileHandle)-[:REFERS_TO]->(f:File)
WHERE api.api IN ['NtDeleteFile', 'DeleteFileA', 'DeleteFileW'] OR r.information_class IN [13, 64]
MATCH (a)-[:HAS_PROCESS]->(img:Process)
WHERE toLower(img.path) = f.path
OPTIONAL MATCH (p:Process {analysis: a.id, pid: h.pid})
RETURN DISTINCT a.report AS report, a.id AS analysis, h.pid AS pid, p.name AS process, h.path AS path,
       img.pid AS image_of_pid, img.name AS image_of, api.api AS api
ORDER BY report, analysis, pid, path
