//! From a path to a parsed report: open, hash, decompress, deserialize.
//!
//! Small files are read whole and parsed from memory (fastest); large ones
//! are streamed through a buffered reader so memory does not follow the file
//! size. Either way the SHA-256 of the stored bytes is computed on the way.

use super::parse::{Collected, ReportSeed};
use super::{CallSink, ReportMeta};
use flate2::read::MultiGzDecoder;
use serde::de::DeserializeSeed;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// Files up to this size (as stored) are read into memory in one go.
const WHOLE_FILE_LIMIT: u64 = 64 << 20;

/// A gzip report read whole is decompressed in memory up to this size;
/// beyond it, it is parsed as it is decompressed.
const IN_MEMORY_TEXT_LIMIT: u64 = 256 << 20;

/// Bounds on what one report may cost.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Largest report accepted, counted in decompressed bytes.
    pub max_report_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_report_bytes: 4 << 30,
        }
    }
}

/// Why one report could not be read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{file}: {source}")]
    Io { file: String, source: io::Error },
    #[error("{file}: {}", json_message(.path, .message))]
    Json {
        file: String,
        path: String,
        message: String,
        line: usize,
        column: usize,
    },
    #[error("{file}: report is larger than the limit of {limit} bytes (limits.max_report_bytes)")]
    TooLarge { file: String, limit: u64 },
}

fn json_message(path: &str, message: &str) -> String {
    // serde_path_to_error writes `?` for a key it never got to read (truncated input).
    let path = path.strip_suffix(".?").unwrap_or(path);
    if path.is_empty() || path == "." || path == "?" {
        message.to_owned()
    } else {
        format!("at {path}: {message}")
    }
}

/// Parse the report at `path`, handing its calls to `sink`.
pub fn read_report<S: CallSink>(path: &Path, limits: ReadLimits, sink: &mut S) -> Result<ReportMeta, ReportError> {
    let file_name = path.display().to_string();
    let io_err = |source: io::Error| ReportError::Io {
        file: file_name.clone(),
        source,
    };
    // Checked before opening: opening a FIFO blocks, and /dev/zero never ends.
    let not_regular = |m: &std::fs::Metadata| {
        let what = if m.is_dir() { "a directory" } else { "a FIFO, socket or device" };
        io_err(io::Error::other(format!("not a regular file ({what}); skipped")))
    };
    let before = std::fs::metadata(path).map_err(|e| io_err(context("cannot open", e)))?;
    if !before.is_file() {
        return Err(not_regular(&before));
    }
    let mut file = File::open(path).map_err(|e| io_err(context("cannot open", e)))?;
    let metadata = file.metadata().map_err(io_err)?;
    if !metadata.is_file() {
        return Err(not_regular(&metadata));
    }
    let stored_bytes = metadata.len();
    let report = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if stored_bytes <= WHOLE_FILE_LIMIT {
        let mut stored = Vec::with_capacity(stored_bytes as usize + 1);
        // `take`: a file that grows while it is read (or a /proc file that
        // claims size 0) still goes no further than the limits allow.
        (&mut file)
            .take(limits.max_report_bytes.saturating_add(1))
            .read_to_end(&mut stored)
            .map_err(|e| io_err(context("cannot read", e)))?;
        return parse_stored(&file_name, &report, &stored, limits, sink);
    }

    let mut magic = [0u8; 2];
    let n = read_up_to(&mut file, &mut magic).map_err(|e| io_err(context("cannot read", e)))?;
    let gzip = n == 2 && magic == [0x1f, 0x8b];
    let prefix = io::Cursor::new(magic[..n].to_vec());
    let mut hasher = Sha256::new();
    let mut out = Collected::default();
    let hashing = HashingReader {
        inner: prefix.chain(file),
        hasher: &mut hasher,
    };
    parse_stream(&file_name, hashing, gzip, limits, sink, &mut out)?;
    Ok(meta(hasher, report, stored_bytes, out))
}

/// Parse a report as it is read from `input` (JSON, or gzip when `gzip`):
/// memory does not follow its size, and no more than
/// `limits.max_report_bytes` decompressed bytes are read.
fn parse_stream<S: CallSink>(
    file_name: &str,
    input: impl Read,
    gzip: bool,
    limits: ReadLimits,
    sink: &mut S,
    out: &mut Collected,
) -> Result<(), ReportError> {
    let decoded: Box<dyn Read + '_> = if gzip {
        Box::new(MultiGzDecoder::new(input))
    } else {
        Box::new(input)
    };
    let mut counted = LimitReader {
        inner: decoded,
        left: limits.max_report_bytes,
        exceeded: false,
    };
    let r = {
        let mut buffered = BufReader::with_capacity(1 << 16, &mut counted);
        if let Ok(start) = io::BufRead::fill_buf(&mut buffered) {
            if let Some(e) = bad_start(file_name, start) {
                return Err(e);
            }
        }
        let mut de = serde_json::Deserializer::from_reader(buffered);
        deserialize(&mut de, sink, out)
    };
    if counted.exceeded {
        return Err(ReportError::TooLarge {
            file: file_name.to_owned(),
            limit: limits.max_report_bytes,
        });
    }
    match r {
        Ok(()) => {
            // The hash covers every stored byte, including what the parser did not need.
            io::copy(&mut counted.inner, &mut io::sink()).map_err(|e| stream_error(file_name, gzip, e))?;
            Ok(())
        }
        Err((_, inner)) if inner.is_io() => Err(stream_error(file_name, gzip, io::Error::other(inner.to_string()))),
        Err(e) => Err(json_error(file_name, e)),
    }
}

/// Parse a report held in memory: `stored` are the bytes as they would be on
/// disk (gzip or plain JSON), `name` the file name it is known by. This is
/// what [`read_report`] does for every file up to 64 MiB, without the I/O;
/// the fuzz target drives it directly.
pub fn read_report_bytes<S: CallSink>(
    name: &str,
    stored: &[u8],
    limits: ReadLimits,
    sink: &mut S,
) -> Result<ReportMeta, ReportError> {
    parse_stored(name, name, stored, limits, sink)
}

fn parse_stored<S: CallSink>(
    file_name: &str,
    report: &str,
    stored: &[u8],
    limits: ReadLimits,
    sink: &mut S,
) -> Result<ReportMeta, ReportError> {
    let mut hasher = Sha256::new();
    hasher.update(stored);
    let too_large = || ReportError::TooLarge {
        file: file_name.to_owned(),
        limit: limits.max_report_bytes,
    };
    if stored.len() as u64 > limits.max_report_bytes {
        return Err(too_large());
    }
    let gzip = stored.starts_with(&[0x1f, 0x8b]);
    let decompressed;
    let text: &[u8] = if gzip {
        // Decompressed in memory up to a bound; past it (a large report, or a
        // gzip bomb) it is parsed as a stream, so memory stays bounded.
        let cap = limits.max_report_bytes.min(IN_MEMORY_TEXT_LIMIT);
        let mut text = Vec::new();
        MultiGzDecoder::new(stored)
            .take(cap.saturating_add(1))
            .read_to_end(&mut text)
            .map_err(|e| stream_error(file_name, true, e))?;
        if text.len() as u64 > cap {
            if cap == limits.max_report_bytes {
                return Err(too_large());
            }
            drop(text);
            let mut out = Collected::default();
            parse_stream(file_name, stored, true, limits, sink, &mut out)?;
            return Ok(meta(hasher, report.to_owned(), stored.len() as u64, out));
        }
        decompressed = text;
        &decompressed
    } else {
        stored
    };
    if let Some(e) = bad_start(file_name, text) {
        return Err(e);
    }
    let mut out = Collected::default();
    let mut de = serde_json::Deserializer::from_slice(text);
    deserialize(&mut de, sink, &mut out).map_err(|e| {
        let mut err = json_error(file_name, e);
        if let ReportError::Json {
            message, line, column, ..
        } = &mut err
        {
            if let Some(h) = hint(text, *line, *column) {
                *message = format!("{h}: {message}");
            }
        }
        err
    })?;
    Ok(meta(hasher, report.to_owned(), stored.len() as u64, out))
}

fn meta(hasher: Sha256, report: String, stored_bytes: u64, out: Collected) -> ReportMeta {
    ReportMeta {
        id: hex(&hasher.finalize()),
        report,
        stored_bytes,
        format: out.format,
        has_behavior: out.has_behavior,
        processes: out.processes,
        sample: out.sample,
        info: out.info,
        iocs: out.iocs,
    }
}

fn json_error(file: &str, (path, inner): (String, serde_json::Error)) -> ReportError {
    ReportError::Json {
        file: file.to_owned(),
        path: shorten(path, 200),
        message: shorten(inner.to_string(), 400),
        line: inner.line(),
        column: inner.column(),
    }
}

/// Keep an error line readable: a report's keys and values end up in paths
/// and messages (`invalid type: string "…"`), and may be megabytes long.
fn shorten(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let floor = |mut i: usize| {
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let head = floor(max / 2);
    let tail = floor(s.len() - max / 3);
    format!("{}…{}", &s[..head], &s[tail..])
}

fn deserialize<'de, R: serde_json::de::Read<'de>, S: CallSink>(
    de: &mut serde_json::Deserializer<R>,
    sink: &mut S,
    out: &mut Collected,
) -> Result<(), (String, serde_json::Error)> {
    let mut track = serde_path_to_error::Track::new();
    let pd = serde_path_to_error::Deserializer::new(&mut *de, &mut track);
    if let Err(e) = (ReportSeed { sink, out }).deserialize(pd) {
        return Err((track.path().to_string(), e));
    }
    de.end().map_err(|e| (String::new(), e))
}

/// A report that is not UTF-8 JSON from its first byte: said plainly rather
/// than as serde_json's "expected value at line 1 column 1".
fn bad_start(file: &str, start: &[u8]) -> Option<ReportError> {
    let message = if start.starts_with(&[0xef, 0xbb, 0xbf]) {
        "starts with a UTF-8 byte order mark (EF BB BF), which JSON does not allow"
    } else if start.starts_with(&[0xff, 0xfe]) || start.starts_with(&[0xfe, 0xff]) {
        "is UTF-16 text (byte order mark); reports must be UTF-8 JSON"
    } else {
        return None;
    };
    Some(ReportError::Json {
        file: file.to_owned(),
        path: String::new(),
        message: format!("{message} at line 1 column 1"),
        line: 1,
        column: 1,
    })
}

/// What serde_json's message leaves unsaid, judged from the text at the
/// error's place: empty input and the non-JSON literals some tools write.
fn hint(text: &[u8], line: usize, column: usize) -> Option<&'static str> {
    if text.iter().all(u8::is_ascii_whitespace) {
        return Some("empty report");
    }
    let line_start = if line <= 1 {
        0
    } else {
        text.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map(|(i, _)| i + 1)?
    };
    // serde_json's column is the 1-based byte column of the offending byte.
    let at = text.get(line_start + column.saturating_sub(1)..)?;
    let literal = |l: &[u8]| at.starts_with(l) || at.get(1..).is_some_and(|a| a.starts_with(l));
    if literal(b"NaN") {
        Some("NaN is not a JSON number")
    } else if literal(b"Infinity") || literal(b"-Infinity") {
        Some("Infinity is not a JSON number")
    } else if at.first() == Some(&b'\'') {
        Some("single-quoted strings are not JSON")
    } else {
        None
    }
}

/// An I/O error with what was being done.
fn context(action: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{action}: {e}"))
}

/// A read error while streaming: corrupt gzip data, or the disk.
fn stream_error(file: &str, gzip: bool, e: io::Error) -> ReportError {
    let source = if gzip {
        io::Error::new(e.kind(), format!("corrupt gzip data: {e}"))
    } else {
        context("cannot read", e)
    };
    ReportError::Io {
        file: file.to_owned(),
        source,
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

struct HashingReader<'h, R> {
    inner: R,
    hasher: &'h mut Sha256,
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Fails the read once more than `left` bytes have gone through.
struct LimitReader<R> {
    inner: R,
    left: u64,
    exceeded: bool,
}

impl<R: Read> Read for LimitReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            self.exceeded = true;
            return Err(io::Error::other("report exceeds limits.max_report_bytes"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
