// name: loaded-dlls
// title: DLLs each analysis loaded, looked up or resolved functions from
// category: loader
// attack: T1129
// param: analysis = "" | Analysis id (sha256 of the report file) or report file name; "" for every analysis
// returns: report, analysis, dll, modules, loaded_by, functions
// description: The set of DLLs a sample touched through the loader (LdrLoadDll,
//   LdrGetDllHandle, LdrUnloadDll, LdrGetProcedureAddress), one row per DLL, with the
//   module strings as the sandbox gave them (KERNEL32, kernel32.dll or a full path all
//   become the :Dll kernel32.dll), the loader APIs used and how many functions were
//   resolved from it. The DLL set is a sample's capability profile: crypt32 and vaultcli
//   for credential theft, wininet/winhttp/ws2_32 for network, dbghelp for dumping
//   memory; a DLL loaded from a user-writable path is a side-loading candidate.
MATCH (a:Analysis)
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
MATCH (m:Module {analysis: a.id})-[:REFERS_TO]->(d:Dll)
OPTIONAL MATCH (l:Api)-[:API_MODULE]->(m)
OPTIONAL MATCH (m)-[:MODULE_API]->(f:Api)
WITH a, d, m, l, f
ORDER BY m.name, l.api
WITH a, d, collect(DISTINCT m.name) AS modules, collect(DISTINCT l.api) AS loaded_by,
     count(DISTINCT f) AS functions
RETURN a.report AS report, a.id AS analysis, d.name AS dll, modules, loaded_by, functions
ORDER BY report, analysis, dll
