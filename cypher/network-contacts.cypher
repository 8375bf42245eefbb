// name: network-contacts
// title: Domains and IP addresses each analysis contacted
// category: network
// attack: T1071
// param: analysis = "" | Analysis id (BLAKE3 of the report JSON, as `build` prints it) or report file name; "" for every analysis
// returns: report, analysis, kind, indicator, resolves_to, resolved_from, seen_in
// description: The hosts and addresses in each report's network section, with the
//   resolutions the sandbox saw (any analysis's DNS answers: :Domain-[:RESOLVES_TO]->
//   :IpAddress is shared) and seen_in, the number of analyses that contacted the same
//   indicator. A domain or address seen in one or two analyses is a candidate C2 or
//   download server to block and pivot on; one seen in most analyses is the sandbox's
//   own traffic (its resolver, OS update and certificate checks).
MATCH (a:Analysis)
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
MATCH (a)-[:CONTACTED]->(x)
WHERE x:Domain OR x:IpAddress
// Once per indicator, not once per analysis that contacted it: its
// resolutions and seen_in cost its own degree, so the query stays linear in
// the corpus however many analyses share an indicator. The analyses are met
// again afterwards, so no sorted row carries a list of them (ArcadeDB keeps
// such a list in every row it sorts, against its query heap budget).
WITH DISTINCT x
OPTIONAL MATCH (x)-[:RESOLVES_TO]->(ip:IpAddress)
WITH x, ip
ORDER BY ip.address
WITH x, collect(DISTINCT ip.address) AS resolves_to
OPTIONAL MATCH (dom:Domain)-[:RESOLVES_TO]->(x)
WITH x, resolves_to, dom
ORDER BY dom.name
WITH x, resolves_to, collect(DISTINCT dom.name) AS resolved_from
WITH x, resolves_to, resolved_from, COUNT { (o:Analysis)-[:CONTACTED]->(x) } AS seen_in
MATCH (a:Analysis)-[:CONTACTED]->(x)
WHERE $analysis = '' OR a.id = $analysis OR a.report = $analysis
WITH DISTINCT a, x, resolves_to, resolved_from, seen_in
RETURN a.report AS report, a.id AS analysis, CASE WHEN x:Domain THEN 'domain' ELSE 'ip' END AS kind,
       coalesce(x.name, x.address) AS indicator, resolves_to, resolved_from, seen_in
ORDER BY report, analysis, kind, indicator
