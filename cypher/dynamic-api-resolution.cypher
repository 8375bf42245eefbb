// name: dynamic-api-resolution
// title: Sensitive functions resolved at run time (LdrGetProcedureAddress)
// category: loader
// attack: T1027.007
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it) or report file name; "" for every analysis
// param: functions = ["virtualalloc", "virtualallocex", "virtualprotect", "virtualprotectex", "writeprocessmemory", "readprocessmemory", "createremotethread", "createremotethreadex", "ntcreatethreadex", "rtlcreateuserthread", "queueuserapc", "ntqueueapcthread", "getthreadcontext", "setthreadcontext", "ntgetcontextthread", "ntsetcontextthread", "ntresumethread", "resumethread", "ntunmapviewofsection", "zwunmapviewofsection", "ntmapviewofsection", "ntcreatesection", "ntwritevirtualmemory", "ntallocatevirtualmemory", "ntprotectvirtualmemory", "openprocess", "ntopenprocess", "isdebuggerpresent", "checkremotedebuggerpresent", "ntqueryinformationprocess", "ntsetinformationthread", "outputdebugstring", "loadlibrary", "loadlibraryex", "getprocaddress", "ldrloaddll", "ldrgetprocedureaddress", "winexec", "shellexecute", "shellexecuteex", "createprocess", "urldownloadtofile", "internetopen", "internetopenurl", "internetconnect", "internetreadfile", "httpopenrequest", "httpsendrequest", "wsastartup", "regsetvalueex", "regcreatekeyex", "ntsetvaluekey", "cryptunprotectdata", "cryptencrypt", "cryptdecrypt", "adjusttokenprivileges", "setwindowshookex", "createtoolhelp32snapshot", "process32first", "process32next"] | Lowercased function names; an A or W suffix matches too
// returns: report, analysis, pid, process, module, function, calls
// description: Functions a process looked up by name at run time instead of importing
//   them. Malware resolves its injection, anti-debug, persistence, network and credential
//   APIs this way so that they are missing from the import table that static scanners
//   read; a hit on VirtualAllocEx + WriteProcessMemory + CreateRemoteThread, or on
//   NtUnmapViewOfSection + SetThreadContext + NtResumeThread, says what the code is about
//   to do even before it does it. module is the module the lookup named, by its identity
//   (graph rule Q3: kernel32.dll whether the sandbox wrote kernel32, KERNEL32.DLL or a
//   full path); calls counts the process's lookups of it.
MATCH (a:Analysis)
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
MATCH (p:Process {analysis: a.id})-[c:PROC_API]->(api:Api {api: 'LdrGetProcedureAddress'})
WITH a, p, c, substring(api.name, 23, size(api.name) - 24) AS target
WITH a, p, c, split(target, '!')[0] AS module, last(split(target, '!')) AS function
WITH a, p, c, module, function, toLower(function) AS f
WHERE f IN $functions
   OR (right(f, 1) IN ['a', 'w'] AND CASE WHEN size(f) > 1 THEN left(f, size(f) - 1) END IN $functions)
RETURN a.report AS report, a.id AS analysis, p.pid AS pid, p.name AS process, module, function,
       sum(c.count) AS calls
ORDER BY report, analysis, pid, function, module
