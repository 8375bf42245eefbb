//! The database model (`docs/neo4j-model.md`) as one table: every label,
//! relationship type, key and statement graphmalw sends. Labels and types
//! come only from here, never from report data; values only travel as
//! `$rows` parameters.

use crate::model::{EdgeKind, NodeKind};

/// A node label with its unique key and the properties ingest sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    Analysis,
    Sample,
    Process,
    Api,
    Module,
    FileHandle,
    KeyHandle,
    File,
    RegistryKey,
    Dll,
    Mutex,
    Domain,
    IpAddress,
    Signature,
}

impl Label {
    pub const ALL: [Label; 14] = [
        Label::Analysis,
        Label::Sample,
        Label::Process,
        Label::Api,
        Label::Module,
        Label::FileHandle,
        Label::KeyHandle,
        Label::File,
        Label::RegistryKey,
        Label::Dll,
        Label::Mutex,
        Label::Domain,
        Label::IpAddress,
        Label::Signature,
    ];

    /// Labels whose nodes belong to one analysis (they carry `analysis`).
    pub const BEHAVIOUR: [Label; 5] = [
        Label::Process,
        Label::Api,
        Label::Module,
        Label::FileHandle,
        Label::KeyHandle,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Label::Analysis => "Analysis",
            Label::Sample => "Sample",
            Label::Process => "Process",
            Label::Api => "Api",
            Label::Module => "Module",
            Label::FileHandle => "FileHandle",
            Label::KeyHandle => "KeyHandle",
            Label::File => "File",
            Label::RegistryKey => "RegistryKey",
            Label::Dll => "Dll",
            Label::Mutex => "Mutex",
            Label::Domain => "Domain",
            Label::IpAddress => "IpAddress",
            Label::Signature => "Signature",
        }
    }

    /// The unique key property.
    pub fn key(self) -> &'static str {
        match self {
            Label::Analysis => "id",
            Label::Sample => "sha256",
            Label::Process | Label::Api | Label::Module | Label::FileHandle | Label::KeyHandle => "uid",
            Label::File | Label::RegistryKey => "path",
            Label::Dll | Label::Mutex | Label::Domain | Label::Signature => "name",
            Label::IpAddress => "address",
        }
    }

    /// Properties set from the row, besides the key.
    pub fn properties(self) -> &'static [&'static str] {
        match self {
            Label::Analysis => &["report", "format", "task_id", "started", "score", "nodes", "edges"],
            Label::Sample => &[],
            Label::Process => &["analysis", "pid", "ppid", "name", "path"],
            Label::Api => &["analysis", "name", "api", "category"],
            Label::Module => &["analysis", "name", "address"],
            Label::FileHandle | Label::KeyHandle => &["analysis", "address", "path", "pid"],
            Label::File | Label::RegistryKey | Label::Dll | Label::Mutex | Label::Domain | Label::IpAddress => &[],
            Label::Signature => &["description", "severity"],
        }
    }

    /// Properties with an index besides the key's (see [`schema_statements`]):
    /// their values are cut to `rows::MAX_KEY_BYTES`, as keys are.
    pub fn indexed(self) -> &'static [&'static str] {
        match self {
            Label::Api => &["analysis", "name", "api"],
            Label::Process => &["analysis", "name"],
            Label::FileHandle | Label::KeyHandle => &["analysis", "path"],
            Label::Module => &["analysis"],
            Label::Analysis => &["complete"],
            _ => &[],
        }
    }

    /// How a property written by several analyses settles, whatever the
    /// order they arrive in: shared nodes keep the least (or, for a
    /// severity, the greatest) value any report gave, so two ingesters
    /// racing over the same inputs end in the same graph.
    fn rule(self, prop: &str) -> Settle {
        match (self, prop) {
            (Label::Signature, "severity") => Settle::Greatest,
            (Label::Sample | Label::Signature, _) | (Label::Analysis, "report") => Settle::Least,
            _ => Settle::Overwrite,
        }
    }

    pub fn of(kind: NodeKind) -> Label {
        match kind {
            NodeKind::Proc => Label::Process,
            NodeKind::Api => Label::Api,
            NodeKind::Module => Label::Module,
            NodeKind::FileHandle => Label::FileHandle,
            NodeKind::KeyHandle => Label::KeyHandle,
        }
    }

    /// `UNWIND $rows AS row MERGE (n:Label {key: row.key}) SET n.p = row.p, …`
    pub fn merge_statement(self) -> String {
        let key = self.key();
        let mut s = format!("UNWIND $rows AS row MERGE (n:{} {{{key}: row.{key}}})", self.name());
        let props: &[&str] = match self {
            // A sample may be met as a target (with its details) or only as a dropped file.
            Label::Sample => &["name", "size", "md5", "sha1", "type"],
            _ => self.properties(),
        };
        let mut sets: Vec<String> = props
            .iter()
            .map(|p| match self.rule(p) {
                Settle::Overwrite => format!("n.{p} = row.{p}"),
                Settle::Least => format!(
                    "n.{p} = CASE WHEN row.{p} IS NULL THEN n.{p} WHEN n.{p} IS NULL OR row.{p} < n.{p} THEN row.{p} ELSE n.{p} END"
                ),
                Settle::Greatest => format!(
                    "n.{p} = CASE WHEN row.{p} IS NULL THEN n.{p} WHEN n.{p} IS NULL OR row.{p} > n.{p} THEN row.{p} ELSE n.{p} END"
                ),
            })
            .collect();
        if self == Label::Analysis {
            // A new analysis is incomplete until its last batch is written.
            sets.push("n.complete = false".into());
        }
        if !sets.is_empty() {
            s.push_str(" SET ");
            s.push_str(&sets.join(", "));
        }
        s
    }
}

/// How one property of a shared node settles (see [`Label::rule`]).
#[derive(Clone, Copy)]
enum Settle {
    Overwrite,
    Least,
    Greatest,
}

/// A relationship type with the labels of its two ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rel {
    Behaviour(EdgeKind),
    OfSample,
    HasProcess,
    FileRefersTo,
    KeyRefersTo,
    ModuleRefersTo,
    CreatedMutex,
    ContactedDomain,
    ContactedIp,
    ResolvesTo,
    Matched,
    Dropped,
}

impl Rel {
    pub fn all() -> Vec<Rel> {
        let mut v: Vec<Rel> = EdgeKind::ALL.iter().map(|k| Rel::Behaviour(*k)).collect();
        v.extend([
            Rel::OfSample,
            Rel::HasProcess,
            Rel::FileRefersTo,
            Rel::KeyRefersTo,
            Rel::ModuleRefersTo,
            Rel::CreatedMutex,
            Rel::ContactedDomain,
            Rel::ContactedIp,
            Rel::ResolvesTo,
            Rel::Matched,
            Rel::Dropped,
        ]);
        v
    }

    /// The relationship type: spec edge types upper-cased with `-` → `_`.
    pub fn type_name(self) -> &'static str {
        match self {
            Rel::Behaviour(k) => match k {
                EdgeKind::ProcApi => "PROC_API",
                EdgeKind::ApiProc => "API_PROC",
                EdgeKind::ApiNproc => "API_NPROC",
                EdgeKind::ApiApi => "API_API",
                EdgeKind::ApiHandle => "API_HANDLE",
                EdgeKind::HandleApi => "HANDLE_API",
                EdgeKind::ApiKeyHandle => "API_KEY_HANDLE",
                EdgeKind::KeyHandleApi => "KEY_HANDLE_API",
                EdgeKind::ApiFileHandle => "API_FILE_HANDLE",
                EdgeKind::FileHandleApi => "FILE_HANDLE_API",
                EdgeKind::ApiModule => "API_MODULE",
                EdgeKind::ModuleApi => "MODULE_API",
            },
            Rel::OfSample => "OF_SAMPLE",
            Rel::HasProcess => "HAS_PROCESS",
            Rel::FileRefersTo | Rel::KeyRefersTo | Rel::ModuleRefersTo => "REFERS_TO",
            Rel::CreatedMutex => "CREATED_MUTEX",
            Rel::ContactedDomain | Rel::ContactedIp => "CONTACTED",
            Rel::ResolvesTo => "RESOLVES_TO",
            Rel::Matched => "MATCHED",
            Rel::Dropped => "DROPPED",
        }
    }

    /// Labels of the start and end node.
    pub fn ends(self) -> (Label, Label) {
        match self {
            Rel::Behaviour(k) => match k {
                EdgeKind::ProcApi => (Label::Process, Label::Api),
                EdgeKind::ApiProc | EdgeKind::ApiNproc => (Label::Api, Label::Process),
                EdgeKind::ApiApi => (Label::Api, Label::Api),
                // Reserved by the spec, never produced by v1; kept typed for completeness.
                EdgeKind::ApiHandle => (Label::Api, Label::FileHandle),
                EdgeKind::HandleApi => (Label::FileHandle, Label::Api),
                EdgeKind::ApiKeyHandle => (Label::Api, Label::KeyHandle),
                EdgeKind::KeyHandleApi => (Label::KeyHandle, Label::Api),
                EdgeKind::ApiFileHandle => (Label::Api, Label::FileHandle),
                EdgeKind::FileHandleApi => (Label::FileHandle, Label::Api),
                EdgeKind::ApiModule => (Label::Api, Label::Module),
                EdgeKind::ModuleApi => (Label::Module, Label::Api),
            },
            Rel::OfSample => (Label::Analysis, Label::Sample),
            Rel::HasProcess => (Label::Analysis, Label::Process),
            Rel::FileRefersTo => (Label::FileHandle, Label::File),
            Rel::KeyRefersTo => (Label::KeyHandle, Label::RegistryKey),
            Rel::ModuleRefersTo => (Label::Module, Label::Dll),
            Rel::CreatedMutex => (Label::Analysis, Label::Mutex),
            Rel::ContactedDomain => (Label::Analysis, Label::Domain),
            Rel::ContactedIp => (Label::Analysis, Label::IpAddress),
            Rel::ResolvesTo => (Label::Domain, Label::IpAddress),
            Rel::Matched => (Label::Analysis, Label::Signature),
            Rel::Dropped => (Label::Analysis, Label::Sample),
        }
    }

    /// Relationship properties set from the row. Behaviour relationships
    /// carry, besides `count` and `args`, the [`CallArg`]s of their kind.
    pub fn properties(self) -> &'static [&'static str] {
        match self {
            Rel::Behaviour(EdgeKind::ApiNproc) => &["count", "args", "creation_flags", "image", "command_line"],
            Rel::Behaviour(EdgeKind::ApiFileHandle | EdgeKind::FileHandleApi) => {
                &["count", "args", "information_class"]
            }
            Rel::Behaviour(_) => &["count", "args"],
            Rel::Dropped => &["name", "path", "type"],
            Rel::Matched => &["severity", "attack"],
            _ => &[],
        }
    }

    /// `UNWIND $rows AS row MATCH (a:A {k: row.from}) MATCH (b:B {k: row.to}) MERGE (a)-[r:T]->(b) SET …`
    pub fn merge_statement(self) -> String {
        let (a, b) = self.ends();
        let mut s = format!(
            "UNWIND $rows AS row MATCH (a:{} {{{}: row.from}}) MATCH (b:{} {{{}: row.to}}) MERGE (a)-[r:{}]->(b)",
            a.name(),
            a.key(),
            b.name(),
            b.key(),
            self.type_name()
        );
        let sets: Vec<String> = self.properties().iter().map(|p| format!("r.{p} = row.{p}")).collect();
        if !sets.is_empty() {
            s.push_str(" SET ");
            s.push_str(&sets.join(", "));
        }
        s
    }
}

/// A behaviour relationship property read at ingest from the arguments of
/// the call that made the edge (`args`), so that queries compare typed
/// values instead of searching JSON text. Which relationship types carry
/// which is [`Rel::properties`]; the reading is `callargs::typed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallArg {
    /// The relationship property.
    pub name: &'static str,
    /// The argument names it is read from, first present one wins (Cuckoo
    /// and CAPE spell them differently).
    pub from: &'static [&'static str],
    pub read: ArgRead,
}

/// How a [`CallArg`]'s value is read from the argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgRead {
    /// An integer: a JSON number, or a decimal or `0x` hexadecimal string.
    Int,
    /// A non-empty string.
    Text,
    /// A non-empty string, else the program the `command_line` property
    /// names (its first word, or its first quoted part).
    Image,
}

impl CallArg {
    pub const ALL: [CallArg; 4] = [
        CallArg {
            name: "information_class",
            from: &["information_class", "FileInformationClass", "file_information_class"],
            read: ArgRead::Int,
        },
        CallArg {
            name: "creation_flags",
            from: &["CreationFlags", "creation_flags"],
            read: ArgRead::Int,
        },
        CallArg {
            name: "image",
            from: &[
                "ApplicationName",
                "ImagePathName",
                "filepath",
                "application_name",
                "FilePath",
            ],
            read: ArgRead::Image,
        },
        CallArg {
            name: "command_line",
            from: &["CommandLine", "command_line"],
            read: ArgRead::Text,
        },
    ];

    /// The call argument property of this name, if it is one.
    pub fn named(name: &str) -> Option<CallArg> {
        CallArg::ALL.into_iter().find(|a| a.name == name)
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

    #[test]
    fn statements_take_values_only_from_parameters() {
        for l in Label::ALL {
            let s = l.merge_statement();
            assert!(s.starts_with("UNWIND $rows AS row MERGE (n:"), "{s}");
        }
        assert_eq!(
            Rel::Behaviour(EdgeKind::ApiFileHandle).merge_statement(),
            "UNWIND $rows AS row MATCH (a:Api {uid: row.from}) MATCH (b:FileHandle {uid: row.to}) \
             MERGE (a)-[r:API_FILE_HANDLE]->(b) SET r.count = row.count, r.args = row.args, \
             r.information_class = row.information_class"
        );
    }

    #[test]
    fn every_behaviour_property_besides_count_and_args_is_a_call_argument() {
        for k in EdgeKind::ALL {
            for p in Rel::Behaviour(k).properties() {
                assert!(["count", "args"].contains(p) || CallArg::named(p).is_some(), "{p}");
            }
        }
        for a in CallArg::ALL {
            let on = |k| Rel::Behaviour(k).properties().contains(&a.name);
            assert!(EdgeKind::ALL.into_iter().any(on), "{} is on no relationship", a.name);
        }
    }

    #[test]
    fn every_edge_kind_maps_to_its_upper_case_type() {
        for k in EdgeKind::ALL {
            assert_eq!(
                Rel::Behaviour(k).type_name(),
                k.as_str().to_uppercase().replace('-', "_")
            );
        }
    }
}
