//! Embeds every `cypher/*.cypher` file in the binary (include_str!), so the
//! query pack shipped and the files users paste into Neo4j Browser are one.

use std::fmt::Write;
use std::path::Path;

fn main() {
    // Read at run time: a build script's binary may be shared by checkouts
    // that use one target directory, and `env!` would bake in the first one's.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest_dir).join("cypher");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "cypher"));
    files.sort();
    let mut out = String::from(
        "/// Every `cypher/*.cypher` file: (file name, text).\npub static QUERY_FILES: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _ = writeln!(out, "    ({name:?}, include_str!({:?})),", f.display().to_string());
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("queries.rs");
    std::fs::write(dest, out).expect("writing queries.rs");
}
