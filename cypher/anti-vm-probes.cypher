// name: anti-vm-probes
// title: Registry keys, files, devices and modules that give away a VM or sandbox
// category: evasion
// attack: T1497.001
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it) or report file name; "" for every analysis
// param: patterns = ["vbox", "virtualbox", "vmware", "vmmouse", "vmhgfs", "\\hgfs", "vmtools", "vmsrvc", "vmusrvc", "vmx_svga", "qemu", "xenservice", "prl_", "parallels", "sbiedll", "sandboxie", "cuckoomon", "api_log.dll", "dir_watch.dll", "pstorec.dll", "snxhk.dll", "avghookx.dll", "cmdvrt32.dll", "wpespy.dll", "vmcheck.dll", "ollydbg", "x64dbg", "windbg", "immunity debugger", "wireshark", "procmon", "\\hardware\\acpi\\dsdt", "\\hardware\\acpi\\fadt", "\\hardware\\acpi\\rsdt"] | Lowercased substrings of a key path, file path or module name that betray a virtual machine, sandbox or analysis tool
// returns: report, analysis, pid, process, kind, target, indicator, apis
// description: A process that opened or queried a registry key, opened a file or device,
//   or asked the loader for a module whose name belongs to a hypervisor (VirtualBox,
//   VMware, QEMU, Xen, Parallels), a sandbox (Sandboxie, Cuckoo) or an analysis tool.
//   Malware probes these before doing anything interesting and goes quiet when one
//   exists, so a hit both flags evasive code and explains a thin behaviour graph. The
//   probe counts even when it failed: most do, on a well-hidden sandbox. kind is
//   registry, file or module; indicator is the first pattern that matched.
MATCH (a:Analysis)
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
CALL (a) {
  MATCH (h:KeyHandle {analysis: a.id})-[:REFERS_TO]->(k:RegistryKey)
  MATCH (api:Api)-[:API_KEY_HANDLE|KEY_HANDLE_API]-(h)
  RETURN h.pid AS pid, 'registry' AS kind, h.path AS target, k.path AS key, api.name AS api
  UNION
  MATCH (h:FileHandle {analysis: a.id})-[:REFERS_TO]->(f:File)
  MATCH (api:Api)-[:API_FILE_HANDLE|FILE_HANDLE_API]-(h)
  RETURN h.pid AS pid, 'file' AS kind, h.path AS target, f.path AS key, api.name AS api
  UNION
  MATCH (m:Module {analysis: a.id})-[:API_MODULE|MODULE_API]-(api:Api)<-[:PROC_API]-(p:Process)
  RETURN p.pid AS pid, 'module' AS kind, m.name AS target, m.name AS key, api.name AS api
}
WITH a, pid, kind, target, api, [x IN $patterns WHERE key CONTAINS x] AS matched
WHERE size(matched) > 0
OPTIONAL MATCH (p:Process {analysis: a.id, pid: pid})
WITH a, pid, p.name AS process, kind, target, matched[0] AS indicator, api
ORDER BY api
RETURN a.report AS report, a.id AS analysis, pid, process, kind, target, indicator, collect(DISTINCT api) AS apis
ORDER BY report, analysis, pid, kind, target
