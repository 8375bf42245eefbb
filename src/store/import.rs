//! The model as `neo4j-admin database import` files, generated from its
//! table ([`schema`](super::schema)): which file a row goes to, each file's
//! header (ID spaces and column types), and the settle rules applied in Rust
//! where ingest's `MERGE` applies them in Cypher. Writing the files is
//! `sink::csv`.

use super::rows::Prop;
use super::schema::{Label, Property, Rel, Settle, Type};

impl Type {
    /// The header suffix (`""` for strings, the importer's default).
    pub fn suffix(self) -> &'static str {
        match self {
            Type::String => "",
            Type::Long => ":long",
            Type::Double => ":double",
            Type::Boolean => ":boolean",
            Type::StringArray => ":string[]",
            Type::LongArray => ":long[]",
        }
    }
}

/// A file of the import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKey {
    Node(Label),
    Rel(Rel),
}

impl FileKey {
    pub fn file_name(self) -> String {
        match self {
            FileKey::Node(l) => format!("nodes-{}.csv", l.name()),
            FileKey::Rel(r) => {
                let (a, b) = r.ends();
                format!("rels-{}-{}-{}.csv", r.type_name(), a.name(), b.name())
            }
        }
    }

    /// The property columns, between the ID column(s) and the label or type.
    pub fn columns(self) -> &'static [Property] {
        match self {
            FileKey::Node(l) => l.properties(),
            FileKey::Rel(r) => r.properties(),
        }
    }

    /// The header line, without the line break: `<key>:ID(<Label>)` (one ID
    /// space per label) or `:START_ID(<Label>),:END_ID(<Label>)`, then the
    /// typed properties, then `:LABEL` or `:TYPE`.
    pub fn header(self) -> String {
        let mut cols: Vec<String> = match self {
            FileKey::Node(l) => vec![format!("{}:ID({})", l.key(), l.name())],
            FileKey::Rel(r) => {
                let (a, b) = r.ends();
                vec![format!(":START_ID({})", a.name()), format!(":END_ID({})", b.name())]
            }
        };
        cols.extend(self.columns().iter().map(|c| format!("{}{}", c.name, c.ty.suffix())));
        cols.push(if self.is_rel() { ":TYPE" } else { ":LABEL" }.into());
        cols.join(",")
    }

    pub fn is_rel(self) -> bool {
        matches!(self, FileKey::Rel(_))
    }
}

impl Settle {
    /// Does `new` replace `old` under this rule (the `CASE` of ingest's
    /// statement)? A constant is never taken from a row.
    pub fn replaces(self, old: &Prop, new: &Prop) -> bool {
        use std::cmp::Ordering;
        let ord = |a: &Prop, b: &Prop| -> Option<Ordering> {
            match (a, b) {
                (Prop::Str(x), Prop::Str(y)) => Some(x.cmp(y)),
                (Prop::Int(x), Prop::Int(y)) => Some(x.cmp(y)),
                (Prop::Float(x), Prop::Float(y)) => x.partial_cmp(y),
                (Prop::Int(x), Prop::Float(y)) => (*x as f64).partial_cmp(y),
                (Prop::Float(x), Prop::Int(y)) => x.partial_cmp(&(*y as f64)),
                _ => None,
            }
        };
        let want = match self {
            Settle::Overwrite => return true,
            Settle::Constant { .. } => return false,
            Settle::Least => Ordering::Less,
            Settle::Greatest => Ordering::Greater,
        };
        match (old, new) {
            (_, Prop::Null) => false,
            (Prop::Null, _) => true,
            _ => ord(new, old) == Some(want),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EdgeKind;
    use std::collections::HashSet;

    #[test]
    fn headers_use_id_spaces_and_types() {
        for (key, want) in [
            (
                FileKey::Node(Label::Process),
                "uid:ID(Process),analysis,pid:long,ppid:long,name,path,:LABEL",
            ),
            (
                FileKey::Node(Label::Analysis),
                "id:ID(Analysis),report,format,task_id:long,started,score:double,nodes:long,edges:long,complete:boolean,baseline:boolean,api_count:long,api_hashes:long[],api_minhash:long[],ioc_count:long,ioc_minhash:long[],:LABEL",
            ),
            (
                FileKey::Node(Label::Sample),
                "sha256:ID(Sample),name,size:long,md5,sha1,type,safelisted:boolean,safelist_reason,:LABEL",
            ),
            (FileKey::Node(Label::File), "path:ID(File),safelisted:boolean,safelist_reason,:LABEL"),
            (
                FileKey::Rel(Rel::Behaviour(EdgeKind::ApiProc)),
                ":START_ID(Api),:END_ID(Process),count:long,args,:TYPE",
            ),
            (
                FileKey::Rel(Rel::Behaviour(EdgeKind::ApiNproc)),
                ":START_ID(Api),:END_ID(Process),count:long,args,creation_flags:long,image,command_line,:TYPE",
            ),
            (
                FileKey::Rel(Rel::Matched),
                ":START_ID(Analysis),:END_ID(Signature),severity:long,attack:string[],:TYPE",
            ),
        ] {
            assert_eq!(key.header(), want, "{key:?}");
        }
        assert_eq!(
            FileKey::Rel(Rel::FileRefersTo).file_name(),
            "rels-REFERS_TO-FileHandle-File.csv"
        );
    }

    #[test]
    fn every_relationship_file_name_is_distinct() {
        let names: HashSet<String> = Rel::all().into_iter().map(|r| FileKey::Rel(r).file_name()).collect();
        assert_eq!(names.len(), Rel::all().len());
    }

    #[test]
    fn settling_keeps_the_least_non_null_value() {
        use Settle::*;
        assert!(Least.replaces(&Prop::Null, &Prop::Str("b".into())));
        assert!(Least.replaces(&Prop::Str("b".into()), &Prop::Str("a".into())));
        assert!(!Least.replaces(&Prop::Str("a".into()), &Prop::Str("b".into())));
        assert!(!Least.replaces(&Prop::Str("a".into()), &Prop::Null));
        assert!(Greatest.replaces(&Prop::Int(2), &Prop::Int(3)));
        assert!(!Greatest.replaces(&Prop::Int(3), &Prop::Null));
        assert!(Overwrite.replaces(&Prop::Int(3), &Prop::Null));
    }
}
