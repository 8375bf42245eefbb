// name: loaded-dlls
// title: DLLs each analysis loaded, looked up or resolved functions from
// category: loader
// attack: T1129
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it) or report file name; "" for every analysis
// returns: report, analysis, dll, loaded_by, functions
// description: The set of DLLs a sample touched through the loader (LdrLoadDll,
//   LdrGetDllHandle, LdrUnloadDll, LdrGetProcedureAddress), one row per DLL (KERNEL32,
//   kernel32.dll or a full path are all the module kernel32.dll, graph rule Q3), with the
//   loader APIs used and how many functions were resolved from it. The DLL set is a sample's capability profile: crypt32 and vaultcli
//   for credential theft, wininet/winhttp/ws2_32 for network, dbghelp for dumping
//   memory; a DLL loaded from a user-writable path is a side-loading candidate.
MATCH (a:Analysis)
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
MATCH (m:Module {analysis: a.id})
OPTIONAL MATCH (l:Api)-[:API_MODULE]->(m)
OPTIONAL MATCH (m)-[:MODULE_API]->(f:Api)
WITH a, m, l, f
ORDER BY l.api
WITH a, m, collect(DISTINCT l.api) AS loaded_by, count(DISTINCT f) AS functions
RETURN a.report AS report, a.id AS analysis, m.name AS dll, loaded_by, functions
ORDER BY report, analysis, dll
