//! The shipped query pack: `cypher/*.cypher`, embedded at build time, with
//! their headers parsed.
//!
//! A header is the run of `// key: value` comment lines at the top of a file:
//!
//! ```text
//! // name: shared-files
//! // title: Samples that touched the same file path
//! // category: cross-sample
//! // attack: T1105
//! // param: max_share = 0.5 | Ignore paths seen in more than this share of analyses
//! // returns: path, samples, analyses
//! // description: What a hit means, in one paragraph; it may go on
//! //   over the following comment lines.
//! ```
//!
//! `param` repeats; its default is a JSON literal. `attack` is optional.

include!(concat!(env!("OUT_DIR"), "/queries.rs"));

use serde_json::Value;

/// How `query run` and `query check` run (the `[query]` table of the settings).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QuerySettings {
    /// Seconds one `query run` or `query check` statement may take, retries
    /// of a lost connection included; past it the query fails, not retried.
    pub timeout_secs: u64,
}

impl Default for QuerySettings {
    fn default() -> Self {
        QuerySettings { timeout_secs: 60 }
    }
}

/// The categories a query may have.
pub const CATEGORIES: [&str; 8] = [
    "process",
    "persistence",
    "injection",
    "evasion",
    "loader",
    "network",
    "cross-sample",
    "triage",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub default: Value,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub file: String,
    pub name: String,
    pub title: String,
    pub category: String,
    pub attack: Option<String>,
    pub params: Vec<Param>,
    pub returns: Vec<String>,
    pub description: String,
    /// The whole file, header included (it is a comment).
    pub cypher: String,
}

/// Parse one file's header. Errors name what is missing or malformed.
pub fn parse(file: &str, text: &str) -> Result<Query, String> {
    let mut q = Query {
        file: file.to_owned(),
        name: String::new(),
        title: String::new(),
        category: String::new(),
        attack: None,
        params: Vec::new(),
        returns: Vec::new(),
        description: String::new(),
        cypher: text.to_owned(),
    };
    let mut in_description = false;
    for line in text.lines() {
        let Some(comment) = line.trim_start().strip_prefix("//") else {
            break;
        };
        let comment = comment.trim();
        let keyed = comment.split_once(':').filter(|(k, _)| {
            matches!(
                *k,
                "name" | "title" | "category" | "attack" | "param" | "returns" | "description"
            )
        });
        match keyed {
            Some((key, value)) => {
                let value = value.trim();
                in_description = key == "description";
                match key {
                    "name" => q.name = value.to_owned(),
                    "title" => q.title = value.to_owned(),
                    "category" => q.category = value.to_owned(),
                    "attack" => q.attack = Some(value.to_owned()).filter(|a| !a.is_empty()),
                    "returns" => q.returns = value.split(',').map(|c| c.trim().to_owned()).collect(),
                    "description" => q.description = value.to_owned(),
                    _ => q
                        .params
                        .push(parse_param(value).map_err(|e| format!("{file}: param `{value}`: {e}"))?),
                }
            }
            None if in_description && !comment.is_empty() => {
                q.description.push(' ');
                q.description.push_str(comment);
            }
            None => in_description = false,
        }
    }
    for (what, empty) in [
        ("name", q.name.is_empty()),
        ("title", q.title.is_empty()),
        ("category", q.category.is_empty()),
        ("returns", q.returns.is_empty()),
        ("description", q.description.is_empty()),
    ] {
        if empty {
            return Err(format!("{file}: header has no `{what}`"));
        }
    }
    if !CATEGORIES.contains(&q.category.as_str()) {
        return Err(format!(
            "{file}: unknown category `{}` (one of {})",
            q.category,
            CATEGORIES.join(", ")
        ));
    }
    Ok(q)
}

fn parse_param(spec: &str) -> Result<Param, String> {
    let (name, rest) = spec.split_once('=').ok_or("expected `name = default | description`")?;
    let (default, description) = rest
        .split_once('|')
        .ok_or("expected `| description` after the default")?;
    let default: Value = serde_json::from_str(default.trim()).map_err(|e| format!("default is not JSON: {e}"))?;
    Ok(Param {
        name: name.trim().to_owned(),
        default,
        description: description.trim().to_owned(),
    })
}

/// Every shipped query, sorted by name.
pub fn all() -> Result<Vec<Query>, String> {
    let mut v = QUERY_FILES
        .iter()
        .map(|(f, t)| parse(f, t))
        .collect::<Result<Vec<_>, _>>()?;
    v.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(v)
}

/// The `$parameters` a query's text uses (outside comments and strings); the
/// tests check each query's declared parameters against it.
#[cfg(test)]
fn used_parameters(cypher: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in cypher.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut in_string: Option<char> = None;
        let mut chars = code.char_indices().peekable();
        while let Some((_, c)) = chars.next() {
            match (in_string, c) {
                (Some(q), c) if c == q => in_string = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => in_string = Some(c),
                (None, '$') => {
                    let mut name = String::new();
                    while let Some((_, n)) = chars.peek().copied().filter(|(_, n)| n.is_alphanumeric() || *n == '_') {
                        name.push(n);
                        chars.next();
                    }
                    if !name.is_empty() && !out.contains(&name) {
                        out.push(name);
                    }
                }
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_query_has_a_complete_header_and_declares_its_parameters() {
        let all = all().expect("headers parse");
        assert!(all.len() >= 20, "the pack has at least 20 queries, found {}", all.len());
        let mut names = std::collections::HashSet::new();
        for q in &all {
            assert!(names.insert(q.name.clone()), "duplicate query name {}", q.name);
            assert_eq!(format!("{}.cypher", q.name), q.file, "file name follows the query name");
            for p in used_parameters(&q.cypher) {
                assert!(
                    q.params.iter().any(|d| d.name == p),
                    "{}: ${p} is used but not declared",
                    q.name
                );
            }
            for d in &q.params {
                assert!(
                    used_parameters(&q.cypher).contains(&d.name),
                    "{}: param {} declared but unused",
                    q.name,
                    d.name
                );
            }
        }
    }

    #[test]
    fn header_parsing_reads_params_and_multi_line_descriptions() {
        let q = parse(
            "x.cypher",
            "// name: x\n// title: T\n// category: triage\n// param: k = 3 | how many\n// returns: a, b\n\
             // description: first\n//   second\n\nMATCH (n) RETURN $k AS a, 1 AS b",
        )
        .unwrap();
        assert_eq!(
            q.params,
            vec![Param {
                name: "k".into(),
                default: serde_json::json!(3),
                description: "how many".into()
            }]
        );
        assert_eq!(q.description, "first second");
        assert_eq!(q.returns, ["a", "b"]);
        assert!(parse("y.cypher", "// name: y\nMATCH (n) RETURN n").is_err());
    }

    #[test]
    fn parameters_in_strings_and_comments_do_not_count() {
        assert_eq!(
            used_parameters("MATCH (n {a: $a}) // $b\nRETURN '$c', $d_1"),
            ["a", "d_1"]
        );
    }
}
