// name: dynamic-api-resolution
// title: Sensitive functions resolved at run time (LdrGetProcedureAddress)
// category: loader
// attack: T1027.007
// param: analysis = "" | Analysis id (sha256 of the report file) or report file name; "" for every analysis
// param: functions = ["virtualalloc", "virtualallocex", "virtualprotect", "virtualprotectex", "writeprocessmemory", "readprocessmemory", "createremotethread", "createremotethreadex", "ntcreatethreadex", "rtlcreateuserthread", "queueuserapc", "ntqueueapcthread", "getthreadcontext", "setthreadcontext", "ntgetcontextthread", "ntsetcontextthread", "ntresumethread", "resumethread", "ntunmapviewofsection", "zwunmapviewofsection", "ntmapviewofsection", "ntcreatesection", "ntwritevirtualmemory", "ntallocatevirtualmemory", "ntprotectvirtualmemory", "openprocess", "ntopenprocess", "isdebuggerpresent", "checkremotedebuggerpresent", "ntqueryinformationprocess", "ntsetinformationthread", "outputdebugstring", "loadlibrary", "loadlibraryex", "getprocaddress", "ldrloaddll", "ldrgetprocedureaddress", "winexec", "shellexecute", "shellexecuteex", "createprocess", "urldownloadtofile", "internetopen", "internetopenurl", "internetconnect", "internetreadfile", "httpopenrequest", "httpsendrequest", "wsastartup", "regsetvalueex", "regcreatekeyex", "ntsetvaluekey", "cryptunprotectdata", "cryptencrypt", "cryptdecrypt", "adjusttokenprivileges", "setwindowshookex", "createtoolhelp32snapshot", "process32first", "process32next"] | Lowercased function names; an A or W suffix matches too
// returns: report, analysis, pid, process, module, function, calls
// description: Functions a process looked up by name at run time instead of importing
//   them. Malware resolves its injection, anti-debug, persistence, network and credential
//   APIs this way so that they are missing from the import table that static scanners
//   read; a hit on VirtualAllocEx + WriteProcessMemory + CreateRemoteThread, or on
//   NtUnmapViewOfSection + SetThreadContext + NtResumeThread, says what the code is about
//   to do even before it does it. module is the module string the lookup named (Cuckoo
//   gives kernel32, CAPE kernel32.dll); calls counts the process's lookups of it.
MATCH (a:Analysis)
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
MATCH (p:Process {analysis: a.id})-[c:PROC_API]->(api:Api {api: 'LdrGetProcedureAddress'})
WITH a, p, c, substring(api.name, 23, size(api.name) - 24) AS target
WITH a, p, c, split(target, '!')[0] AS module, last(split(target, '!')) AS function
WITH a, p, c, module, function, toLower(function) AS f
WHERE f IN $functions OR (right(f, 1) IN ['a', 'w'] AND left(f, size(f) - 1) IN $functions)
RETURN a.report AS report, a.id AS analysis, p.pid AS pid, p.name AS process, module, function,
       sum(c.count) AS calls
ORDER BY report, analysis, pid, function, module
