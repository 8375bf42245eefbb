//! The database model (`docs/neo4j-model.md`) as one typed table: every
//! label with its key, every relationship type with its ends, and every
//! property with its type and the rule by which it settles. Statements
//! ([`cypher`](super::cypher)), the import files ([`import`](super::import))
//! and the rows ([`rows`](super::rows)) are all read off this table; labels
//! and types come only from here, never from report data.

use crate::correlate::IndicatorKind;
use crate::model::{EdgeKind, NodeKind};

/// A property's type in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    String,
    Long,
    Double,
    Boolean,
    StringArray,
    LongArray,
}

/// How a property settles when several rows (or several analyses) write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// The last row wins, a null included.
    Overwrite,
    /// The least non-null value: a null never replaces a value.
    Least,
    /// The greatest non-null value.
    Greatest,
    /// Not from the row: `merge` is the Cypher literal the MERGE statement
    /// sets, `import` the value a bulk import writes.
    Constant { merge: &'static str, import: &'static str },
}

/// One property of a label or relationship type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Property {
    pub name: &'static str,
    pub ty: Type,
    pub settle: Settle,
    /// Has an index besides the key's (see [`schema_statements`](super::cypher::schema_statements)),
    /// so its values are cut to [`MAX_KEY_BYTES`](super::limits::MAX_KEY_BYTES), as keys are.
    pub indexed: bool,
}

impl Property {
    const fn new(name: &'static str, ty: Type) -> Property {
        Property {
            name,
            ty,
            settle: Settle::Overwrite,
            indexed: false,
        }
    }
    const fn indexed(self) -> Property {
        Property { indexed: true, ..self }
    }
    const fn least(self) -> Property {
        Property {
            settle: Settle::Least,
            ..self
        }
    }
    const fn greatest(self) -> Property {
        Property {
            settle: Settle::Greatest,
            ..self
        }
    }
}

const fn text(name: &'static str) -> Property {
    Property::new(name, Type::String)
}

const fn long(name: &'static str) -> Property {
    Property::new(name, Type::Long)
}

const fn boolean(name: &'static str) -> Property {
    Property::new(name, Type::Boolean)
}

/// Set (`true`) on the shared node of an indicator the safelist holds, with
/// the list's reason; absent otherwise. Computed in Rust from the node's key
/// ([`Marks`](super::rows::Marks)), so every row of a node agrees.
const SAFELISTED: Property = boolean("safelisted");
const SAFELIST_REASON: Property = text("safelist_reason");
const INDICATOR: &[Property] = &[SAFELISTED, SAFELIST_REASON];
/// `:File` indexes `safelisted`: one index is enough to make the key known
/// to a database in which no indicator is safelisted yet (the shared-indicator
/// queries read it, and would draw an unknown-property warning otherwise).
const FILE: &[Property] = &[SAFELISTED.indexed(), SAFELIST_REASON];

const ANALYSIS: &[Property] = &[
    text("report").least(),
    text("format"),
    long("task_id"),
    text("started"),
    Property::new("score", Type::Double),
    long("nodes"),
    long("edges"),
    // A new analysis is incomplete until its last batch is written; a bulk
    // import holds whole analyses, so there it is complete.
    Property {
        settle: Settle::Constant {
            merge: "false",
            import: "true",
        },
        ..Property::new("complete", Type::Boolean).indexed()
    },
    // A clean baseline (`ingest --baseline`): its indicators never link
    // samples. Indexed, which also makes the key known to a database where
    // no analysis is a baseline (queries that read it then draw no warning).
    boolean("baseline").indexed(),
    // API similarity (`correlate::minhash::Sketch` of the API set: the api
    // nodes' names, lowercased, distinct): its size, its elements' sorted
    // 64-bit hashes (exact Jaccard of candidate pairs) and its MinHash
    // signature; the set's LSH bands are `IN_API_BAND` links.
    long("api_count"),
    Property::new("api_hashes", Type::LongArray),
    Property::new("api_minhash", Type::LongArray),
    // Indicator similarity: the MinHash signature of the analysis's
    // indicators that are not safelisted (`kind:value`, as `correlate`
    // compares them) and their number; no bands (`correlate` links analyses
    // through the shared indicator nodes themselves).
    long("ioc_count"),
    Property::new("ioc_minhash", Type::LongArray),
];

/// A sample may be met as a target (with its details) or only as a dropped
/// file; whatever the order, it keeps the least value any report gave.
const SAMPLE: &[Property] = &[
    text("name").least(),
    long("size").least(),
    text("md5").least(),
    text("sha1").least(),
    text("type").least(),
    SAFELISTED,
    SAFELIST_REASON,
];

const PROCESS: &[Property] = &[
    text("analysis").indexed(),
    long("pid"),
    long("ppid"),
    text("name").indexed(),
    text("path"),
];

const API: &[Property] = &[
    text("analysis").indexed(),
    text("name").indexed(),
    text("api").indexed(),
    text("category"),
];

const MODULE: &[Property] = &[text("analysis").indexed(), text("name"), text("address")];

const HANDLE: &[Property] = &[
    text("analysis").indexed(),
    text("address"),
    text("path").indexed(),
    long("pid"),
];

/// Shared across analyses: the least description and the greatest severity
/// any report gave, so two ingesters racing over the same inputs end in the
/// same graph.
const SIGNATURE: &[Property] = &[text("description").least(), long("severity").greatest()];

/// A group of analyses `graphmalw correlate` linked by shared rare
/// indicators: its member count and the settings that found it. `params` is
/// indexed so that its key is known before the first `correlate` (the
/// `campaigns` query then draws no warning from Neo4j).
const CAMPAIGN: &[Property] = &[long("members"), text("params").indexed()];

const COUNT: Property = long("count");
const ARGS: Property = text("args");
const BEHAVIOUR: &[Property] = &[COUNT, ARGS];
const PROCESS_CREATION: &[Property] = &[
    COUNT,
    ARGS,
    CallArg::CREATION_FLAGS.property(),
    CallArg::IMAGE.property(),
    CallArg::COMMAND_LINE.property(),
];
const FILE_INFORMATION: &[Property] = &[COUNT, ARGS, CallArg::INFORMATION_CLASS.property()];
const DROPPED: &[Property] = &[text("name"), text("path"), text("type")];
const MATCHED: &[Property] = &[long("severity"), Property::new("attack", Type::StringArray)];

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
    Campaign,
    ApiBand,
}

impl Label {
    pub const ALL: [Label; 16] = [
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
        Label::Campaign,
        Label::ApiBand,
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
            Label::Campaign => "Campaign",
            Label::ApiBand => "ApiBand",
        }
    }

    /// The unique key property.
    pub fn key(self) -> &'static str {
        match self {
            Label::Analysis | Label::Campaign => "id",
            Label::Sample => "sha256",
            Label::Process | Label::Api | Label::Module | Label::FileHandle | Label::KeyHandle => "uid",
            Label::File | Label::RegistryKey => "path",
            Label::Dll | Label::Mutex | Label::Domain | Label::Signature => "name",
            Label::IpAddress => "address",
            Label::ApiBand => "key",
        }
    }

    /// Properties besides the key, in the order statements and files list them.
    pub fn properties(self) -> &'static [Property] {
        match self {
            Label::Analysis => ANALYSIS,
            Label::Sample => SAMPLE,
            Label::Process => PROCESS,
            Label::Api => API,
            Label::Module => MODULE,
            Label::FileHandle | Label::KeyHandle => HANDLE,
            Label::File => FILE,
            Label::RegistryKey | Label::Mutex | Label::Domain | Label::IpAddress => INDICATOR,
            Label::Dll | Label::ApiBand => &[],
            Label::Signature => SIGNATURE,
            Label::Campaign => CAMPAIGN,
        }
    }

    /// The property of this name, if the label has it (the key is none).
    pub fn property(self, name: &str) -> Option<&'static Property> {
        self.properties().iter().find(|p| p.name == name)
    }

    /// Properties with an index besides the key's.
    pub fn indexed(self) -> impl Iterator<Item = &'static str> {
        self.properties().iter().filter(|p| p.indexed).map(|p| p.name)
    }

    /// Is this label one shared across analyses (neither `:Analysis` nor a
    /// behaviour label)?
    pub fn is_shared(self) -> bool {
        self != Label::Analysis && !Label::BEHAVIOUR.contains(&self)
    }

    /// The indicator kind a shared node of this label is, for the safelist
    /// (`:Sample` as a dropped file's hash).
    pub fn indicator(self) -> Option<IndicatorKind> {
        match self {
            Label::File => Some(IndicatorKind::File),
            Label::RegistryKey => Some(IndicatorKind::Registry),
            Label::Mutex => Some(IndicatorKind::Mutex),
            Label::Domain => Some(IndicatorKind::Domain),
            Label::IpAddress => Some(IndicatorKind::Ip),
            Label::Sample => Some(IndicatorKind::Dropped),
            _ => None,
        }
    }

    /// The label of the indicator nodes of this kind (the end of [`Label::holder_rel`]).
    pub fn of_indicator(kind: IndicatorKind) -> Label {
        Label::holder_rel(kind).ends().1
    }

    /// The relationship from a holder to an indicator node of this kind:
    /// from an `:Analysis`, or from a handle, whose `analysis` names it.
    pub fn holder_rel(kind: IndicatorKind) -> Rel {
        match kind {
            IndicatorKind::File => Rel::FileRefersTo,
            IndicatorKind::Registry => Rel::KeyRefersTo,
            IndicatorKind::Mutex => Rel::CreatedMutex,
            IndicatorKind::Domain => Rel::ContactedDomain,
            IndicatorKind::Ip => Rel::ContactedIp,
            IndicatorKind::Dropped => Rel::Dropped,
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
    InCampaign,
    InApiBand,
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
            Rel::InCampaign,
            Rel::InApiBand,
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
            Rel::InCampaign => "IN_CAMPAIGN",
            Rel::InApiBand => "IN_API_BAND",
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
            Rel::InCampaign => (Label::Analysis, Label::Campaign),
            Rel::InApiBand => (Label::Analysis, Label::ApiBand),
        }
    }

    /// Relationship properties set from the row. Behaviour relationships
    /// carry, besides `count` and `args`, the [`CallArg`]s of their kind.
    pub fn properties(self) -> &'static [Property] {
        match self {
            Rel::Behaviour(EdgeKind::ApiNproc) => PROCESS_CREATION,
            Rel::Behaviour(EdgeKind::ApiFileHandle | EdgeKind::FileHandleApi) => FILE_INFORMATION,
            Rel::Behaviour(_) => BEHAVIOUR,
            Rel::Dropped => DROPPED,
            Rel::Matched => MATCHED,
            _ => &[],
        }
    }
}

/// A behaviour relationship property read at ingest from the arguments of
/// the call that made the edge (`args`), so that queries compare typed
/// values instead of searching JSON text. Which relationship types carry
/// which is [`Rel::properties`]; the reading is [`callargs::typed`](super::callargs::typed).
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
    pub const INFORMATION_CLASS: CallArg = CallArg {
        name: "information_class",
        from: &["information_class", "FileInformationClass", "file_information_class"],
        read: ArgRead::Int,
    };
    pub const CREATION_FLAGS: CallArg = CallArg {
        name: "creation_flags",
        from: &["CreationFlags", "creation_flags"],
        read: ArgRead::Int,
    };
    pub const IMAGE: CallArg = CallArg {
        name: "image",
        from: &[
            "ApplicationName",
            "ImagePathName",
            "filepath",
            "application_name",
            "FilePath",
        ],
        read: ArgRead::Image,
    };
    pub const COMMAND_LINE: CallArg = CallArg {
        name: "command_line",
        from: &["CommandLine", "command_line"],
        read: ArgRead::Text,
    };
    pub const ALL: [CallArg; 4] = [
        CallArg::INFORMATION_CLASS,
        CallArg::CREATION_FLAGS,
        CallArg::IMAGE,
        CallArg::COMMAND_LINE,
    ];

    /// The call argument property of this name, if it is one.
    pub fn named(name: &str) -> Option<CallArg> {
        CallArg::ALL.into_iter().find(|a| a.name == name)
    }

    /// The relationship property it fills: an integer or a string.
    const fn property(self) -> Property {
        match self.read {
            ArgRead::Int => long(self.name),
            ArgRead::Text | ArgRead::Image => text(self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_behaviour_property_besides_count_and_args_is_a_call_argument() {
        for k in EdgeKind::ALL {
            for p in Rel::Behaviour(k).properties() {
                let call_arg = CallArg::named(p.name).map(CallArg::property);
                assert!([COUNT, ARGS].contains(p) || call_arg == Some(*p), "{}", p.name);
            }
        }
        for a in CallArg::ALL {
            let on = |k| Rel::Behaviour(k).properties().contains(&a.property());
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

    #[test]
    fn a_property_name_has_one_type_across_the_model() {
        let mut all: Vec<&Property> = Label::ALL.iter().flat_map(|l| l.properties()).collect();
        all.extend(Rel::all().into_iter().flat_map(|r| r.properties()));
        for a in &all {
            for b in &all {
                assert!(a.name != b.name || a.ty == b.ty, "{} has two types", a.name);
            }
        }
    }

    #[test]
    fn keys_are_no_properties_and_shared_labels_are_the_rest() {
        for l in Label::ALL {
            assert!(l.property(l.key()).is_none(), ":{}", l.name());
        }
        let shared: Vec<Label> = Label::ALL.into_iter().filter(|l| l.is_shared()).collect();
        assert_eq!(shared.len(), Label::ALL.len() - 1 - Label::BEHAVIOUR.len());
    }

    #[test]
    fn every_indicator_kind_is_held_through_a_relationship_to_its_label() {
        for kind in IndicatorKind::ALL {
            assert_eq!(Label::of_indicator(kind).indicator(), Some(kind), "{kind:?}");
        }
    }
}
