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
    let stored_bytes = file.metadata().map_err(io_err)?.len();
    let mut magic = [0u8; 2];
    let n = read_up_to(&mut file, &mut magic).map_err(io_err)?;
    let gzip = n == 2 && magic == [0x1f, 0x8b];
    if !gzip && file_name.to_ascii_lowercase().ends_with(".gz") {
        return Err(gzip_error(
            &file_name,
            io::Error::new(io::ErrorKind::InvalidData, "not gzip data"),
        ));
    }
    let prefix = io::Cursor::new(magic[..n].to_vec());

    let mut hasher = Sha256::new();
    let mut out = Collected::default();
    let result = if stored_bytes <= WHOLE_FILE_LIMIT {
        let mut stored = Vec::with_capacity(stored_bytes as usize + 1);
        prefix.chain(file).read_to_end(&mut stored).map_err(io_err)?;
        hasher.update(&stored);
        let text = if gzip {
            let mut text = Vec::new();
            let mut dec = MultiGzDecoder::new(&stored[..]).take(limits.max_report_bytes + 1);
            dec.read_to_end(&mut text).map_err(|e| gzip_error(&file_name, e))?;
            text
        } else {
            stored
        };
        if text.len() as u64 > limits.max_report_bytes {
            return Err(ReportError::TooLarge {
                file: file_name,
                limit: limits.max_report_bytes,
            });
        }
        let mut de = serde_json::Deserializer::from_slice(&text);
        deserialize(&mut de, sink, &mut out)
    } else {
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
            io::copy(&mut counted.inner, &mut io::sink()).map_err(|e| gzip_error(&file_name, e))?;
        }
        r
    };
    result.map_err(|(path, inner)| {
        if inner.is_io() {
            let msg = inner.to_string();
            return ReportError::Io {
                file: file_name.clone(),
                source: io::Error::other(msg),
            };
        }
        ReportError::Json {
            file: file_name.clone(),
            path,
            message: inner.to_string(),
            line: inner.line(),
            column: inner.column(),
        }
    })?;

    let report = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(ReportMeta {
        id: hex(&hasher.finalize()),
        report,
        stored_bytes,
        format: out.format,
        has_behavior: out.has_behavior,
        processes: out.processes,
        sample: out.sample,
        info: out.info,
        iocs: out.iocs,
    })
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

fn gzip_error(file: &str, e: io::Error) -> ReportError {
    ReportError::Io {
        file: file.to_owned(),
        source: io::Error::new(e.kind(), format!("corrupt gzip data: {e}")),
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
