//! graphmalw: sandbox reports → behaviour graphs → Neo4j.
//!
//! # Layout
//!
//! Data flows one way through the modules, in this order:
//!
//! 1. [`report`] reads a Cuckoo 2.x or CAPEv2 `report.json` (plain or gzip),
//!    hashes it, and streams its calls, normalised to Cuckoo names, into a sink.
//! 2. [`model`] is that sink: the pure graph builder of `docs/graph-rules.md`
//!    (every rule, including which calls count), producing a [`model::Graph`]
//!    per report, and the views in which sinks write a report's sample and
//!    indicators.
//! 3. [`store`] is the Neo4j model as one typed table, from which the Cypher
//!    statements, the import files' headers and each analysis's rows are made.
//! 4. [`sink`] writes graphs out: JSON, DOT, SVG (through Graphviz), Neo4j
//!    and `neo4j-admin` CSV.
//! 5. [`cmd`] holds one file per command; [`settings`] layers defaults,
//!    `graphmalw.toml`, the environment and the command line.
//!
//! # Error policy
//!
//! A report that cannot be read (I/O, invalid JSON, wrong types) is an error
//! of that report only: it names the file and the JSON path, the other
//! reports go on, and the command exits non-zero at the end. Nothing that
//! comes from a report, a config file or the network may panic.

pub mod cmd;
pub mod correlate;
pub mod model;
pub mod pipeline;
pub(crate) mod queries;
pub mod report;
pub mod settings;
pub mod sink;
pub mod store;
