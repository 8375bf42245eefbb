// name: anti-debug
// title: Debugger checks: IsDebuggerPresent, NtQueryInformationProcess and friends
// category: evasion
// attack: T1622
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it) or report file name; "" for every analysis
// param: functions = ["isdebuggerpresent", "checkremotedebuggerpresent", "ntqueryinformationprocess", "zwqueryinformationprocess", "ntsetinformationthread", "zwsetinformationthread", "outputdebugstringa", "outputdebugstringw", "ntqueryobject", "ntsystemdebugcontrol", "debugactiveprocess", "dbgbreakpoint", "dbguiremotebreakin"] | Lowercased function names that serve to detect or shake off a debugger
// returns: report, analysis, pid, process, function, how
// description: A process that resolved (LdrGetProcedureAddress) or called a function that
//   is used to notice a debugger: IsDebuggerPresent and CheckRemoteDebuggerPresent read the
//   PEB, NtQueryInformationProcess asks for the debug port or object, NtSetInformationThread
//   hides a thread from the debugger. Packers and malware check before unpacking and
//   behave differently (or exit) when watched, so a hit explains a short or empty trace
//   and is worth a second run with the sandbox's anti-anti-debug options. how is
//   "resolved" or "called"; a call only shows when it linked to a handle or process.
MATCH (a:Analysis)
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
MATCH (p:Process {analysis: a.id})-[:PROC_API]->(api:Api)
WITH a, p, api,
     CASE WHEN api.api = 'LdrGetProcedureAddress' THEN last(split(substring(api.name, 23, size(api.name) - 24), '!'))
          ELSE api.api END AS function
WHERE toLower(function) IN $functions
RETURN DISTINCT a.report AS report, a.id AS analysis, p.pid AS pid, p.name AS process, function,
       CASE WHEN api.api = 'LdrGetProcedureAddress' THEN 'resolved' ELSE 'called' END AS how
ORDER BY report, analysis, pid, function, how
