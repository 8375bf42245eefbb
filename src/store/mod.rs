//! The database model, as data: one typed table ([`schema`]) of labels,
//! relationship types, keys, properties, their types and how they settle,
//! and Neo4j's limits on them ([`limits`]). Everything that must agree with
//! the database is generated from that table: the Cypher statements and the
//! constraints and indexes ([`cypher`]), the `neo4j-admin` import files'
//! headers ([`import`]), and the parameter rows of an analysis ([`rows`],
//! with [`callargs`] for the typed properties of a call's arguments).
//!
//! No I/O here, and nothing parses or rewrites Cypher text: a new property
//! is one line of the table. `store` reads [`model`](crate::model) graphs and
//! is read by the sinks that write them (`sink::neo4j`, `sink::csv`).

pub mod callargs;
pub mod cypher;
pub mod import;
pub mod limits;
pub mod rows;
pub mod schema;

pub use cypher::{schema_statements, Params};
pub use import::FileKey;
pub use limits::{MAX_KEY_BYTES, TRUNCATION_MARKER};
pub use rows::{analysis_rows, campaign_rows, Marks, Prop, Row, Rows};
pub use schema::{ArgRead, CallArg, Label, Property, Rel, Settle, Type};
