//! graphmalw: sandbox reports → behaviour graphs → Neo4j.
//!
//! # Layout
//!
//! Data flows one way through the modules, in this order; each uses only
//! the ones before it (`tests/integration/layers.rs` checks it):
//!
//! 1. [`report`] reads a Cuckoo 2.x or CAPEv2 `report.json` (plain or gzip),
//!    hashes it, and streams its calls, normalised to Cuckoo names, into a
//!    [`report::CallSink`]. It extracts facts and decides nothing.
//! 2. [`model`] is that sink: the pure graph builder of `docs/graph-rules.md`
//!    (every rule, including which calls count), producing a [`model::Graph`]
//!    per report, and the views in which sinks write a report's sample and
//!    indicators.
//! 3. [`correlate`] is what links analyses across a corpus and what must
//!    not: the safelist, MinHash signatures, campaigns (`docs/correlation.md`).
//! 4. [`store`] is the Neo4j model as one typed table, from which the Cypher
//!    statements, the schema, the import files' headers and each analysis's
//!    rows are made. No I/O.
//! 5. [`sink`] writes graphs out: JSON, DOT, SVG (through Graphviz), GraphML,
//!    JSON lines, `neo4j-admin` CSV, and Neo4j over Bolt.
//! 6. [`pipeline`] finds reports and runs read → build → prepare on worker
//!    threads, handing results to an output in input order.
//! 7. [`settings`] composes each component's typed settings from defaults,
//!    `graphmalw.toml`, the environment and the command line.
//! 8. [`cmd`] holds one file per command: it picks its output and formats
//!    its summary.
//!
//! The shipped hunting queries (`cypher/*.cypher`) are compiled in by
//! `queries`, which depends on nothing.
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
