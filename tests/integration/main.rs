//! The integration tests: one binary, a module per area (ripgrep style).
//!
//! `db`, `faults`, `export`, `queries` and `bulk` need a Bolt server named by
//! `NEO4J_URI` (and `NEO4J_USERNAME`, `NEO4J_PASSWORD`, `NEO4J_DATABASE`);
//! `scripts/test` starts a local Neo4j and a local ArcadeDB and runs them on
//! both. Those tests EMPTY the database they are pointed at.

mod support;

mod bulk;
mod cli;
mod db;
mod export;
mod faults;
mod fixtures;
mod golden;
mod hostile;
mod layers;
mod queries;
