//! Big reports read in large chunks, with their `calls` arrays parsed from
//! slices.
//!
//! A report too big to hold in memory is decompressed and hashed (a gzip
//! one on a thread of its own, [`read_ahead`], when the run has more than
//! one core; otherwise on the parser's thread, [`read_here`]), and counted
//! and parsed from a buffer of 256 KiB ([`Chunks`]), 64 KiB once pieces go
//! to helper threads ([`super::fanout`]): the size of a piece, small
//! enough that the text and the calls parsed from it are still in the
//! caches when the other core takes them. The report's outer structure still goes
//! through serde_json's reader interface, but every array that is the value of
//! a key (`"…": [`) ends one read, so that when the parser's visitor for a
//! process's `calls` is called, nothing past its `[` has been handed to
//! serde_json. The visitor then takes the array over
//! ([`ArrayPieces::take_array`]): a structural scan (string and escape
//! aware, [`super::scan`]) finds the last element boundary in the chunk,
//! and the elements up to it are parsed as one slice, `[e, e, …]` (the
//! separators on either side are
//! patched into brackets), at in-memory speed; when helper threads parse
//! the pieces, the buffer goes with its piece and the reader goes on in a
//! spare one ([`PieceParser::keeps`]). After the array, the reader
//! hands serde_json the closing `]` and goes on. Memory stays one chunk (more
//! only for a single element bigger than a chunk).
//!
//! Positions in errors are the report's: a piece's line and column are
//! shifted to where the piece starts, and serde_json's own positions after a
//! taken array are shifted by what it did not see ([`Chunks::position`]).

use super::scan::{scan_elements, Boundary};
use std::cell::RefCell;
use std::io::{self, Read};
use std::ops::Range;
use std::sync::mpsc;

/// Bytes read from the input at a time.
#[cfg(not(test))]
const CHUNK: usize = 256 << 10;
/// Small in tests, so that the tests of streamed reports cross chunks everywhere.
#[cfg(test)]
const CHUNK: usize = 48;

/// Bytes read at a time once pieces go to helper threads, for the rest of
/// the report: smaller pieces keep a piece's text and the calls parsed from
/// it in the caches of the two cores that touch them, and split a process's
/// calls more finely between them (measured on the 2b corpus, `-j 2`,
/// against 256 KiB: 64 KiB 0.95× the CPU and wall time, 32 KiB 0.98×,
/// 1 MiB 1.22×; on one core 64 KiB costs 1.06×, the reader's calls more).
#[cfg(not(test))]
const HANDED_CHUNK: usize = 64 << 10;
#[cfg(test)]
const HANDED_CHUNK: usize = 32;

/// Parses the pieces of an array: at once, or handed to other threads and
/// finished later ([`super::fanout`]).
pub(crate) trait PieceParser {
    /// One piece (its text `[e, e, …]`, the index of its first element,
    /// where it starts in the report): the index after its last element.
    fn piece(&mut self, text: &[u8], first: usize, start: Pos) -> Result<usize, PieceError>;
    /// Whether the next piece (whose first element is `first`) would be
    /// kept for later: then the reader hands over its buffer with
    /// [`PieceParser::piece_kept`] rather than have the text copied.
    fn keeps(&mut self, _first: usize) -> bool {
        false
    }
    /// A buffer for the reader to go on in when it hands its own over (its
    /// bytes do not matter: the reader writes before it reads).
    fn spare(&mut self) -> Vec<u8> {
        Vec::new()
    }
    /// [`PieceParser::piece`] for the text `buf[span]`, the buffer kept.
    fn piece_kept(&mut self, buf: Vec<u8>, span: Range<usize>, first: usize, start: Pos) -> Result<usize, PieceError> {
        self.piece(&buf[span], first, start)
    }
    /// Every piece handed over is parsed: called before the array ends and
    /// before any other error is said (the first error in the report wins).
    fn finish(&mut self) -> Result<(), PieceError>;
}

/// Why a piece failed: serde_json's error (`None`: a trailing comma), the
/// piece starting at `start` in the report.
pub(crate) struct PieceError {
    pub error: Option<serde_json::Error>,
    pub start: Pos,
}

/// A [`PieceParser`] that parses every piece at once with a function.
pub(crate) struct AtOnce<F>(pub F);

impl<F: FnMut(&[u8], usize) -> Result<usize, serde_json::Error>> PieceParser for AtOnce<F> {
    fn piece(&mut self, text: &[u8], first: usize, start: Pos) -> Result<usize, PieceError> {
        (self.0)(text, first).map_err(|e| PieceError { error: Some(e), start })
    }
    fn finish(&mut self) -> Result<(), PieceError> {
        Ok(())
    }
}

/// An array taken over from serde_json, handed out in pieces.
pub(crate) trait ArrayPieces {
    /// When serde_json has just read the `[` of a key's array value, hand its
    /// elements to `f` as pieces of text `[e, e, …]`, with the index of each
    /// piece's first element, and leave the closing `]` to serde_json.
    /// `None` when the reader is not there (read that array with serde).
    /// An error of `f` is kept with its place in the report
    /// ([`Chunks::piece_error`]); the one returned is only a marker.
    fn take_array(&self, f: &mut dyn PieceParser) -> Option<Result<(), String>>;
}

/// Read `input` on a thread of `scope`, in chunks handed over a bounded
/// channel, hashing every byte on the way: decompression and the hash take
/// the second core while this one parses and builds. No more than
/// `limit` + 1 bytes are read.
pub(crate) fn read_ahead<'scope, R: Read + Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    input: R,
    limit: u64,
    hasher: Option<&'scope mut blake3::Hasher>,
) -> ReadAhead {
    let (tx, rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(2);
    let (recycle, spare) = mpsc::channel::<Vec<u8>>();
    scope.spawn(move || {
        let mut input = input.take(limit.saturating_add(1));
        let mut hasher = hasher;
        loop {
            // Buffers go round (no allocation per chunk, none in this thread's arena after the first few).
            let mut chunk = spare.try_recv().unwrap_or_else(|_| vec![0; READ_AHEAD]);
            chunk.resize(READ_AHEAD, 0);
            let (n, failed) = fill_from(&mut input, &mut chunk);
            chunk.truncate(n);
            if n == 0 && failed.is_none() {
                return;
            }
            // What was read before an error is handed over first.
            if let Some(h) = hasher.as_deref_mut() {
                h.update(&chunk);
            }
            if !chunk.is_empty() && tx.send(Ok(chunk)).is_err() {
                return;
            }
            if let Some(e) = failed {
                let _ = tx.send(Err(e));
                return;
            }
        }
    });
    ReadAhead {
        chunks: rx,
        recycle,
        current: Vec::new(),
        at: 0,
        failed: Failed::default(),
    }
}

/// Read `input` on this thread, hashing every byte on the way: the
/// one-core counterpart of [`read_ahead`], its errors said the same way.
/// No more than `limit` + 1 bytes are read.
pub(crate) fn read_here<'h, R: Read>(input: R, limit: u64, hasher: Option<&'h mut blake3::Hasher>) -> ReadHere<'h, R> {
    ReadHere {
        input: input.take(limit.saturating_add(1)),
        hasher,
        carry: Vec::new(),
        failed: Failed::default(),
    }
}

/// The reader [`read_here`] returns.
pub(crate) struct ReadHere<'h, R> {
    input: io::Take<R>,
    hasher: Option<&'h mut blake3::Hasher>,
    /// What was read after the last multiple of [`HASHED_ALIGNED`], not
    /// hashed yet (hashed when the reader is dropped, at the latest).
    carry: Vec<u8>,
    failed: Failed,
}

/// The hasher is given multiples of this, from multiples of it: BLAKE3
/// hashes whole batches of 1 KiB chunks with SIMD, and the chunks of an
/// update that starts or ends elsewhere one 64-byte block at a time (reads
/// of any size, as a buffer's refill makes them, spent 1% of `build -j 2`
/// of the 263 MB report that way).
const HASHED_ALIGNED: usize = if cfg!(test) { 64 } else { 16 << 10 };

impl<R> ReadHere<'_, R> {
    /// Hash `data`, read after everything hashed or carried so far.
    fn hash(&mut self, mut data: &[u8]) {
        let Some(h) = self.hasher.as_deref_mut() else {
            return;
        };
        if !self.carry.is_empty() {
            let take = (HASHED_ALIGNED - self.carry.len()).min(data.len());
            self.carry.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.carry.len() < HASHED_ALIGNED {
                return;
            }
            h.update(&self.carry);
            self.carry.clear();
        }
        let whole = data.len() - data.len() % HASHED_ALIGNED;
        h.update(&data[..whole]);
        self.carry.extend_from_slice(&data[whole..]);
    }
}

impl<R> Drop for ReadHere<'_, R> {
    fn drop(&mut self) {
        if let Some(h) = self.hasher.as_deref_mut() {
            h.update(&self.carry);
        }
    }
}

/// An input's error, given again to every later read (as the same kind
/// and message: a reader that failed once is not asked again).
#[derive(Default)]
struct Failed(Option<(io::ErrorKind, String)>);

impl Failed {
    /// The error kept, if any.
    fn again(&self) -> io::Result<()> {
        match &self.0 {
            Some((kind, message)) => Err(io::Error::new(*kind, message.clone())),
            None => Ok(()),
        }
    }

    /// Keep `e`, and return it.
    fn keep(&mut self, e: io::Error) -> io::Error {
        self.0 = Some((e.kind(), e.to_string()));
        e
    }
}

/// Bytes hashed at a time by [`read_here`]: while they are still in the cache.
const HASHED_AT_ONCE: usize = 256 << 10;

impl<R: Read> Read for ReadHere<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.failed.again()?;
        let len = out.len().min(HASHED_AT_ONCE);
        loop {
            match self.input.read(&mut out[..len]) {
                Ok(n) => {
                    self.hash(&out[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.failed.keep(e)),
            }
        }
    }
}

/// Bytes per chunk handed over by [`read_ahead`].
const READ_AHEAD: usize = if cfg!(test) { 32 } else { 1 << 20 };

/// Read into `buf` until it is full, the input ends or fails: the bytes
/// read, and the error that stopped it.
pub(crate) fn fill_from(input: &mut impl Read, buf: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

/// The reading end of [`read_ahead`].
pub(crate) struct ReadAhead {
    chunks: mpsc::Receiver<io::Result<Vec<u8>>>,
    recycle: mpsc::Sender<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
    /// The reading thread's error.
    failed: Failed,
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.failed.again()?;
        if self.at == self.current.len() {
            let next = match self.chunks.recv() {
                Ok(Ok(chunk)) => chunk,
                Ok(Err(e)) => return Err(self.failed.keep(e)),
                Err(_) => return Ok(0),
            };
            let used = std::mem::replace(&mut self.current, next);
            let _ = self.recycle.send(used);
            self.at = 0;
        }
        let n = out.len().min(self.current.len() - self.at);
        out[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The scanner state for what is handed to serde_json.
#[derive(Clone, Copy, PartialEq)]
enum Feed {
    Normal,
    Str,
    StrEscape,
    /// After a `:` outside strings, before the value.
    Colon,
}

/// Line (1-based) and column (bytes since the last newline) after some text.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    fn advance(&mut self, text: &[u8]) {
        match memchr::memrchr(b'\n', text) {
            Some(last) => {
                self.line += text.iter().filter(|&&b| b == b'\n').count();
                self.col = text.len() - last - 1;
            }
            None => self.col += text.len(),
        }
    }
}

/// Where serde_json's positions stop matching the report's: at the `]` of a
/// taken array, as serde_json counts (`fed`) and in the report (`real`).
struct Splice {
    fed: Pos,
    real: Pos,
}

/// A decompressed report, read in chunks: see the module documentation.
pub(crate) struct Chunks<'r>(RefCell<Inner<'r>>);

struct Inner<'r> {
    input: Box<dyn Read + 'r>,
    /// Bytes the limit still allows.
    left: u64,
    exceeded: bool,
    eof: bool,
    /// The buffer's length when no element fills it: [`CHUNK`], or
    /// [`HANDED_CHUNK`] once pieces went to helpers.
    chunk: usize,
    buf: Vec<u8>,
    /// `buf[pos..end]` is not consumed yet.
    pos: usize,
    end: usize,
    feed: Feed,
    /// The last read handed to serde_json ended with a key's `[`.
    at_stop: bool,
    /// Position after what serde_json was given, and after what was consumed.
    fed: Pos,
    real: Pos,
    splices: Vec<Splice>,
    piece_error: Option<(String, Pos)>,
    io_error: Option<io::Error>,
}

impl<'r> Chunks<'r> {
    pub fn new(input: Box<dyn Read + 'r>, limit: u64) -> Self {
        Chunks(RefCell::new(Inner {
            input,
            left: limit,
            exceeded: false,
            eof: false,
            chunk: CHUNK,
            buf: vec![0; CHUNK],
            pos: 0,
            end: 0,
            feed: Feed::Normal,
            at_stop: false,
            fed: Pos { line: 1, col: 0 },
            real: Pos { line: 1, col: 0 },
            splices: Vec::new(),
            piece_error: None,
            io_error: None,
        }))
    }

    /// The first bytes of the report (up to a chunk), read but not consumed.
    pub fn start(&self) -> io::Result<Vec<u8>> {
        let mut inner = self.0.borrow_mut();
        inner.fill()?;
        let Inner { buf, pos, end, .. } = &*inner;
        Ok(buf[*pos..(*end).min(*pos + 16)].to_vec())
    }

    /// More than the limit was read.
    pub fn exceeded(&self) -> bool {
        self.0.borrow().exceeded
    }

    /// An I/O error met while a taken array was read.
    pub fn take_io_error(&self) -> Option<io::Error> {
        self.0.borrow_mut().io_error.take()
    }

    /// The error of a piece, with its place in the report (message without position).
    pub fn piece_error(&self) -> Option<(String, Pos)> {
        self.0.borrow_mut().piece_error.take()
    }

    /// The place in the report of a position serde_json gave.
    pub fn position(&self, line: usize, col: usize) -> Pos {
        let at = Pos { line, col };
        let inner = self.0.borrow();
        let Some(s) = inner.splices.iter().rev().find(|s| s.fed <= at) else {
            return at;
        };
        Pos {
            line: s.real.line + (line - s.fed.line),
            col: if line == s.fed.line {
                s.real.col + (col - s.fed.col)
            } else {
                col
            },
        }
    }

    /// Read (and hash) the rest of the report.
    pub fn drain(&self) -> io::Result<()> {
        let mut inner = self.0.borrow_mut();
        loop {
            inner.pos = 0;
            inner.end = 0;
            if inner.eof {
                return Ok(());
            }
            inner.fill()?;
        }
    }
}

impl Inner<'_> {
    /// Read until the buffer is full or the input ends; keeps `buf[pos..end]`
    /// (moved to the front).
    fn fill(&mut self) -> io::Result<()> {
        self.fill_keeping(self.pos)
    }

    /// [`Inner::fill`], keeping `buf[keep..end]` (`keep <= pos`).
    fn fill_keeping(&mut self, keep: usize) -> io::Result<()> {
        if keep > 0 {
            self.buf.copy_within(keep..self.end, 0);
            self.end -= keep;
            self.pos -= keep;
        }
        if self.end == self.buf.len() {
            let grown = self.buf.len() * 2;
            self.buf.resize(grown, 0);
        } else if self.end < self.chunk {
            self.buf.truncate(self.chunk);
        }
        while !self.eof && self.end < self.buf.len() {
            let n = match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n as u64 > self.left {
                self.exceeded = true;
                return Err(io::Error::other("report exceeds limits.max_report_bytes"));
            }
            self.left -= n as u64;
            self.end += n;
        }
        Ok(())
    }

    /// Consume `buf[pos..to]` outside serde_json.
    fn consume(&mut self, to: usize) {
        self.real.advance(&self.buf[self.pos..to]);
        self.pos = to;
    }
}

impl Read for &Chunks<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut inner = self.0.borrow_mut();
        inner.at_stop = false;
        if inner.pos == inner.end {
            inner.fill()?;
        }
        let (pos, end) = (inner.pos, inner.end.min(inner.pos + out.len()));
        let (n, feed, stop) = feed_scan(inner.feed, &inner.buf[pos..end]);
        inner.feed = feed;
        inner.at_stop = stop;
        out[..n].copy_from_slice(&inner.buf[pos..pos + n]);
        let Inner { buf, fed, .. } = &mut *inner;
        fed.advance(&buf[pos..pos + n]);
        inner.consume(pos + n);
        Ok(n)
    }
}

/// How much of `text` to hand to serde_json: all of it, or up to and
/// including the first `[` that opens a key's value (then `true`).
fn feed_scan(mut state: Feed, text: &[u8]) -> (usize, Feed, bool) {
    let mut i = 0;
    while i < text.len() {
        match state {
            Feed::Str => match memchr::memchr2(b'"', b'\\', &text[i..]) {
                None => i = text.len(),
                Some(k) if text[i + k] == b'\\' => {
                    i += k + 1;
                    state = Feed::StrEscape;
                }
                Some(k) => {
                    i += k + 1;
                    state = Feed::Normal;
                }
            },
            Feed::StrEscape => {
                i += 1;
                state = Feed::Str;
            }
            Feed::Normal => match memchr::memchr2(b'"', b':', &text[i..]) {
                None => i = text.len(),
                Some(k) => {
                    state = if text[i + k] == b'"' { Feed::Str } else { Feed::Colon };
                    i += k + 1;
                }
            },
            Feed::Colon => match text[i] {
                b' ' | b'\n' | b'\r' | b'\t' => i += 1,
                b'[' => return (i + 1, Feed::Normal, true),
                _ => state = Feed::Normal,
            },
        }
    }
    (i, state, false)
}

impl ArrayPieces for Chunks<'_> {
    fn take_array(&self, f: &mut dyn PieceParser) -> Option<Result<(), String>> {
        let mut inner = self.0.try_borrow_mut().ok()?;
        if !inner.at_stop {
            return None;
        }
        inner.at_stop = false;
        // The separator before the next element: the `[` or `{` (just consumed) or a `,`.
        let mut sep = inner.pos - 1;
        let open = inner.buf[sep];
        let close = if open == b'[' { b']' } else { b'}' };
        let mut index = 0;
        loop {
            let found = scan_elements(&inner.buf[sep + 1..inner.end], close);
            let (at, last, bad) = match found {
                Boundary::Close(i) => (sep + 1 + i, true, false),
                Boundary::Comma(i) => (sep + 1 + i, false, false),
                Boundary::Bad(i) => (sep + 1 + i, true, true),
                Boundary::Incomplete if inner.eof => (inner.end - 1, true, true),
                Boundary::Incomplete => {
                    // Keep from the separator on, read more.
                    if let Err(e) = inner.fill_keeping(sep) {
                        // A piece handed over before may have failed first:
                        // then this read would not have been made.
                        if let Err(pe) = f.finish() {
                            inner.exceeded = false;
                            return Some(Err(inner.fail(pe)));
                        }
                        inner.io_error = Some(e);
                        return Some(Err("read error".into()));
                    }
                    sep = 0;
                    continue;
                }
            };
            let start = if inner.pos == sep {
                inner.real
            } else {
                Pos {
                    line: inner.real.line,
                    col: inner.real.col.saturating_sub(1),
                }
            };
            let after_comma = inner.buf[sep] == b',';
            let text = &inner.buf[sep + 1..at.max(sep + 1)];
            let before = text.iter().rposition(|b| !b.is_ascii_whitespace()).map(|i| text[i]);
            let empty = !bad && before.is_none();
            // No element before the `,` that ends the piece (`[ ,` or `, ,`):
            // handed over unclosed, for serde_json to say what it expected
            // there, as when the report is read from memory.
            let missing = !last && (empty || before == Some(b','));
            let (bad, last) = if missing { (true, true) } else { (bad, last) };
            let trailing = after_comma && empty && !bad;
            let keeps = f.keeps(index);
            if keeps {
                inner.chunk = HANDED_CHUNK;
            }
            let hand = keeps && !trailing && !bad && !last;
            let result = if trailing {
                f.finish().and(Err(PieceError { error: None, start }))
            } else if hand {
                // The buffer goes with the piece; what follows it (part of
                // an element, the `,` first) goes on in a spare one.
                inner.hand_over_buffer(f, (sep, at), (open, close), index, start)
            } else {
                inner.buf[sep] = open;
                if !bad {
                    inner.buf[at] = close;
                }
                let r = f.piece(&inner.buf[sep..at + 1], index, start);
                inner.buf[sep] = if after_comma { b',' } else { open };
                if !last {
                    inner.buf[at] = b',';
                }
                r
            };
            match result.and_then(|n| if last { f.finish().map(|()| n) } else { Ok(n) }) {
                Ok(n) => index = n,
                Err(pe) => return Some(Err(inner.fail(pe))),
            }
            if hand {
                sep = 0;
                continue;
            }
            inner.consume(at);
            sep = at;
            if last {
                let splice = Splice {
                    fed: inner.fed,
                    real: inner.real,
                };
                inner.splices.push(splice);
                return Some(Ok(()));
            }
        }
    }
}

impl Inner<'_> {
    /// Hand the piece `buf[sep..=at]` to `f` with the buffer itself, its
    /// separators patched into `open` and `close`, and go on in a spare
    /// buffer holding what follows the piece (from the `,` at `at` on):
    /// no copy of the piece for a helper thread.
    fn hand_over_buffer(
        &mut self,
        f: &mut dyn PieceParser,
        (sep, at): (usize, usize),
        (open, close): (u8, u8),
        first: usize,
        start: Pos,
    ) -> Result<usize, PieceError> {
        let tail = self.end - at;
        let mut next = f.spare();
        next.resize(self.chunk.max(tail), 0);
        next[..tail].copy_from_slice(&self.buf[at..self.end]);
        self.consume(at);
        self.buf[sep] = open;
        self.buf[at] = close;
        let text = std::mem::replace(&mut self.buf, next);
        self.pos = 0;
        self.end = tail;
        f.piece_kept(text, sep..at + 1, first, start)
    }

    /// Keep a piece's error with its place in the report; the marker to return.
    fn fail(&mut self, pe: PieceError) -> String {
        let (message, real) = placed(pe.error, pe.start);
        let marker = message.clone();
        self.piece_error = Some((message, real));
        marker
    }
}

/// The message of a piece's error (`None`: a trailing comma) and its place
/// in the report, the piece starting at `start`.
fn placed(e: Option<serde_json::Error>, start: Pos) -> (String, Pos) {
    let (message, at) = match e {
        Some(e) => {
            let text = e.to_string();
            let message = match text.rfind(" at line ") {
                Some(i) if e.line() > 0 => text[..i].to_owned(),
                _ => text,
            };
            let at = Pos {
                line: e.line(),
                col: e.column(),
            };
            (message, at)
        }
        None => ("trailing comma".to_owned(), Pos { line: 1, col: 1 }),
    };
    let real = Pos {
        line: start.line + at.line.saturating_sub(1),
        col: if at.line <= 1 { start.col + at.col } else { at.col },
    };
    (message, real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_json_is_stopped_after_every_key_array() {
        let text = br#"{"a\"": [1], "s": ":[", "calls" :
 [{"#;
        let (n, state, stop) = feed_scan(Feed::Normal, text);
        assert!(stop);
        assert_eq!(&text[..n], br#"{"a\"": ["#);
        let (m, _, stop) = feed_scan(state, &text[n..]);
        assert!(stop);
        assert!(text[..n + m].ends_with(b":\n ["));
    }

    #[test]
    fn pieces_join_into_the_array_whatever_the_chunk_size() {
        let elems: Vec<String> = (0..200).map(|i| format!(r#"{{"i": {i}, "s": "a,]\"[{i}"}}"#)).collect();
        let text = format!(r#"{{"calls": [{}], "z": 1}}"#, elems.join(",\n "));
        let chunks = Chunks::new(Box::new(text.as_bytes()), u64::MAX);
        let mut head = [0u8; 64];
        let n = (&chunks).read(&mut head).unwrap();
        assert_eq!(&head[..n], br#"{"calls": ["#);
        let mut got = Vec::new();
        let r = chunks.take_array(&mut AtOnce(|piece: &[u8], first| {
            let v: Vec<serde_json::Value> = serde_json::from_slice(piece)?;
            assert_eq!(first, got.len());
            got.extend(v);
            Ok(got.len())
        }));
        assert_eq!(r, Some(Ok(())));
        assert_eq!(got.len(), 200);
        assert_eq!(got[199]["s"], "a,]\"[199");
        let mut rest = Vec::new();
        (&chunks).read_to_end(&mut rest).unwrap();
        assert_eq!(rest, br#"], "z": 1}"#);
    }

    /// A parser that keeps every buffer handed over (as helper threads
    /// do), and where each piece starts.
    #[derive(Default)]
    struct Keeping {
        got: Vec<serde_json::Value>,
        starts: Vec<Pos>,
        kept: usize,
    }

    impl PieceParser for Keeping {
        fn piece(&mut self, text: &[u8], first: usize, start: Pos) -> Result<usize, PieceError> {
            assert_eq!(first, self.got.len());
            let v: Vec<serde_json::Value> = serde_json::from_slice(text).unwrap();
            self.got.extend(v);
            self.starts.push(start);
            Ok(self.got.len())
        }
        fn keeps(&mut self, _: usize) -> bool {
            true
        }
        fn piece_kept(
            &mut self,
            buf: Vec<u8>,
            span: Range<usize>,
            first: usize,
            start: Pos,
        ) -> Result<usize, PieceError> {
            self.kept += 1;
            self.piece(&buf[span], first, start)
        }
        fn finish(&mut self) -> Result<(), PieceError> {
            Ok(())
        }
    }

    #[test]
    fn pieces_handed_over_in_their_buffers_join_into_the_array() {
        let elems: Vec<String> = (0..200).map(|i| format!(r#"{{"i": {i}, "s": "a,]\"[{i}"}}"#)).collect();
        let text = format!("{{\"calls\": [{}],\n \"z\": [1, 2]}}", elems.join(",\n "));
        let chunks = Chunks::new(Box::new(text.as_bytes()), u64::MAX);
        let mut head = [0u8; 64];
        let n = (&chunks).read(&mut head).unwrap();
        assert_eq!(&head[..n], br#"{"calls": ["#);
        let mut keeping = Keeping::default();
        assert_eq!(chunks.take_array(&mut keeping), Some(Ok(())));
        assert!(keeping.kept > 10, "{}", keeping.kept);
        assert_eq!(keeping.got.len(), 200);
        assert_eq!(keeping.got[199]["s"], "a,]\"[199");
        // Each piece starts at its separator in the report, the buffers it
        // went through handed over or not.
        let lines: Vec<&str> = text.split('\n').collect();
        for start in &keeping.starts {
            let sep = lines[start.line - 1].as_bytes()[start.col];
            assert!(sep == b',' || sep == b'[', "{start:?}");
        }
        let mut rest = Vec::new();
        (&chunks).read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"],\n \"z\": [1, 2]}");
    }
}
