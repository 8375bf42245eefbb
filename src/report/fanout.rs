//! Both cores on one big report: the pieces of a calls array parsed on
//! threads the pipeline lends, and handed to the sink in order here.
//!
//! A worker of the pipeline that finds no report left to start lends its
//! core ([`lend`]). A big report's reader ([`super::chunked`]) hands out a
//! process's calls in pieces; they are read on its thread, as by the
//! sequential reader, until a core is lent (at the start of the array or in
//! its middle: a big report often has one huge calls array). From then on
//! each piece goes into a queue in the buffer it was read into (the reader
//! goes on in a spare one; only a piece that ends an array or fails the
//! scan is copied); a helper thread (and this one, when
//! it would otherwise wait) parses it, handing each normalised call to the
//! sink's planner there ([`super::PlanPieces`]), and this thread hands each
//! piece's plan (and the calls the planner kept for the sink) to the sink in
//! report order, so the graph is built as the sequential reader builds it. A window of a few pieces is in
//! flight, so memory stays bounded.
//!
//! Errors are the sequential reader's: a piece that fails (in the parser or
//! in the sink) is read again on this thread, the same way the sequential
//! reader reads it, its calls already handed over skipped ([`Replay`]), for
//! the same message, JSON path and place in the report. Pieces handed over
//! are finished before the reader says any other error, so the first error
//! in the report wins, as when one thread reads it.
//!
//! The arrays of skipped sections (`static`, `strings`…) go the same way,
//! with a syntax check for a parser and no calls to hand over.
//!
//! Small reports are not read in pieces, and under `-j 1` nothing is lent:
//! every piece is read on the reader's thread.

use super::chunked::{ArrayPieces, PieceError, PieceParser, Pos};
use super::parse::PieceScratch;
use super::CallBuf;
use serde::de::Error as _;
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Cores lent by the pipeline and not borrowed.
static SPARE: AtomicUsize = AtomicUsize::new(0);

/// The cores the run was given (`-j`); 0 until a run says.
static CORES: AtomicUsize = AtomicUsize::new(0);

/// Say how many cores the run was given (`-j`): with one, a big gzip report
/// is decompressed on its parser's thread, not on a thread beside it.
pub fn set_cores(n: usize) {
    CORES.store(n, Ordering::SeqCst);
}

/// Whether a big report is read (decompressed, hashed) on a thread of its
/// own beside its parser: only a gzip one, and not when the run was given
/// one core (`-j 1` keeps one core busy, as a user running several at once
/// expects). Plain JSON is read on the parser's thread: there the thread
/// beside only moved the hash, and the copies it added cost as much
/// (measured: CPU time 10% lower without it, wall time the same).
pub(crate) fn read_beside(gzip: bool) -> bool {
    #[cfg(test)]
    if let Some(beside) = TEST_READ_BESIDE.get() {
        return beside;
    }
    gzip && CORES.load(Ordering::SeqCst) != 1
}

/// Buffers kept from one array to the next (and from one report to the
/// next): pieces' text, their parsed calls, the threads' scratch. Made
/// afresh for every array and freed after it, they cost the reading
/// thread more than the copies did (the pieces' pages faulted in again,
/// calls filled on a helper freed here under the helper's arena lock).
static POOL: Mutex<Pool> = Mutex::new(Pool {
    texts: Vec::new(),
    calls: Vec::new(),
    scratches: Vec::new(),
});

#[derive(Default)]
struct Pool {
    texts: Vec<Vec<u8>>,
    calls: Vec<Vec<CallBuf>>,
    scratches: Vec<PieceScratch>,
}

impl Pool {
    fn lock() -> MutexGuard<'static, Pool> {
        POOL.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn scratch() -> PieceScratch {
        Self::lock().scratches.pop().unwrap_or_default()
    }

    /// Keep a thread's scratch, up to one per thread of a run with the most helpers.
    fn give_back_scratch(scratch: PieceScratch) {
        let mut pool = Self::lock();
        if pool.scratches.len() <= MAX_HELPERS {
            pool.scratches.push(scratch);
        }
    }

    /// Keep a run's buffers, up to what a run with the most helpers has in flight.
    fn give_back(texts: Vec<Vec<u8>>, calls: Vec<Vec<CallBuf>>) {
        let kept = window(MAX_HELPERS);
        let mut pool = Self::lock();
        pool.texts.extend(texts);
        pool.texts.truncate(kept);
        pool.calls.extend(calls);
        pool.calls.truncate(kept);
    }
}

/// Pieces in flight at most with `helpers` helpers: enough that neither
/// side waits for the other, few enough that memory stays bounded.
fn window(helpers: usize) -> usize {
    2 * helpers + 2
}

/// At most this many helpers on one calls array.
const MAX_HELPERS: usize = 3;

/// Lend `n` cores to big reports (a pipeline worker with nothing left to start).
pub fn lend(n: usize) {
    SPARE.fetch_add(n, Ordering::SeqCst);
}

/// Take back `n` cores lent (at the end of a pipeline run, when every
/// borrow has ended).
pub fn reclaim(n: usize) {
    let _ = SPARE.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| Some(s.saturating_sub(n)));
}

/// Cores borrowed for one calls array, given back when dropped.
pub(crate) struct Lent {
    helpers: usize,
    /// How many of them came from [`SPARE`].
    borrowed: usize,
}

impl Drop for Lent {
    fn drop(&mut self) {
        lend(self.borrowed);
    }
}

/// Borrow the cores lent, if any.
pub(crate) fn borrow() -> Option<Lent> {
    borrow_up_to(MAX_HELPERS)
}

/// Borrow one of the cores lent, if any (to write a big graph's output in
/// halves); given back when the value returned is dropped.
pub(crate) fn borrow_one() -> Option<Lent> {
    borrow_up_to(1)
}

/// Drop `value` on a thread of its own when a lent core is idle, here
/// otherwise: a big graph takes 15–20 ms to free on one thread, after its
/// output. The core is only looked at, not held: nothing waits for that
/// thread, and a run's cores are reclaimed whether it ended or not.
pub(crate) fn drop_beside<T: Send + 'static>(value: T) {
    if borrow_one().is_some() {
        // A thread that cannot be made drops `value` on this one.
        let _ = std::thread::Builder::new().spawn(move || drop(value));
    } else {
        drop(value);
    }
}

fn borrow_up_to(max: usize) -> Option<Lent> {
    #[cfg(test)]
    if let n @ 1.. = TEST_HELPERS.get() {
        if let late @ 1.. = TEST_LATE.get() {
            TEST_LATE.set(late - 1);
            return None;
        }
        return Some(Lent {
            helpers: n.min(max),
            borrowed: 0,
        });
    }
    let before = SPARE
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| (s > 0).then(|| s - s.min(max)))
        .ok()?;
    let n = before.min(max);
    Some(Lent {
        helpers: n,
        borrowed: n,
    })
}

#[cfg(test)]
thread_local! {
    static TEST_HELPERS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    static TEST_LATE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    static TEST_READ_BESIDE: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Run `f` with big reports read beside their parser or not.
#[cfg(test)]
pub(crate) fn reading_beside<T>(beside: bool, f: impl FnOnce() -> T) -> T {
    TEST_READ_BESIDE.set(Some(beside));
    let out = f();
    TEST_READ_BESIDE.set(None);
    out
}

/// Run `f` with `n` helpers lent to this thread's arrays read in pieces,
/// once it has asked for them `late` times (a core lent in the middle of an
/// array, or from a later array on).
#[cfg(test)]
pub(crate) fn with_helpers<T>(n: usize, late: usize, f: impl FnOnce() -> T) -> T {
    TEST_HELPERS.set(n);
    TEST_LATE.set(late);
    let out = f();
    TEST_HELPERS.set(0);
    TEST_LATE.set(0);
    out
}

/// A failed piece read again on the sequential path: its first `skip` calls
/// were handed to the sink already; the next one gets the sink's error
/// `fail` (when the sink failed rather than the parser).
pub(crate) struct Replay {
    skip: usize,
    fail: Option<String>,
}

impl Replay {
    /// What the sink says to the next call of the piece read again.
    pub(crate) fn call(&mut self) -> Result<(), String> {
        if self.skip > 0 {
            self.skip -= 1;
            return Ok(());
        }
        self.fail.take().map_or(Ok(()), Err)
    }
}

/// Parses a piece of calls and plans them into a `Q` (the sink's
/// [`Piece`](super::CallSink::Piece)), with the calls the sink wants in
/// the buffers: the number of calls read, `Err` with those read before the
/// error when it fails.
pub(crate) trait ParsePiece<Q>:
    Fn(&[u8], &mut PieceScratch, &mut Vec<CallBuf>, &mut Q) -> Result<usize, usize> + Sync
{
}
impl<Q, F: Fn(&[u8], &mut PieceScratch, &mut Vec<CallBuf>, &mut Q) -> Result<usize, usize> + Sync> ParsePiece<Q> for F {}

/// Takes a parsed piece's calls and plan, in order: the index of the call
/// where it stopped and its message.
pub(crate) trait TakePiece<C, Q>: FnMut(&mut C, &mut [CallBuf], &mut Q) -> Result<(), (usize, String)> {}
impl<C, Q, F: FnMut(&mut C, &mut [CallBuf], &mut Q) -> Result<(), (usize, String)>> TakePiece<C, Q> for F {}

/// Reads a piece on this thread as the sequential reader does: its text,
/// the index of its first element, and for a piece that failed on a helper,
/// what of it was handed over already ([`Replay`]). The index after its last
/// element, or serde_json's error.
pub(crate) trait ReadPiece<C>:
    FnMut(&mut C, &[u8], usize, Option<Replay>) -> Result<usize, serde_json::Error>
{
}
impl<C, F: FnMut(&mut C, &[u8], usize, Option<Replay>) -> Result<usize, serde_json::Error>> ReadPiece<C> for F {}

/// Take the array `arrays` is at: its pieces are read on this thread with
/// `sequential` until a core is lent, then (from the next piece to the end
/// of the array) parsed (and planned) with `parse` on helpers and here,
/// handed to `sink` (with `ctx`) in order. A piece that failed on a helper
/// is read again with `sequential`, for the sequential reader's error.
pub(crate) fn run<C, Q: Default + Send>(
    arrays: &dyn ArrayPieces,
    ctx: &mut C,
    parse: impl ParsePiece<Q>,
    sink: impl TakePiece<C, Q>,
    sequential: impl ReadPiece<C>,
) -> Option<Result<(), String>> {
    let shared = Shared {
        queue: Mutex::new(Queue::default()),
        moved: Condvar::new(),
        parse,
    };
    let result = std::thread::scope(|scope| {
        let mut fanned = Fanned {
            shared: &shared,
            scope,
            lent: None,
            ctx,
            sink,
            sequential,
            starts: VecDeque::new(),
            index: 0,
            scratch: None,
        };
        // The helpers stop when the array is done, or this thread panics.
        let close = Close(&shared);
        let result = arrays.take_array(&mut fanned);
        drop(close);
        if let Some(scratch) = fanned.scratch.take() {
            Pool::give_back_scratch(scratch);
        }
        result
    });
    let queue = shared.queue.into_inner().unwrap_or_else(|e| e.into_inner());
    Pool::give_back(queue.spare_text, queue.spare_calls);
    result
}

/// Closes the queue when dropped: helpers waiting on it return.
struct Close<'a, P, Q>(&'a Shared<P, Q>);

impl<P, Q> Drop for Close<'_, P, Q> {
    fn drop(&mut self) {
        let mut queue = self.0.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.closed = true;
        self.0.moved(queue);
    }
}

/// A piece in the queue: `text[span]`, in a buffer of its own (a copy,
/// or the buffer the reader read it into).
struct Slot<Q> {
    text: Vec<u8>,
    span: Range<usize>,
    state: State<Q>,
}

enum State<Q> {
    Queued,
    Parsing,
    /// Parsed: the calls read (`Err`: those before the piece failed).
    Done {
        calls: Vec<CallBuf>,
        piece: Q,
        read: Result<usize, usize>,
    },
}

struct Queue<Q> {
    /// The pieces in flight, in report order; the first is piece `front`.
    slots: VecDeque<Slot<Q>>,
    front: usize,
    closed: bool,
    /// Buffers handed back, for the next pieces.
    spare_calls: Vec<Vec<CallBuf>>,
    spare_text: Vec<Vec<u8>>,
    spare_pieces: Vec<Q>,
}

impl<Q> Default for Queue<Q> {
    fn default() -> Self {
        Queue {
            slots: VecDeque::new(),
            front: 0,
            closed: false,
            spare_calls: Vec::new(),
            spare_text: Vec::new(),
            spare_pieces: Vec::new(),
        }
    }
}

impl<Q: Default> Queue<Q> {
    /// Take the first queued piece to parse.
    fn take_queued(&mut self) -> Option<Taken<Q>> {
        let i = self.slots.iter().position(|s| matches!(s.state, State::Queued))?;
        let slot = &mut self.slots[i];
        slot.state = State::Parsing;
        Some(Taken {
            n: self.front + i,
            text: std::mem::take(&mut slot.text),
            span: slot.span.clone(),
            calls: self.spare_calls.pop().unwrap_or_default(),
            piece: self.spare_pieces.pop().unwrap_or_default(),
        })
    }

    fn done(&mut self, n: usize, text: Vec<u8>, calls: Vec<CallBuf>, piece: Q, read: Result<usize, usize>) {
        let slot = &mut self.slots[n - self.front];
        slot.text = text;
        slot.state = State::Done { calls, piece, read };
    }
}

/// A piece taken from the queue to parse: its number, its text
/// (`text[span]`) and the buffers for its calls and their plan.
struct Taken<Q> {
    n: usize,
    text: Vec<u8>,
    span: Range<usize>,
    calls: Vec<CallBuf>,
    piece: Q,
}

struct Shared<P, Q> {
    queue: Mutex<Queue<Q>>,
    moved: Condvar,
    parse: P,
}

impl<P, Q> Shared<P, Q> {
    fn lock(&self) -> MutexGuard<'_, Queue<Q>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Say that the queue (locked as `queue`) changed: wake the threads waiting.
    fn moved(&self, queue: MutexGuard<'_, Queue<Q>>) {
        drop(queue);
        self.moved.notify_all();
    }

    /// Wait until the queue changes.
    fn wait<'q>(&'q self, queue: MutexGuard<'q, Queue<Q>>) -> MutexGuard<'q, Queue<Q>> {
        self.moved.wait(queue).unwrap_or_else(|e| e.into_inner())
    }
}

impl<P: ParsePiece<Q>, Q: Default> Shared<P, Q> {
    /// Parse piece `n` (taken from the queue) and put it back done.
    fn parse_taken(&self, scratch: &mut PieceScratch, taken: Taken<Q>) {
        let Taken {
            n,
            text,
            span,
            mut calls,
            mut piece,
        } = taken;
        let read = (self.parse)(&text[span], scratch, &mut calls, &mut piece);
        let mut queue = self.lock();
        queue.done(n, text, calls, piece, read);
        self.moved(queue);
    }

    /// A helper thread: parse queued pieces until the array is done.
    fn help(&self) {
        let mut scratch = Pool::scratch();
        let mut queue = self.lock();
        loop {
            if queue.closed {
                drop(queue);
                Pool::give_back_scratch(scratch);
                return;
            }
            match queue.take_queued() {
                Some(taken) => {
                    drop(queue);
                    self.parse_taken(&mut scratch, taken);
                    queue = self.lock();
                }
                None => queue = self.wait(queue),
            }
        }
    }
}

/// The reading thread's side: read pieces here until a core is lent; then
/// queue them, and hand parsed ones to the sink.
struct Fanned<'scope, 'env, C, P, Q, K, R> {
    shared: &'env Shared<P, Q>,
    scope: &'scope std::thread::Scope<'scope, 'env>,
    /// The cores lent to this array, once there are some.
    lent: Option<Lent>,
    ctx: &'env mut C,
    sink: K,
    sequential: R,
    /// Where each piece in flight starts in the report.
    starts: VecDeque<Pos>,
    /// The index of the next call to hand to the sink.
    index: usize,
    /// This thread's scratch for parsing pieces, once helpers came.
    scratch: Option<PieceScratch>,
}

impl<'scope, 'env, C, P, Q, K, R> Fanned<'scope, 'env, C, P, Q, K, R>
where
    P: ParsePiece<Q>,
    Q: Default + Send,
    K: TakePiece<C, Q>,
    R: ReadPiece<C>,
{
    /// Borrow the cores lent, if any, and start helpers on them: the pieces
    /// from the one whose first call is `first` on are parsed on them.
    fn helpers_come(&mut self, first: usize) -> bool {
        let Some(lent) = borrow() else {
            return false;
        };
        self.index = first;
        {
            let mut pool = Pool::lock();
            let mut queue = self.shared.lock();
            queue.spare_text = std::mem::take(&mut pool.texts);
            queue.spare_calls = std::mem::take(&mut pool.calls);
        }
        for _ in 0..lent.helpers {
            let shared = self.shared;
            self.scope.spawn(move || shared.help());
        }
        self.lent = Some(lent);
        true
    }

    /// Move on: hand the first piece to the sink when it is parsed, else
    /// parse a queued piece here, else wait for a helper.
    fn step(&mut self) -> Result<(), PieceError> {
        let mut queue = self.shared.lock();
        if matches!(
            queue.slots.front(),
            Some(Slot {
                state: State::Done { .. },
                ..
            })
        ) {
            let Some(slot) = queue.slots.pop_front() else {
                return Ok(());
            };
            queue.front += 1;
            drop(queue);
            return self.hand_over(slot);
        }
        // This thread parses a piece only when the helpers have another one
        // queued: its own work (scanning, the sink) is what they wait for.
        let queued = queue.slots.iter().filter(|s| matches!(s.state, State::Queued)).count();
        let taken = if queued > 1 { queue.take_queued() } else { None };
        match taken {
            Some(taken) => {
                drop(queue);
                let scratch = self.scratch.get_or_insert_with(Pool::scratch);
                self.shared.parse_taken(scratch, taken);
            }
            None => drop(self.shared.wait(queue)),
        }
        Ok(())
    }

    /// Queue the piece `text[span]` for a helper (or this thread), then
    /// move on until fewer than a window of pieces are in flight.
    fn queue(&mut self, text: Vec<u8>, span: Range<usize>, start: Pos) -> Result<(), PieceError> {
        let mut queue = self.shared.lock();
        queue.slots.push_back(Slot {
            text,
            span,
            state: State::Queued,
        });
        self.shared.moved(queue);
        self.starts.push_back(start);
        let in_flight = self.lent.as_ref().map_or(0, |lent| window(lent.helpers));
        while self.starts.len() >= in_flight {
            self.step()?;
        }
        Ok(())
    }

    /// Hand a parsed piece's calls to the sink, and its buffers back.
    fn hand_over(&mut self, slot: Slot<Q>) -> Result<(), PieceError> {
        let start = self.starts.pop_front().unwrap_or(Pos { line: 1, col: 0 });
        let State::Done {
            mut calls,
            mut piece,
            read,
        } = slot.state
        else {
            return Ok(());
        };
        if let Err((j, fail)) = (self.sink)(self.ctx, &mut calls, &mut piece) {
            let replay = Replay {
                skip: j,
                fail: Some(fail),
            };
            return Err(self.replayed(&slot.text[slot.span], start, replay));
        }
        let read = match read {
            Ok(read) => read,
            Err(skip) => {
                let replay = Replay { skip, fail: None };
                return Err(self.replayed(&slot.text[slot.span], start, replay));
            }
        };
        self.index += read;
        let mut queue = self.shared.lock();
        queue.spare_calls.push(calls);
        queue.spare_text.push(slot.text);
        queue.spare_pieces.push(piece);
        Ok(())
    }

    /// The sequential reader's error for a piece that failed.
    fn replayed(&mut self, text: &[u8], start: Pos, replay: Replay) -> PieceError {
        let error = (self.sequential)(self.ctx, text, self.index, Some(replay))
            .err()
            .unwrap_or_else(|| serde_json::Error::custom("a piece failed on one thread and not on another"));
        PieceError {
            error: Some(error),
            start,
        }
    }
}

impl<C, P, Q, K, R> PieceParser for Fanned<'_, '_, C, P, Q, K, R>
where
    P: ParsePiece<Q>,
    Q: Default + Send,
    K: TakePiece<C, Q>,
    R: ReadPiece<C>,
{
    fn keeps(&mut self, first: usize) -> bool {
        self.lent.is_some() || self.helpers_come(first)
    }

    fn spare(&mut self) -> Vec<u8> {
        self.shared.lock().spare_text.pop().unwrap_or_default()
    }

    fn piece(&mut self, text: &[u8], first: usize, start: Pos) -> Result<usize, PieceError> {
        if self.lent.is_none() {
            return (self.sequential)(self.ctx, text, first, None).map_err(|e| PieceError { error: Some(e), start });
        }
        let mut copy = self.spare();
        copy.clear();
        copy.extend_from_slice(text);
        let span = 0..copy.len();
        self.queue(copy, span, start)?;
        // The reader's count is not used: this side counts the calls it hands over.
        Ok(first)
    }

    fn piece_kept(&mut self, buf: Vec<u8>, span: Range<usize>, first: usize, start: Pos) -> Result<usize, PieceError> {
        if self.lent.is_none() {
            let n = self.piece(&buf[span], first, start);
            self.shared.lock().spare_text.push(buf);
            return n;
        }
        self.queue(buf, span, start)?;
        Ok(first)
    }

    fn finish(&mut self) -> Result<(), PieceError> {
        while !self.starts.is_empty() {
            self.step()?;
        }
        Ok(())
    }
}
