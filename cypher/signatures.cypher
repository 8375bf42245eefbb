// name: signatures
// title: Sandbox signatures that matched, with severity and ATT&CK techniques
// category: triage
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it) or report file name; "" for every analysis
// param: min_severity = 1 | Only signatures this report rated at least this severe
// returns: report, analysis, signature, severity, attack, description, seen_in
// description: Every signature each report says matched, with the severity the report
//   gave it (the :Signature node keeps the greatest severity any report gave) and the
//   ATT&CK technique ids of the match, most severe first. seen_in counts the analyses in
//   the database that matched the same signature: a severe signature seen in one
//   analysis deserves reading, one seen everywhere is likely the sandbox's own noise
//   (antidebug_setunhandledexceptionfilter). Use min_severity = 3 for the short list.
MATCH (a:Analysis)
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
MATCH (a)-[m:MATCHED]->(s:Signature)
WHERE coalesce(m.severity, s.severity, 0) >= $min_severity
// seen_in once per signature, not once per analysis that matched it (which
// grows with the square of the corpus for a signature every analysis matches).
WITH s, collect({a: a, m: m}) AS matches
WITH s, matches, COUNT { (o:Analysis)-[:MATCHED]->(s) } AS seen_in
UNWIND matches AS hit
WITH hit.a AS a, hit.m AS m, s, seen_in
RETURN a.report AS report, a.id AS analysis, s.name AS signature, coalesce(m.severity, s.severity) AS severity,
       coalesce(m.attack, []) AS attack, s.description AS description, seen_in
ORDER BY report, analysis, severity DESC, signature
