//! Fuzz target: bytes → report parser → graph builder → every output the
//! graph feeds (JSON, DOT, Neo4j parameter rows). Any panic, hang or
//! runaway allocation here is a bug: reports are attacker-controlled.
//!
//! The target is named `parse_build` (cargo forbids a binary named `build`);
//! run it with `fuzz/run --seconds N`.

#![no_main]

use graphmalw::model::GraphConfig;
use graphmalw::pipeline::build_bytes;
use graphmalw::report::ReadLimits;
use graphmalw::store::analysis_rows;
use graphmalw::sink::{dot, json, HandleLabel};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cfg = GraphConfig::default();
    // Small enough that a gzip bomb cannot exhaust libFuzzer's memory limit.
    let limits = ReadLimits {
        max_report_bytes: 8 << 20,
    };
    let Ok(analysis) = build_bytes(data, "fuzz.json", &cfg, limits) else {
        return;
    };
    // Short cuts so that truncation at char boundaries is exercised too.
    let _ = analysis_rows(&analysis, 16);
    let _ = analysis_rows(&analysis, 64 * 1024);
    if let Some(graph) = analysis.graph() {
        let mut buf = Vec::new();
        json::write_graph(&mut buf, &analysis, graph).expect("JSON output to memory");
        serde_json::from_slice::<serde_json::Value>(&buf).expect("the JSON output parses");
        buf.clear();
        dot::write_dot(&mut buf, graph, HandleLabel::Path, &analysis.meta.report).expect("DOT output to memory");
        buf.clear();
        dot::write_dot(&mut buf, graph, HandleLabel::Address, "t\"itle").expect("DOT output to memory");
    }
});
