//! SVG through Graphviz: the DOT text piped into `dot -Tsvg`.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

/// Settings-independent name of the Graphviz layout program.
const DOT_PROGRAM: &str = "dot";

#[derive(Debug, thiserror::Error)]
pub enum SvgError {
    #[error(
        "Graphviz `dot` was not found on PATH; SVG output needs it. Install Graphviz \
         (Debian/Ubuntu: `sudo apt-get install graphviz`, macOS: `brew install graphviz`, \
         Windows: `winget install graphviz`) or use --format dot"
    )]
    NotInstalled,
    #[error("running Graphviz `dot`: {0}")]
    Io(#[from] std::io::Error),
    #[error("Graphviz `dot` failed: {0}")]
    Failed(String),
}

/// Render DOT text to SVG bytes.
pub fn render_svg(dot: &[u8]) -> Result<Vec<u8>, SvgError> {
    let mut child = match Command::new(DOT_PROGRAM)
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(SvgError::NotInstalled),
        Err(e) => return Err(e.into()),
    };
    let mut stdin = child.stdin.take().ok_or_else(|| SvgError::Failed("no stdin".into()))?;
    let input = dot.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut svg = Vec::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_end(&mut svg)?;
    }
    let output = child.wait_with_output()?;
    let _ = writer.join();
    if !output.status.success() {
        return Err(SvgError::Failed(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    Ok(svg)
}
