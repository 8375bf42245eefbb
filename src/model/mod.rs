//! The behaviour graph: node and edge types of the spec, and the pure builder
//! that turns normalised calls into a graph.
//!
//! Nothing here does I/O. The builder is a [`CallSink`](crate::report::CallSink):
//! the report parser pushes calls into it, and [`GraphBuilder::finish`]
//! returns the [`Graph`] with nodes and edges in first-insertion order. A
//! big report's calls come in pieces parsed on another thread: the builder's
//! planner reads each call there, and the builder replays the plans in order.
//! Every graph rule of `docs/graph-rules.md` lives here, including which
//! calls count at all (C1–C3, in `rules`); the parser only reads and
//! normalises. The output views ([`SampleView`], [`IocsView`]) are here too:
//! the shape in which sinks write what a report says about itself.

mod builder;
mod graph;
pub(crate) mod rules;
mod view;

pub use builder::{GraphBuilder, GraphConfig};
pub use graph::{Args, Edge, EdgeKind, Graph, Node, NodeId, NodeKind, NodeProps};
pub use view::{IocsView, SampleView};

use crate::report::ReportMeta;

/// The result of building one report (spec sections 1 and G1).
#[derive(Debug)]
pub enum Outcome {
    Built(Graph),
    /// No `behavior` key, or no processes.
    NoBehaviour,
    /// Processes, but no node survived the rules (G1).
    Empty,
}

/// One analysed report: what it says about itself, and its graph.
#[derive(Debug)]
pub struct Analysis {
    pub meta: ReportMeta,
    pub outcome: Outcome,
}

impl Analysis {
    pub fn graph(&self) -> Option<&Graph> {
        match &self.outcome {
            Outcome::Built(g) => Some(g),
            _ => None,
        }
    }
}
