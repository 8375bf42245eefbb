//! Reading sandbox reports: bytes on disk → typed, normalised calls.
//!
//! This module owns everything that knows what a Cuckoo 2.x or CAPEv2
//! `report.json` looks like. It reads a file (plain or gzip), hashes its bytes
//! for the analysis id, and deserializes it *straight into typed values*: the
//! call lists are never held as a generic JSON tree, and every part of the
//! report the graph does not use (static analysis, strings, memory dumps…) is
//! skipped by serde without being built. Calls are handed one by one to a
//! [`CallSink`] (the graph builder) as they are parsed, so memory follows the
//! graph, not the report.
//!
//! It is not for graph rules: nothing here decides what becomes a node or
//! which calls count (rules C1–C3 are `model::rules`'; the parser learns the
//! fields C3 ignores from its [`CallSink`]).

mod call;
mod cape;
mod chunked;
mod fanout;
mod iocs;
mod parse;
mod read;
mod scan;

pub(crate) use call::{Arg, ArgRef, CallBuf};
pub(crate) use fanout::{borrow_one, drop_beside};
pub use fanout::{lend, reclaim, set_cores};
pub(crate) use iocs::{Dropped, Iocs, Signature};
pub(crate) use read::{read_report, read_report_bytes};
pub use read::{ReadLimits, ReportError};

use serde_json::Value;

/// The two argument schemas of spec section 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Cuckoo 2.x: arguments as an object, Cuckoo names.
    Cuckoo,
    /// CAPEv2, Cuckoo 1.x and cuckoo-modified: arguments as a name/value list.
    Cape,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Cuckoo => "cuckoo",
            Format::Cape => "cape",
        }
    }
}

/// One entry of `behavior.processes`, without its calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessInfo {
    pub pid: i64,
    pub ppid: Option<i64>,
    pub name: Option<String>,
    /// `process_path` (Cuckoo) or `module_path` (CAPE); `None` when absent.
    pub path: Option<String>,
}

/// One API call, normalised to Cuckoo names (spec section 1), as owned
/// values: for driving a builder by hand (the parser hands out `CallBuf`s).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub api: String,
    pub category: String,
    /// Arguments in report order, names normalised, first occurrence of a name wins.
    pub args: Vec<(String, Value)>,
    /// `last_error`, when it is a number (rule C2 reads it).
    pub last_error: Option<i64>,
    /// Every other field of the call except those rule C3 does not compare,
    /// kept only so that C3 can compare a call with the previous one.
    pub rest: Vec<(String, Value)>,
}

impl Call {
    pub fn arg(&self, name: &str) -> Option<&Value> {
        self.args.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// Receives the behaviour of a report as it is parsed.
///
/// `begin_process` is called for every listed process (even one without
/// calls), then `call` for each of its calls in order, then `end_process`.
/// An `Err` from `call` aborts the report with that message at the call's
/// place in the JSON.
///
/// A big report's calls may instead come in pieces parsed on another
/// thread ([`fanout`]): there the sink's [`CallSink::Planner`] makes a
/// [`CallSink::Piece`] of each piece's calls, and [`CallSink::piece`]
/// takes both here, in report order.
pub trait CallSink {
    /// What a piece of calls becomes beside its parsing.
    type Piece: Default + Send;
    /// Makes pieces, on any thread.
    type Planner: PlanPieces<Self::Piece>;

    fn begin_process(&mut self, process: &ProcessInfo);
    /// One call, normalised. The record is the sink's to keep or swap with
    /// one of its own (the parser fills whatever buffer it gets back; it
    /// reuses the buffers' capacity, so parsing does not allocate per call).
    fn call(&mut self, call: &mut CallBuf) -> Result<(), String>;
    /// The planner of the current process's pieces.
    fn planner(&self) -> Self::Planner;
    /// The next calls of the current process, parsed on another thread:
    /// what the planner made of them, and those it handed over. An `Err`
    /// names the call (its index in `calls`) where the sink stopped, with
    /// the message `call` would give.
    fn piece(&mut self, calls: &mut [CallBuf], piece: &mut Self::Piece) -> Result<(), (usize, String)> {
        let _ = piece;
        for (j, call) in calls.iter_mut().enumerate() {
            self.call(call).map_err(|e| (j, e))?;
        }
        Ok(())
    }
    /// The call fields the sink never compares (rule C3's policy, which the
    /// sink owns): the parser skips them instead of keeping them in the
    /// `CallBuf`.
    fn uncompared_fields(&self) -> &'static [&'static str];
    fn end_process(&mut self);
}

/// Plans pieces of calls for a [`CallSink`], on the thread that parses them.
pub trait PlanPieces<P>: Sync {
    /// A piece starts.
    fn begin(&self, piece: &mut P);
    /// The piece's next call, parsed. The buffer is the planner's to keep
    /// or swap with one of its own; `true` when the sink wants the call
    /// itself, in the calls [`CallSink::piece`] gets.
    fn call(&self, call: &mut CallBuf, piece: &mut P) -> bool;
}

/// A sink that plans nothing: it takes its pieces' calls one by one.
impl PlanPieces<()> for () {
    fn begin(&self, _: &mut ()) {}
    fn call(&self, _: &mut CallBuf, _: &mut ()) -> bool {
        true
    }
}

/// What the report says about the analysed file (`target.file`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SampleInfo {
    pub sha256: Option<String>,
    pub name: Option<String>,
    pub size: Option<u64>,
    pub file_type: Option<String>,
    pub md5: Option<String>,
    pub sha1: Option<String>,
}

/// Everything a report yields besides its calls.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportMeta {
    /// The analysis id: BLAKE3 of the JSON bytes after decompression (spec section 1).
    pub id: String,
    /// The file name, without directories.
    pub report: String,
    /// Size of the file as stored, in bytes.
    pub stored_bytes: u64,
    /// `None` when the report has no processes (then there is no graph).
    pub format: Option<Format>,
    pub has_behavior: bool,
    pub processes: usize,
    pub sample: SampleInfo,
    pub info: AnalysisInfo,
    pub iocs: Iocs,
}

/// `info` section fields kept on the `:Analysis` node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnalysisInfo {
    pub version: Option<String>,
    pub task_id: Option<i64>,
    pub started: Option<String>,
    pub score: Option<f64>,
}
