// name: persistence-registry
// title: Autostart registry keys written: Run/RunOnce, services, Winlogon, IFEO
// category: persistence
// attack: T1547.001
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it) or report file name; "" for every analysis
// param: write_apis = ["RegSetValueExA", "RegSetValueExW", "RegSetValueA", "RegSetValueW", "RegSetKeyValueA", "RegSetKeyValueW", "NtSetValueKey", "ZwSetValueKey"] | Raw API names that write a registry value
// returns: report, analysis, pid, process, mechanism, key, apis, writes, first_write
// description: A process that wrote a value under a key Windows reads at boot or logon:
//   Run, RunOnce, RunOnceEx, RunServices and the policy Run key (T1547.001), a service's
//   key (ImagePath, ServiceDll; T1543.003), Winlogon's Shell, Userinit or Notify
//   (T1547.004), or Image File Execution Options (a Debugger value hijacks a program's
//   start; T1546.012). Any of these keeps the sample running after a reboot; opening or
//   reading such a key is not enough for a hit. first_write holds the arguments of the
//   first write (value name and data, as the sandbox logged them), writes the number of
//   writes to that key.
// Each distinct key is classified once (not once per handle of every
// analysis), and only keys a cheap CONTAINS lets through meet the regexes:
// every mechanism's path has a \currentversion\ or a \services\ part.
MATCH (k:RegistryKey)
WHERE k.path CONTAINS '\\currentversion\\' OR k.path CONTAINS '\\services\\'
WITH k,
     CASE
       WHEN k.path =~ '.*\\\\software\\\\(wow6432node\\\\)?microsoft\\\\windows\\\\currentversion\\\\(run|runonce|runonceex|runservices|runservicesonce|policies\\\\explorer\\\\run)(\\\\.*)?' THEN 'run-key'
       WHEN k.path =~ '.*\\\\system\\\\(currentcontrolset|controlset[0-9]+)\\\\services\\\\[^\\\\]+(\\\\.*)?' THEN 'service'
       WHEN k.path =~ '.*\\\\software\\\\(wow6432node\\\\)?microsoft\\\\windows nt\\\\currentversion\\\\winlogon(\\\\.*)?' THEN 'winlogon'
       WHEN k.path =~ '.*\\\\software\\\\(wow6432node\\\\)?microsoft\\\\windows nt\\\\currentversion\\\\image file execution options\\\\[^\\\\]+(\\\\.*)?' THEN 'ifeo'
     END AS mechanism
WHERE mechanism IS NOT NULL
MATCH (h:KeyHandle)-[:REFERS_TO]->(k)
MATCH (a:Analysis {id: h.analysis})
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
WITH a, h, k, mechanism
MATCH (api:Api)-[r:API_KEY_HANDLE|KEY_HANDLE_API]-(h)
WITH a, h, k, mechanism, api, r
ORDER BY api.name
WITH a, h, k, mechanism, collect(DISTINCT api.name) AS apis,
     [x IN collect({api: api.api, count: r.count, args: r.args}) WHERE x.api IN $write_apis] AS writes
WHERE size(writes) > 0
OPTIONAL MATCH (p:Process {analysis: a.id, pid: h.pid})
RETURN a.report AS report, a.id AS analysis, h.pid AS pid, p.name AS process, mechanism, h.path AS key,
       apis, reduce(n = 0, w IN writes | n + w.count) AS writes, writes[0].args AS first_write
ORDER BY report, analysis, pid, mechanism, key
