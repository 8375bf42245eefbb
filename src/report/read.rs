//! From a path to a parsed report: open, hash, decompress, deserialize.
//!
//! Small files are read whole and parsed from memory (fastest); large ones
//! are streamed through a buffered reader so memory does not follow the file
//! size. Either way the analysis id, the BLAKE3 hash of the JSON bytes after
//! decompression (spec section 1), is computed on the way: a report and its
//! gzipped copy are one analysis.

use super::chunked::{fill_from, read_ahead, read_here, ArrayPieces, Chunks};
use super::fanout;
use super::parse::{parse_report, with_deserializer, Collected, Pass};
use super::{CallSink, ReportMeta};
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// Files up to this size (as stored) are read into memory in one go.
const WHOLE_FILE_LIMIT: u64 = 64 << 20;

/// A gzip report read whole is decompressed in memory up to this size;
/// beyond it, it is parsed as it is decompressed, so that memory follows
/// the graph, not the report (a 1 GB report in under 200 MB).
const IN_MEMORY_TEXT_LIMIT: u64 = 64 << 20;

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
        let what = if m.is_dir() {
            "a directory"
        } else {
            "a FIFO, socket or device"
        };
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
        return with_buffers(|buffers| {
            let stored = &mut buffers.stored;
            stored.clear();
            // One allocation of the right size (the file's, and a byte to see
            // its end), or none when an earlier report left enough.
            stored.reserve(stored_bytes as usize + 1);
            // `take`: a file that grows while it is read (or a /proc file that
            // claims size 0) still goes no further than the limits allow.
            (&mut file)
                .take(limits.max_report_bytes.saturating_add(1))
                .read_to_end(stored)
                .map_err(|e| io_err(context("cannot read", e)))?;
            parse_stored(&file_name, &report, &buffers.stored, &mut buffers.text, limits, sink)
        });
    }

    let mut magic = [0u8; 2];
    let (n, failed) = fill_from(&mut file, &mut magic);
    if let Some(e) = failed {
        return Err(io_err(context("cannot read", e)));
    }
    let gzip = n == 2 && magic == [0x1f, 0x8b];
    let prefix = io::Cursor::new(magic[..n].to_vec());
    let reopen = || -> io::Result<Box<dyn Read + Send>> { Ok(Box::new(File::open(path)?)) };
    let (id, out) = parse_streamed(&file_name, prefix.chain(file), gzip, &reopen, limits, sink)?;
    Ok(meta(id, report, stored_bytes, out))
}

/// Parse a report as a stream ([`parse_stream`]), in two passes when its
/// processes list their calls before their pid (see [`Pass::Stream`]):
/// `reopen` yields the same bytes again for the second pass. Returns the
/// analysis id (hashed in the first pass) with what was collected.
fn parse_streamed<'a, S: CallSink>(
    file_name: &str,
    input: impl Read + Send,
    gzip: bool,
    reopen: &dyn Fn() -> io::Result<Box<dyn Read + Send + 'a>>,
    limits: ReadLimits,
    sink: &mut S,
) -> Result<(String, Collected), ReportError> {
    let mut out = Collected::default();
    let mut hasher = blake3::Hasher::new();
    let first = parse_stream(
        file_name,
        input,
        gzip,
        limits,
        sink,
        &mut out,
        Pass::Stream,
        Some(&mut hasher),
    );
    let id = hasher.finalize().to_hex().to_string();
    let Some(deferred) = &mut out.deferred else {
        return first.map(|()| (id, out));
    };
    deferred.first_pass_failed = first.is_err();
    let again = reopen().map_err(|e| stream_error(file_name, false, e))?;
    let second = parse_stream(file_name, again, gzip, limits, sink, &mut out, Pass::Second, None);
    match (first, second) {
        (Ok(()), second) => second.map(|()| (id, out)),
        // The first pass skipped calls and failed: a one-pass reader would
        // have stopped at the second pass's error when it comes first, and
        // when both stop at one place the deeper path is the more precise
        // (`…calls[3].arguments` rather than `…calls`).
        (Err(first), Err(second)) => {
            let at = |e: &ReportError| match e {
                ReportError::Json { line, column, path, .. } => Some(((*line, *column), path.len())),
                _ => None,
            };
            match (at(&first), at(&second)) {
                (Some((p1, d1)), Some((p2, d2))) if p2 < p1 || (p2 == p1 && d2 >= d1) => Err(second),
                _ => Err(first),
            }
        }
        (Err(e), _) => Err(e),
    }
}

/// Parse a report as it is read from `input` (JSON, or gzip when `gzip`):
/// memory does not follow its size, and no more than
/// `limits.max_report_bytes` decompressed bytes are read. With a `hasher`,
/// every decompressed byte goes through it, including what the parser did
/// not need.
#[allow(clippy::too_many_arguments)]
fn parse_stream<S: CallSink>(
    file_name: &str,
    input: impl Read + Send,
    gzip: bool,
    limits: ReadLimits,
    sink: &mut S,
    out: &mut Collected,
    pass: Pass,
    hasher: Option<&mut blake3::Hasher>,
) -> Result<(), ReportError> {
    let decoded: Box<dyn Read + Send + '_> = if gzip {
        Box::new(MultiGzDecoder::new(input))
    } else {
        Box::new(input)
    };
    let limit = limits.max_report_bytes;
    std::thread::scope(|scope| {
        let input: Box<dyn Read + '_> = match fanout::read_beside(gzip) {
            true => Box::new(read_ahead(scope, decoded, limit, hasher)),
            false => Box::new(read_here(decoded, limit, hasher)),
        };
        let chunks = Chunks::new(input, limit);
        parse_chunks(file_name, gzip, &chunks, limits, sink, out, pass)
    })
}

/// [`parse_stream`], the reader started.
fn parse_chunks<S: CallSink>(
    file_name: &str,
    gzip: bool,
    chunks: &Chunks<'_>,
    limits: ReadLimits,
    sink: &mut S,
    out: &mut Collected,
    pass: Pass,
) -> Result<(), ReportError> {
    let too_large = || ReportError::TooLarge {
        file: file_name.to_owned(),
        limit: limits.max_report_bytes,
    };
    match chunks.start() {
        Ok(start) => {
            if let Some(e) = bad_start(file_name, &start) {
                return Err(e);
            }
        }
        Err(_) if chunks.exceeded() => return Err(too_large()),
        // serde_json meets the error again, and says it as for any read.
        Err(_) => {}
    }
    let r = {
        let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 16, chunks));
        deserialize(&mut de, sink, out, pass, Some(chunks))
    };
    if chunks.exceeded() {
        return Err(too_large());
    }
    if let Some(e) = chunks.take_io_error() {
        return Err(stream_error(file_name, gzip, e));
    }
    match r {
        Ok(()) if pass == Pass::Second => Ok(()),
        // The hash covers every byte, including what the parser did not need.
        Ok(()) => chunks.drain().map_err(|e| match chunks.exceeded() {
            true => too_large(),
            false => stream_error(file_name, gzip, e),
        }),
        Err((_, inner)) if inner.is_io() => Err(stream_error(file_name, gzip, io::Error::other(inner.to_string()))),
        Err((path, inner)) => {
            let mut err = json_error(file_name, (path, inner));
            if let ReportError::Json {
                message, line, column, ..
            } = &mut err
            {
                // Where it is in the report, not in a piece or in what serde_json saw.
                let at = match chunks.piece_error() {
                    Some((piece_message, at)) => Some((shorten(piece_message, 400), at)),
                    None if *line == 0 => None,
                    None => {
                        let said = message.rfind(" at line ").map_or(&message[..], |i| &message[..i]);
                        Some((said.to_owned(), chunks.position(*line, *column)))
                    }
                };
                if let Some((said, at)) = at {
                    (*line, *column) = (at.line, at.col);
                    *message = format!("{said} at line {line} column {column}");
                }
            }
            Err(err)
        }
    }
}

/// [`read_report_bytes`], but read as a stream, as files over 64 MiB are
/// (with the second pass of [`Pass::Stream`] when it is needed).
#[cfg(test)]
pub(crate) fn read_report_streamed<S: CallSink>(
    name: &str,
    stored: &[u8],
    limits: ReadLimits,
    sink: &mut S,
) -> Result<ReportMeta, ReportError> {
    let gzip = stored.starts_with(&[0x1f, 0x8b]);
    let reopen = || -> io::Result<Box<dyn Read + Send + '_>> { Ok(Box::new(stored)) };
    let (id, out) = parse_streamed(name, stored, gzip, &reopen, limits, sink)?;
    Ok(meta(id, name.to_owned(), stored.len() as u64, out))
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
    with_buffers(|buffers| parse_stored(name, name, stored, &mut buffers.text, limits, sink))
}

/// The memory a worker thread reads reports into, kept from one report to
/// the next: a fresh multi-megabyte buffer per report costs its page faults
/// and the kernel's zeroing of every page again (6% of `build` on the real
/// reports). Both are at most [`WHOLE_FILE_LIMIT`] /
/// [`IN_MEMORY_TEXT_LIMIT`] (and one byte) long.
#[derive(Default)]
struct Buffers {
    /// The file as stored.
    stored: Vec<u8>,
    /// A gzip report's JSON text.
    text: Vec<u8>,
}

thread_local! {
    static BUFFERS: std::cell::Cell<Buffers> = std::cell::Cell::default();
}

/// Run `f` with this thread's [`Buffers`] (taken out while it runs, so that a
/// nested read would get buffers of its own rather than a borrow panic).
fn with_buffers<T>(f: impl FnOnce(&mut Buffers) -> T) -> T {
    let mut buffers = BUFFERS.take();
    let out = f(&mut buffers);
    BUFFERS.set(buffers);
    out
}

/// Parse `stored` (plain or gzip JSON); `text` is where a gzip report is
/// decompressed (its contents are replaced).
fn parse_stored<S: CallSink>(
    file_name: &str,
    report: &str,
    stored: &[u8],
    text: &mut Vec<u8>,
    limits: ReadLimits,
    sink: &mut S,
) -> Result<ReportMeta, ReportError> {
    let too_large = || ReportError::TooLarge {
        file: file_name.to_owned(),
        limit: limits.max_report_bytes,
    };
    if stored.len() as u64 > limits.max_report_bytes {
        return Err(too_large());
    }
    let gzip = stored.starts_with(&[0x1f, 0x8b]);
    let text: &[u8] = if gzip {
        // Decompressed in memory up to a bound; past it (a large report, or a
        // gzip bomb) it is parsed as a stream, so memory stays bounded.
        let cap = limits.max_report_bytes.min(IN_MEMORY_TEXT_LIMIT);
        // ISIZE, the last member's text size mod 2^32: a hint to size the
        // buffer and to stream a big report straight away (checked below).
        let hint = match stored.len().checked_sub(4).map(|i| &stored[i..]) {
            Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]) as u64,
            _ => 0,
        };
        text.clear();
        if hint <= cap {
            text.reserve(hint as usize + 1);
            MultiGzDecoder::new(stored)
                .take(cap.saturating_add(1))
                .read_to_end(text)
                .map_err(|e| stream_error(file_name, true, e))?;
        }
        if hint > cap || text.len() as u64 > cap {
            if cap == limits.max_report_bytes && text.len() as u64 > cap {
                return Err(too_large());
            }
            let reopen = || -> io::Result<Box<dyn Read + Send + '_>> { Ok(Box::new(stored)) };
            let (id, out) = parse_streamed(file_name, stored, true, &reopen, limits, sink)?;
            return Ok(meta(id, report.to_owned(), stored.len() as u64, out));
        }
        text
    } else {
        stored
    };
    if let Some(e) = bad_start(file_name, text) {
        return Err(e);
    }
    let mut out = Collected::default();
    with_deserializer!(text, |de| deserialize(de, sink, &mut out, Pass::Whole, None)).map_err(|e| {
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
    Ok(meta(analysis_id(text), report.to_owned(), stored.len() as u64, out))
}

/// The analysis id of a report's JSON text (spec section 1).
pub fn analysis_id(text: &[u8]) -> String {
    blake3::hash(text).to_hex().to_string()
}

fn meta(id: String, report: String, stored_bytes: u64, out: Collected) -> ReportMeta {
    ReportMeta {
        id,
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
    pass: Pass,
    arrays: Option<&dyn ArrayPieces>,
) -> Result<(), (String, serde_json::Error)> {
    parse_report(&mut *de, sink, out, pass, arrays)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortened_messages_keep_both_ends_and_cut_between_characters() {
        let s = format!("{}{}", "é".repeat(300), " at line 1 column 9");
        let short = shorten(s.clone(), 100);
        assert!(short.len() < 110, "{}", short.len());
        assert!(
            short.starts_with("éé") && short.ends_with(" at line 1 column 9"),
            "{short}"
        );
        assert!(short.contains('…'));
        assert_eq!(shorten("short".into(), 100), "short");
        // Every cut point, including inside multi-byte characters.
        for max in 0..40 {
            let _ = shorten("ab€🦀cd€🦀ef".repeat(3), max);
        }
    }

    #[test]
    fn hints_name_what_serde_json_leaves_unsaid() {
        assert_eq!(hint(b" \n ", 2, 1), Some("empty report"));
        assert_eq!(hint(b"{\"a\":\n NaN}", 2, 2), Some("NaN is not a JSON number"));
        assert_eq!(hint(b"[-Infinity]", 1, 2), Some("Infinity is not a JSON number"));
        assert_eq!(hint(b"{'a': 1}", 1, 2), Some("single-quoted strings are not JSON"));
        assert_eq!(hint(b"[1, 2", 9, 99), None);
    }

    #[test]
    fn the_analysis_id_is_the_blake3_of_the_json_whether_gzipped_or_streamed() {
        use std::io::Write;
        let json = br#"{"behavior": {"processes": []}}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(json).unwrap();
        let gzipped = gz.finish().unwrap();
        let want = blake3::hash(json).to_hex().to_string();
        let limits = ReadLimits::default();
        for stored in [&json[..], &gzipped[..]] {
            let whole = read_report_bytes("r.json", stored, limits, &mut Nothing).unwrap();
            assert_eq!(whole.id, want);
            for beside in [true, false] {
                let streamed = fanout::reading_beside(beside, || {
                    read_report_streamed("r.json", stored, limits, &mut Nothing).unwrap()
                });
                assert_eq!(streamed.id, want);
            }
        }
    }

    #[test]
    fn byte_order_marks_are_named() {
        let bom = read_report_bytes("r.json", b"\xef\xbb\xbf{}", ReadLimits::default(), &mut Nothing);
        assert!(bom.unwrap_err().to_string().contains("byte order mark"));
        let utf16 = read_report_bytes("r.json", b"\xff\xfe{\0}\0", ReadLimits::default(), &mut Nothing);
        assert!(utf16.unwrap_err().to_string().contains("UTF-16"));
    }

    struct Nothing;
    impl CallSink for Nothing {
        type Piece = ();
        type Planner = ();
        fn planner(&self) {}
        fn begin_process(&mut self, _: &super::super::ProcessInfo) {}
        fn call(&mut self, _: &mut super::super::CallBuf) -> Result<(), String> {
            Ok(())
        }
        fn end_process(&mut self) {}
        fn uncompared_fields(&self) -> &'static [&'static str] {
            &[]
        }
    }
}
