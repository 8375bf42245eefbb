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
    let mut file = File::open(path).map_err(io_err)?;
    let metadata = file.metadata().map_err(io_err)?;
    if metadata.is_dir() {
        return Err(io_err(io::Error::other("is a directory, not a report file")));
    }
    let stored_bytes = metadata.len();
    let report = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if stored_bytes <= WHOLE_FILE_LIMIT {
        let mut stored = Vec::with_capacity(stored_bytes as usize + 1);
        file.read_to_end(&mut stored).map_err(io_err)?;
        return parse_stored(&file_name, &report, &stored, limits, sink);
    }

    let mut magic = [0u8; 2];
    let n = read_up_to(&mut file, &mut magic).map_err(io_err)?;
    let gzip = n == 2 && magic == [0x1f, 0x8b];
    let prefix = io::Cursor::new(magic[..n].to_vec());
    let mut hasher = Sha256::new();
    let mut out = Collected::default();
    let r = {
        let hashing = HashingReader {
            inner: prefix.chain(file),
            hasher: &mut hasher,
        };
        let limited: Box<dyn Read + '_> = if gzip {
            Box::new(MultiGzDecoder::new(BufReader::with_capacity(1 << 16, hashing)))
        } else {
            Box::new(hashing)
        };
        let mut counted = LimitReader {
            inner: limited,
            left: limits.max_report_bytes,
            exceeded: false,
        };
        let r = {
            let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 16, &mut counted));
            deserialize(&mut de, sink, &mut out)
        };
        if counted.exceeded {
            return Err(ReportError::TooLarge {
                file: file_name,
                limit: limits.max_report_bytes,
            });
        }
        if r.is_ok() {
            // The hash covers every stored byte, including what the parser did not need.
            io::copy(&mut counted.inner, &mut io::sink()).map_err(|e| stream_error(&file_name, gzip, e))?;
        }
        r
    };
    match r {
        Err((_, inner)) if inner.is_io() => Err(stream_error(&file_name, gzip, io::Error::other(inner.to_string()))),
        r => r.map_err(|e| json_error(&file_name, e)),
    }?;
    Ok(meta(hasher, report, stored_bytes, out))
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
    let gzip = stored.starts_with(&[0x1f, 0x8b]);
    let decompressed;
    let text: &[u8] = if gzip {
        let mut text = Vec::new();
        let mut dec = MultiGzDecoder::new(stored).take(limits.max_report_bytes.saturating_add(1));
        dec.read_to_end(&mut text)
            .map_err(|e| stream_error(file_name, true, e))?;
        decompressed = text;
        &decompressed
    } else {
        stored
    };
    if text.len() as u64 > limits.max_report_bytes {
        return Err(ReportError::TooLarge {
            file: file_name.to_owned(),
            limit: limits.max_report_bytes,
        });
    }
    let mut out = Collected::default();
    let mut de = serde_json::Deserializer::from_slice(text);
    deserialize(&mut de, sink, &mut out).map_err(|e| json_error(file_name, e))?;
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
        path,
        message: inner.to_string(),
        line: inner.line(),
        column: inner.column(),
    }
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

/// A read error while streaming: corrupt gzip data, or the disk.
fn stream_error(file: &str, gzip: bool, e: io::Error) -> ReportError {
    let source = if gzip {
        io::Error::new(e.kind(), format!("corrupt gzip data: {e}"))
    } else {
        e
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
