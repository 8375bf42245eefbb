//! The Cypher statements of the model, generated from its table
//! ([`schema`](super::schema)): one `MERGE` per label and relationship type,
//! fed either a list of rows (`UNWIND $rows AS row`, what ingest sends) or a
//! single row's parameters (`$p`, the benchmark's one-row baseline), and the
//! constraints and indexes. Values only travel as parameters.

use super::schema::{Label, Property, Rel, Settle};
use crate::correlate::IndicatorKind;

/// Where a statement reads its values from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Params {
    /// `UNWIND $rows AS row`, values as `row.p`.
    Rows,
    /// One row, values as `$p`.
    One,
}

impl Params {
    fn prefix(self) -> &'static str {
        match self {
            Params::Rows => "UNWIND $rows AS row ",
            Params::One => "",
        }
    }

    /// The value of property `p`.
    fn value(self, p: &str) -> String {
        match self {
            Params::Rows => format!("row.{p}"),
            Params::One => format!("${p}"),
        }
    }
}

/// ` SET a, b, …`, or nothing when there is nothing to set.
fn set_clause(sets: Vec<String>) -> String {
    if sets.is_empty() {
        String::new()
    } else {
        format!(" SET {}", sets.join(", "))
    }
}

/// `v.p = …` for one property, as its settle rule says.
fn set(var: &str, prop: &Property, params: Params) -> String {
    let p = prop.name;
    let row = params.value(p);
    let cur = format!("{var}.{p}");
    let keep = |op: &str| {
        format!("{cur} = CASE WHEN {row} IS NULL THEN {cur} WHEN {cur} IS NULL OR {row} {op} {cur} THEN {row} ELSE {cur} END")
    };
    match prop.settle {
        Settle::Overwrite => format!("{cur} = {row}"),
        Settle::Least => keep("<"),
        Settle::Greatest => keep(">"),
        Settle::Constant { merge, .. } => format!("{cur} = {merge}"),
    }
}

impl Label {
    /// `UNWIND $rows AS row MERGE (n:Label {key: row.key}) SET n.p = row.p, …`
    pub fn merge_statement(self) -> String {
        self.merge_with(Params::Rows)
    }

    /// The MERGE of this label, reading its values as `params` says.
    pub fn merge_with(self, params: Params) -> String {
        let key = self.key();
        let sets = self.properties().iter().map(|p| set("n", p, params)).collect();
        format!(
            "{}MERGE (n:{} {{{key}: {}}}){}",
            params.prefix(),
            self.name(),
            params.value(key),
            set_clause(sets)
        )
    }
}

impl Rel {
    /// `UNWIND $rows AS row MATCH (a:A {k: row.from}) MATCH (b:B {k: row.to}) MERGE (a)-[r:T]->(b) SET …`
    pub fn merge_statement(self) -> String {
        self.merge_with(Params::Rows)
    }

    /// The MERGE of this relationship type, reading its values as `params` says.
    pub fn merge_with(self, params: Params) -> String {
        let (a, b) = self.ends();
        let sets = self.properties().iter().map(|p| set("r", p, params)).collect();
        format!(
            "{}MATCH (a:{} {{{}: {}}}) MATCH (b:{} {{{}: {}}}) MERGE (a)-[r:{}]->(b){}",
            params.prefix(),
            a.name(),
            a.key(),
            params.value("from"),
            b.name(),
            b.key(),
            params.value("to"),
            self.type_name(),
            set_clause(sets)
        )
    }
}

impl Label {
    /// `MATCH (n:Label) WHERE NOT n.key IN $keys DETACH DELETE n`: replacing
    /// every node of a label (`correlate`'s campaigns) keeps these keys.
    pub fn delete_others_statement(self) -> String {
        format!(
            "MATCH (n:{}) WHERE NOT n.{} IN $keys DETACH DELETE n",
            self.name(),
            self.key()
        )
    }

    /// One page of the indicator nodes of `kind` that are not safelisted,
    /// keyed after `$after` (keyset pagination, `$page` nodes), each with
    /// its number of holders (`df`) and their analysis ids (`holders`, empty
    /// when more than `$max_df`, so a page stays small).
    pub fn holders_statement(kind: IndicatorKind) -> String {
        let rel = Label::holder_rel(kind);
        let (holder, label) = rel.ends();
        let key = label.key();
        let id = if holder == Label::Analysis { "id" } else { "analysis" };
        format!(
            "MATCH (n:{}) WHERE n.{key} > $after AND n.safelisted IS NULL \
             WITH n ORDER BY n.{key} LIMIT $page \
             OPTIONAL MATCH (n)<-[:{}]-(h:{}) \
             WITH n, collect(DISTINCT h.{id}) AS holders \
             RETURN n.{key} AS value, size(holders) AS df, \
             CASE WHEN size(holders) <= $max_df THEN holders ELSE [] END AS holders \
             ORDER BY value",
            label.name(),
            rel.type_name(),
            holder.name()
        )
    }

    /// One page of every indicator node of `kind`, keyed after `$after`
    /// (`$page` nodes), with its safelist reason, if marked (`graphmalw
    /// safelist apply` compares it with the list of today).
    pub fn marks_page_statement(kind: IndicatorKind) -> String {
        let label = Label::of_indicator(kind);
        let key = label.key();
        format!(
            "MATCH (n:{}) WHERE n.{key} > $after \
             RETURN n.{key} AS value, n.safelist_reason AS reason ORDER BY value LIMIT $page",
            label.name()
        )
    }

    /// Mark (`reason` set) or unmark (`reason` null) the indicator nodes of
    /// `kind` that `$rows` (`{value, reason}`) name.
    pub fn set_marks_statement(kind: IndicatorKind) -> String {
        let label = Label::of_indicator(kind);
        format!(
            "UNWIND $rows AS row MATCH (n:{} {{{}: row.value}}) \
             SET n.safelisted = CASE WHEN row.reason IS NULL THEN null ELSE true END, \
             n.safelist_reason = row.reason",
            label.name(),
            label.key()
        )
    }
}

/// Constraints and indexes of the model, each `IF NOT EXISTS`.
pub fn schema_statements() -> Vec<String> {
    let mut v: Vec<String> = Label::ALL
        .iter()
        .map(|l| {
            format!(
                "CREATE CONSTRAINT {}_{} IF NOT EXISTS FOR (n:{}) REQUIRE n.{} IS UNIQUE",
                l.name().to_lowercase(),
                l.key(),
                l.name(),
                l.key()
            )
        })
        .collect();
    for label in Label::ALL {
        for prop in label.indexed() {
            v.push(format!(
                "CREATE INDEX {}_{prop} IF NOT EXISTS FOR (n:{}) ON (n.{prop})",
                label.name().to_lowercase(),
                label.name()
            ));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EdgeKind;

    #[test]
    fn statements_take_values_only_from_parameters() {
        for l in Label::ALL {
            let s = l.merge_statement();
            assert!(s.starts_with("UNWIND $rows AS row MERGE (n:"), "{s}");
            assert!(!l.merge_with(Params::One).contains("row"), "{s}");
        }
        assert_eq!(
            Rel::Behaviour(EdgeKind::ApiFileHandle).merge_statement(),
            "UNWIND $rows AS row MATCH (a:Api {uid: row.from}) MATCH (b:FileHandle {uid: row.to}) \
             MERGE (a)-[r:API_FILE_HANDLE]->(b) SET r.count = row.count, r.args = row.args, \
             r.information_class = row.information_class"
        );
    }

    #[test]
    fn statements_are_pinned() {
        assert_eq!(
            Label::Analysis.merge_statement(),
            "UNWIND $rows AS row MERGE (n:Analysis {id: row.id}) SET n.report = CASE WHEN row.report IS NULL \
             THEN n.report WHEN n.report IS NULL OR row.report < n.report THEN row.report ELSE n.report END, \
             n.format = row.format, n.task_id = row.task_id, n.started = row.started, n.score = row.score, \
             n.nodes = row.nodes, n.edges = row.edges, n.complete = false, n.baseline = row.baseline, \
             n.api_count = row.api_count, n.api_hashes = row.api_hashes, n.api_minhash = row.api_minhash, \
             n.ioc_count = row.ioc_count, n.ioc_minhash = row.ioc_minhash"
        );
        assert_eq!(
            Label::Signature.merge_with(Params::One),
            "MERGE (n:Signature {name: $name}) SET n.description = CASE WHEN $description IS NULL THEN \
             n.description WHEN n.description IS NULL OR $description < n.description THEN $description ELSE \
             n.description END, n.severity = CASE WHEN $severity IS NULL THEN n.severity WHEN n.severity IS \
             NULL OR $severity > n.severity THEN $severity ELSE n.severity END"
        );
        assert_eq!(
            Label::Dll.merge_statement(),
            "UNWIND $rows AS row MERGE (n:Dll {name: row.name})"
        );
        assert_eq!(
            Rel::ResolvesTo.merge_with(Params::One),
            "MATCH (a:Domain {name: $from}) MATCH (b:IpAddress {address: $to}) MERGE (a)-[r:RESOLVES_TO]->(b)"
        );
        assert_eq!(
            Label::holders_statement(IndicatorKind::File),
            "MATCH (n:File) WHERE n.path > $after AND n.safelisted IS NULL \
             WITH n ORDER BY n.path LIMIT $page \
             OPTIONAL MATCH (n)<-[:REFERS_TO]-(h:FileHandle) \
             WITH n, collect(DISTINCT h.analysis) AS holders \
             RETURN n.path AS value, size(holders) AS df, \
             CASE WHEN size(holders) <= $max_df THEN holders ELSE [] END AS holders \
             ORDER BY value"
        );
        assert_eq!(
            Label::marks_page_statement(IndicatorKind::Mutex),
            "MATCH (n:Mutex) WHERE n.name > $after \
             RETURN n.name AS value, n.safelist_reason AS reason ORDER BY value LIMIT $page"
        );
        assert_eq!(
            Label::set_marks_statement(IndicatorKind::Dropped),
            "UNWIND $rows AS row MATCH (n:Sample {sha256: row.value}) \
             SET n.safelisted = CASE WHEN row.reason IS NULL THEN null ELSE true END, \
             n.safelist_reason = row.reason"
        );
        assert_eq!(
            Label::Campaign.delete_others_statement(),
            "MATCH (n:Campaign) WHERE NOT n.id IN $keys DETACH DELETE n"
        );
        let schema = schema_statements();
        assert_eq!(
            schema[1],
            "CREATE CONSTRAINT sample_sha256 IF NOT EXISTS FOR (n:Sample) REQUIRE n.sha256 IS UNIQUE"
        );
        assert_eq!(
            schema.last().map(String::as_str),
            Some("CREATE INDEX campaign_params IF NOT EXISTS FOR (n:Campaign) ON (n.params)")
        );
    }
}
