//! The streaming deserializer: serde visitors that walk a report once,
//! keep the few sections the graph needs and hand each call to the sink as
//! soon as its process is known.
//!
//! Hot path, built for speed: the calls are deserialized straight
//! into one reused [`CallBuf`] (no `serde_json::Value`, no `String` per key
//! or argument); map keys are read into one reused buffer; the JSON path for
//! error messages is kept by the visitors themselves as a stack of segments
//! that only becomes text when there is an error. The small sections read
//! for indicators (`target`, `info`, `network`, `signatures`…) are plain
//! `Deserialize` types and keep `serde_path_to_error` for their inner paths.
//!
//! A process's calls are streamed when its pid, ppid, name and path have
//! already been read (CAPEv2 writes them first; rule P1 needs the path
//! before the first call). When a process lists its calls before its pid
//! (Cuckoo 2.x writes keys in hash order):
//! * a report in memory ([`Pass::Whole`]) keeps the calls, compactly encoded,
//!   until the end of that process object, then hands them over;
//! * a streamed report ([`Pass::Stream`]) skips them, and every later
//!   process's calls too, remembering the headers; the reader then reads the
//!   report a second time ([`Pass::Second`]) and streams the calls of those
//!   processes with their headers known. Memory stays that of the graph.

use super::call::{Arg, CallBuf, Canon, CanonSeed, Scalar};
use super::cape::{normalise, parse_pid};
use super::chunked::{ArrayPieces, AtOnce};
use super::fanout::{self, Replay};
use super::iocs::{Int, Text};
use super::iocs::{Iocs, Network, RawDropped, RawSignature, TextList, Ttps};
use super::{AnalysisInfo, CallSink, Format, PlanPieces, ProcessInfo, SampleInfo};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::marker::PhantomData;

/// What the walk collects besides the calls.
#[derive(Default)]
pub(crate) struct Collected {
    pub format: Option<Format>,
    pub has_behavior: bool,
    pub processes: usize,
    pub sample: SampleInfo,
    pub info: AnalysisInfo,
    pub iocs: Iocs,
    pub version: Option<String>,
    /// Set by a [`Pass::Stream`] that skipped calls: what the second pass streams.
    pub deferred: Option<Deferred>,
}

/// The processes whose calls a first streamed pass skipped: every process
/// from `from` on, with their headers in order.
pub(crate) struct Deferred {
    pub from: usize,
    pub headers: Vec<ProcessInfo>,
    /// The first pass failed: the second only looks for a more precise error.
    pub first_pass_failed: bool,
}

/// How a report is being read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Pass {
    /// From memory, once: calls listed before their process's pid are kept until it is known.
    Whole,
    /// Streamed, first pass: such calls are skipped (see [`Collected::deferred`]).
    Stream,
    /// Streamed, second pass: only the deferred processes' calls are read.
    Second,
}

/// Walk one report. On error, returns the JSON path of the failure with serde_json's error.
/// With `arrays`, the calls arrays are taken over from `d` and parsed in pieces.
pub(crate) fn parse_report<'de, D, S>(
    d: D,
    sink: &mut S,
    out: &mut Collected,
    pass: Pass,
    arrays: Option<&dyn ArrayPieces>,
) -> Result<(), (String, serde_json::Error)>
where
    D: Deserializer<'de, Error = serde_json::Error>,
    S: CallSink,
{
    let mut scratch = SCRATCH.with(|s| s.take()).unwrap_or_default();
    scratch.canon.clear();
    let mut ctx = Ctx {
        sink,
        out,
        pass,
        arrays,
        path: std::mem::take(&mut scratch.path),
        inner: None,
        key: std::mem::take(&mut scratch.key),
        call: std::mem::take(&mut scratch.call),
        canon: std::mem::take(&mut scratch.canon),
        kept: std::mem::take(&mut scratch.kept),
        n_kept: 0,
        replay: None,
    };
    let r = match d.deserialize_map(ReportVisitor(&mut ctx)) {
        Ok(()) => Ok(()),
        Err(e) => Err((ctx.path.render(ctx.inner.as_deref()), e)),
    };
    // Keep the buffers for the next report of this thread (bounded).
    ctx.kept.truncate(KEPT_SPARE);
    for c in ctx.kept.iter_mut().chain([&mut ctx.call]) {
        c.trim(SPARE_BYTES);
    }
    if ctx.key.capacity() > SPARE_BYTES {
        ctx.key = String::new();
    }
    ctx.path = JsonPath::default();
    let scratch = Scratch {
        path: ctx.path,
        key: ctx.key,
        call: ctx.call,
        canon: ctx.canon,
        kept: ctx.kept,
    };
    SCRATCH.with(|s| s.set(Some(scratch)));
    r
}

/// Call buffers kept from one report to the next, per thread: enough for
/// the processes of most reports, so that parsing allocates nothing per call.
const KEPT_SPARE: usize = 16 * 1024;

/// Larger strings are not kept from one report to the next.
const SPARE_BYTES: usize = 64 * 1024;

/// The parser's reusable buffers.
#[derive(Default)]
struct Scratch {
    path: JsonPath,
    key: String,
    call: CallBuf,
    canon: Canon,
    kept: Vec<CallBuf>,
}

thread_local! {
    static SCRATCH: std::cell::Cell<Option<Scratch>> = const { std::cell::Cell::new(None) };
}

/// Everything the visitors share.
struct Ctx<'s, S> {
    sink: &'s mut S,
    out: &'s mut Collected,
    pass: Pass,
    /// The reader of a big report, which hands out the calls arrays in pieces.
    arrays: Option<&'s dyn ArrayPieces>,
    /// Where the walk is; on error, where it failed.
    path: JsonPath,
    /// The path inside a section read with `serde_path_to_error`, when it failed there.
    inner: Option<String>,
    /// The map key just read.
    key: String,
    /// The call being read (reused for every call).
    call: CallBuf,
    canon: Canon,
    /// Calls of the current process kept until its header is complete
    /// (`Pass::Whole`): the first `n_kept` (the rest are spare buffers).
    kept: Vec<CallBuf>,
    n_kept: usize,
    /// A piece parsed on another thread read again for its error ([`fanout`]).
    replay: Option<Replay>,
}

/// Run `$body` with `$de`, a serde_json deserializer of the bytes `$text`:
/// over a `&str` when the text is valid UTF-8 (checked once, over the whole
/// text: serde_json then does not check each string it hands out again,
/// which took 4–5% of `build -j 1`), else over the bytes, where serde_json
/// says which string is not UTF-8, and where, as before.
macro_rules! with_deserializer {
    ($text:expr, |$de:ident| $body:expr) => {{
        let text: &[u8] = $text;
        match std::str::from_utf8(text) {
            Ok(s) => {
                let $de = &mut serde_json::Deserializer::from_str(s);
                $body
            }
            Err(_) => {
                let $de = &mut serde_json::Deserializer::from_slice(text);
                $body
            }
        }
    }};
}
pub(crate) use with_deserializer;

// ---------------------------------------------------------------------------
// JSON path

/// A path segment: what it is, and a name's buffer, kept when the slot
/// holds a key or an index so that it is reused by the next name.
#[derive(Default)]
struct Seg {
    at: At,
    name: String,
}

#[derive(Default)]
enum At {
    #[default]
    Name,
    Key(&'static str),
    Index(usize),
}

/// A stack of path segments. Segments beyond `len` are kept so that their
/// strings are reused: pushing a key does not allocate after warm-up.
#[derive(Default)]
struct JsonPath {
    segs: Vec<Seg>,
    len: usize,
}

impl JsonPath {
    /// The next slot, holding `at`.
    fn slot(&mut self, at: At) -> &mut Seg {
        if self.len == self.segs.len() {
            self.segs.push(Seg::default());
        }
        let seg = &mut self.segs[self.len];
        seg.at = at;
        self.len += 1;
        seg
    }
    fn push_key(&mut self, k: &'static str) {
        self.slot(At::Key(k));
    }
    fn push_index(&mut self, i: usize) {
        self.slot(At::Index(i));
    }
    fn push_name(&mut self, name: &str) {
        let seg = self.slot(At::Name);
        seg.name.clear();
        seg.name.push_str(name);
    }
    fn pop(&mut self) {
        self.len = self.len.saturating_sub(1);
    }

    /// As `serde_path_to_error` writes paths (`behavior.processes[0].pid`),
    /// followed by the inner path of a section it tracked.
    fn render(&self, inner: Option<&str>) -> String {
        let mut s = String::new();
        for seg in &self.segs[..self.len] {
            match seg.at {
                At::Index(i) => s.push_str(&format!("[{i}]")),
                At::Key(k) => dotted(&mut s, k),
                At::Name => dotted(&mut s, &seg.name),
            }
        }
        match inner {
            None | Some(".") => {}
            Some(i) if i.starts_with('[') => s.push_str(i),
            Some(i) => dotted(&mut s, i),
        }
        if s.is_empty() {
            s.push('.');
        }
        s
    }
}

fn dotted(s: &mut String, k: &str) {
    if !s.is_empty() {
        s.push('.');
    }
    s.push_str(k);
}

// ---------------------------------------------------------------------------
// Small seeds

/// A map key (or any string) into a reused buffer.
struct StrInto<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for StrInto<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.0.clear();
        d.deserialize_string(self)
    }
}

impl<'de> Visitor<'de> for StrInto<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.push_str(v);
        Ok(())
    }
}

/// A string value under a known key.
struct StrAt<'a> {
    path: &'a mut JsonPath,
    key: &'static str,
    out: &'a mut String,
}

impl<'de> DeserializeSeed<'de> for StrAt<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.path.push_key(self.key);
        StrInto(self.out).deserialize(d)?;
        self.path.pop();
        Ok(())
    }
}

/// Skips a value (validating its syntax only), at a key of the report;
/// with `arrays`, its arrays are skipped in pieces ([`ArrayPieces`]).
struct Skip<'a> {
    path: &'a mut JsonPath,
    key: &'a str,
    arrays: Option<&'a dyn ArrayPieces>,
}

impl<'de> DeserializeSeed<'de> for Skip<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.path.push_name(self.key);
        match self.arrays {
            Some(arrays) => SkipInPieces(arrays).deserialize(d)?,
            None => IgnoredAny::deserialize(d).map(drop)?,
        }
        self.path.pop();
        Ok(())
    }
}

/// A value skipped by [`Skip`] with the reader's help: arrays are taken
/// over and checked in pieces when the reader can.
struct SkipInPieces<'a>(&'a dyn ArrayPieces);

impl<'de> DeserializeSeed<'de> for SkipInPieces<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Check the syntax of a piece of an array or object.
fn check_piece(piece: &[u8], first: usize) -> Result<usize, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(piece);
    IgnoredAny::deserialize(&mut de)?;
    de.end()?;
    Ok(first)
}

impl<'de> Visitor<'de> for SkipInPieces<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // Checked on a lent core when there is one (only the first error matters).
        let check = |piece: &[u8], _: &mut PieceScratch, _: &mut Vec<CallBuf>, _: &mut ()| match check_piece(piece, 0) {
            Ok(_) => Ok(0),
            Err(_) => Err(0),
        };
        let sequential = |_: &mut (), piece: &[u8], first: usize, _: Option<Replay>| check_piece(piece, first);
        let no_calls = |_: &mut (), _: &mut [CallBuf], _: &mut ()| Ok(());
        if let Some(r) = fanout::run(self.0, &mut (), check, no_calls, sequential) {
            return r.map_err(de::Error::custom);
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    /// Objects are walked (their arrays taken over): an object's members
    /// can be as big as a section, more than a chunk should hold.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(SkipInPieces(self.0))?;
        }
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A small typed value at a known key.
struct Typed<'a, T> {
    path: &'a mut JsonPath,
    key: &'static str,
    ty: PhantomData<T>,
}

fn typed<'a, T>(path: &'a mut JsonPath, key: &'static str) -> Typed<'a, T> {
    Typed {
        path,
        key,
        ty: PhantomData,
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Typed<'_, T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        self.path.push_key(self.key);
        let v = T::deserialize(d)?;
        self.path.pop();
        Ok(v)
    }
}

/// A section read as a plain `Deserialize` type, its inner path tracked by
/// `serde_path_to_error` (these sections are small and read once).
struct Cold<'a, T> {
    path: &'a mut JsonPath,
    inner: &'a mut Option<String>,
    key: &'static str,
    ty: PhantomData<T>,
}

/// Skip the value of the key just read ([`Skip`]), at its place in the path.
fn skip<'a, S>(ctx: &'a mut Ctx<'_, S>) -> Skip<'a> {
    Skip {
        path: &mut ctx.path,
        key: &ctx.key,
        arrays: ctx.arrays,
    }
}

fn cold<'a, S, T>(ctx: &'a mut Ctx<'_, S>, key: &'static str) -> Cold<'a, T> {
    Cold {
        path: &mut ctx.path,
        inner: &mut ctx.inner,
        key,
        ty: PhantomData,
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Cold<'_, T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        self.path.push_key(self.key);
        let mut track = serde_path_to_error::Track::new();
        match T::deserialize(serde_path_to_error::Deserializer::new(d, &mut track)) {
            Ok(v) => {
                self.path.pop();
                Ok(v)
            }
            Err(e) => {
                *self.inner = Some(track.path().to_string());
                Err(e)
            }
        }
    }
}

/// `network` (`null` is none): `hosts` and `domains` read as [`Cold`]
/// sections, every other member (the flows: `udp`, `tcp`, `dns`…, tens of
/// MB in big reports) skipped with the reader's help ([`Skip`]) rather than
/// by serde_json a byte at a time.
struct NetworkSeed<'c, 's, S>(&'c mut Ctx<'s, S>, &'c mut Network);

impl<'de, S> DeserializeSeed<'de> for NetworkSeed<'_, '_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.0.path.push_key("network");
        d.deserialize_option(self)?;
        Ok(())
    }
}

impl<'de, S> Visitor<'de> for NetworkSeed<'_, '_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a `network` object")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.0.path.pop();
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let NetworkSeed(ctx, out) = self;
        let (mut hosts, mut domains) = (false, false);
        while map.next_key_seed(StrInto(&mut ctx.key))?.is_some() {
            match ctx.key.as_str() {
                "hosts" if hosts => return Err(de::Error::duplicate_field("hosts")),
                "hosts" => {
                    hosts = true;
                    out.hosts = map.next_value_seed(cold(ctx, "hosts"))?;
                }
                "domains" if domains => return Err(de::Error::duplicate_field("domains")),
                "domains" => {
                    domains = true;
                    out.domains = map.next_value_seed(cold(ctx, "domains"))?;
                }
                _ => map.next_value_seed(skip(ctx))?,
            }
        }
        ctx.path.pop();
        Ok(())
    }
}

/// `null` as "absent" (`"behavior": null` is a report without behaviour,
/// not a type error); anything else goes to the inner visitor.
struct NullOr<V>(V);

impl<'de, V: Visitor<'de, Value = ()>> Visitor<'de> for NullOr<V>
where
    V: NullOrInner<'de>,
{
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object, a list or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.0.inner(d)
    }
}

/// How the visitor behind a [`NullOr`] asks for its value.
trait NullOrInner<'de>: Visitor<'de, Value = ()> + Sized {
    fn inner<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error>;
}

/// A pid: an integer or a decimal string; anything else is an error at its key.
struct Pid(Option<i64>);

impl<'de> Deserialize<'de> for Pid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        match v {
            Value::Null => Ok(Pid(None)),
            v => parse_pid(&v).map(|p| Pid(Some(p))).map_err(de::Error::custom),
        }
    }
}

// ---------------------------------------------------------------------------
// The report

struct ReportVisitor<'c, 's, S>(&'c mut Ctx<'s, S>);

impl<'de, S: CallSink> Visitor<'de> for ReportVisitor<'_, '_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sandbox report object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.0;
        let mut ttps = Ttps(Default::default());
        let mut malscore: Option<f64> = None;
        while map.next_key_seed(StrInto(&mut ctx.key))?.is_some() {
            if ctx.pass == Pass::Second {
                if ctx.key == "behavior" {
                    map.next_value_seed(BehaviorSeed(&mut *ctx))?;
                } else {
                    map.next_value_seed(skip(ctx))?;
                }
                continue;
            }
            match ctx.key.as_str() {
                "behavior" => {
                    if ctx.out.has_behavior {
                        return Err(de::Error::custom("duplicate key `behavior`"));
                    }
                    ctx.out.has_behavior = true;
                    map.next_value_seed(BehaviorSeed(&mut *ctx))?;
                }
                "target" => {
                    let t: Target = map.next_value_seed(cold(ctx, "target"))?;
                    if let Some(f) = t.file {
                        ctx.out.sample = SampleInfo {
                            sha256: f.sha256.non_empty().map(|s| s.to_lowercase()),
                            name: f.name.non_empty(),
                            size: f.size.0.and_then(|s| u64::try_from(s).ok()),
                            file_type: f.file_type.non_empty(),
                            md5: f.md5.non_empty(),
                            sha1: f.sha1.non_empty(),
                        };
                    }
                }
                "info" => {
                    let i: Info = map.next_value_seed(cold(ctx, "info"))?;
                    ctx.out.version = i.version.non_empty();
                    ctx.out.info = AnalysisInfo {
                        version: ctx.out.version.clone(),
                        task_id: i.id.0,
                        started: i.started.non_empty(),
                        score: i.score.0.and_then(|s| s.parse().ok()),
                    };
                }
                "signatures" => {
                    let sigs: Option<Vec<RawSignature>> = map.next_value_seed(cold(ctx, "signatures"))?;
                    ctx.out.iocs.signatures.extend(
                        sigs.unwrap_or_default()
                            .into_iter()
                            .filter_map(RawSignature::into_signature),
                    );
                }
                "network" => {
                    let mut n = Network::default();
                    map.next_value_seed(NetworkSeed(&mut *ctx, &mut n))?;
                    n.into_iocs(&mut ctx.out.iocs);
                }
                "dropped" => {
                    let d: Option<Vec<RawDropped>> = map.next_value_seed(cold(ctx, "dropped"))?;
                    ctx.out
                        .iocs
                        .dropped
                        .extend(d.unwrap_or_default().into_iter().filter_map(RawDropped::into_dropped));
                }
                "ttps" => ttps = map.next_value_seed(cold(ctx, "ttps"))?,
                "malscore" => {
                    malscore = map
                        .next_value_seed(cold::<S, Text>(ctx, "malscore"))?
                        .0
                        .and_then(|s| s.parse().ok())
                }
                _ => {
                    map.next_value_seed(skip(ctx))?;
                }
            }
        }
        if ctx.pass == Pass::Second {
            return Ok(());
        }
        if ctx.out.info.score.is_none() {
            ctx.out.info.score = malscore;
        }
        ctx.out.iocs.finish(&ttps.0);
        if ctx.out.format.is_none() && ctx.out.processes == 0 {
            let cape = ctx.out.version.as_deref().is_some_and(|v| v.contains("CAPE"));
            ctx.out.format = Some(if cape { Format::Cape } else { Format::Cuckoo });
        }
        Ok(())
    }
}

#[derive(Deserialize, Default)]
#[serde(expecting = "a `target` object")]
struct Target {
    #[serde(default)]
    file: Option<TargetFile>,
}

#[derive(Deserialize, Default)]
#[serde(expecting = "a `target.file` object")]
struct TargetFile {
    #[serde(default)]
    sha256: Text,
    #[serde(default)]
    name: Text,
    #[serde(default)]
    size: Int,
    #[serde(default, rename = "type")]
    file_type: Text,
    #[serde(default)]
    md5: Text,
    #[serde(default)]
    sha1: Text,
}

#[derive(Deserialize, Default)]
#[serde(expecting = "an `info` object")]
struct Info {
    #[serde(default)]
    version: Text,
    #[serde(default)]
    id: Int,
    #[serde(default)]
    started: Text,
    #[serde(default)]
    score: Text,
}

#[derive(Deserialize)]
#[serde(expecting = "a `summary` object")]
struct Summary {
    #[serde(default)]
    mutex: Option<TextList>,
    #[serde(default)]
    mutexes: Option<TextList>,
}

// ---------------------------------------------------------------------------
// behavior, behavior.processes

struct BehaviorSeed<'c, 's, S>(&'c mut Ctx<'s, S>);

impl<'de, S: CallSink> DeserializeSeed<'de> for BehaviorSeed<'_, '_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.0.path.push_key("behavior");
        let ctx = &mut *self.0;
        d.deserialize_option(NullOr(BehaviorVisitor(&mut *ctx)))?;
        ctx.path.pop();
        Ok(())
    }
}

struct BehaviorVisitor<'c, 's, S>(&'c mut Ctx<'s, S>);

impl<'de, S: CallSink> NullOrInner<'de> for BehaviorVisitor<'_, '_, S> {
    fn inner<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, S: CallSink> Visitor<'de> for BehaviorVisitor<'_, '_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a behavior object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.0;
        let mut seen_processes = false;
        while map.next_key_seed(StrInto(&mut ctx.key))?.is_some() {
            match ctx.key.as_str() {
                "processes" => {
                    if seen_processes {
                        return Err(de::Error::custom("duplicate key `processes`"));
                    }
                    seen_processes = true;
                    map.next_value_seed(ProcessesSeed(&mut *ctx))?;
                }
                "summary" if ctx.pass != Pass::Second => {
                    let s: Option<Summary> = map.next_value_seed(cold(ctx, "summary"))?;
                    if let Some(s) = s {
                        // Cuckoo 2.x says `mutex`, CAPE `mutexes`.
                        ctx.out.iocs.mutexes.extend(s.mutex.map(|m| m.0).unwrap_or_default());
                        ctx.out.iocs.mutexes.extend(s.mutexes.map(|m| m.0).unwrap_or_default());
                    }
                }
                _ => {
                    map.next_value_seed(skip(ctx))?;
                }
            }
        }
        Ok(())
    }
}

struct ProcessesSeed<'c, 's, S>(&'c mut Ctx<'s, S>);

impl<'de, S: CallSink> DeserializeSeed<'de> for ProcessesSeed<'_, '_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.0.path.push_key("processes");
        let ctx = &mut *self.0;
        d.deserialize_option(NullOr(ProcessesVisitor(&mut *ctx)))?;
        ctx.path.pop();
        Ok(())
    }
}

struct ProcessesVisitor<'c, 's, S>(&'c mut Ctx<'s, S>);

impl<'de, S: CallSink> NullOrInner<'de> for ProcessesVisitor<'_, '_, S> {
    fn inner<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, S: CallSink> Visitor<'de> for ProcessesVisitor<'_, '_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of processes")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ctx = self.0;
        let mut index = 0;
        while seq.next_element_seed(ProcessSeed { ctx: &mut *ctx, index })?.is_some() {
            if ctx.pass != Pass::Second {
                ctx.out.processes += 1;
            }
            index += 1;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// One process

struct ProcessSeed<'c, 's, S> {
    ctx: &'c mut Ctx<'s, S>,
    index: usize,
}

impl<'de, S: CallSink> DeserializeSeed<'de> for ProcessSeed<'_, '_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let ctx = self.ctx;
        ctx.path.push_index(self.index);
        match ctx.pass {
            Pass::Second => {
                let from = ctx.out.deferred.as_ref().map_or(usize::MAX, |p| p.from);
                if self.index < from {
                    IgnoredAny::deserialize(d)?;
                } else {
                    d.deserialize_map(SecondPassProcess {
                        ctx: &mut *ctx,
                        index: self.index - from,
                    })?;
                }
            }
            _ => d.deserialize_map(ProcessVisitor {
                ctx: &mut *ctx,
                index: self.index,
            })?,
        }
        ctx.path.pop();
        Ok(())
    }
}

/// The header fields of a process, filled as its keys arrive.
#[derive(Default)]
struct Header {
    pid: Option<i64>,
    ppid: Option<Option<i64>>,
    name: Option<Option<String>>,
    path: Option<Option<String>>,
    has_process_id: bool,
}

impl Header {
    fn info(&self) -> Option<ProcessInfo> {
        Some(ProcessInfo {
            pid: self.pid?,
            ppid: self.ppid.flatten(),
            name: self.name.clone().flatten(),
            path: self.path.clone().flatten(),
        })
    }
    fn complete(&self) -> bool {
        self.pid.is_some() && self.ppid.is_some() && self.name.is_some() && self.path.is_some()
    }
}

#[derive(PartialEq)]
enum CallsSeen {
    No,
    Streamed,
    Kept,
    Skipped,
}

struct ProcessVisitor<'c, 's, S> {
    ctx: &'c mut Ctx<'s, S>,
    index: usize,
}

impl<'de, S: CallSink> Visitor<'de> for ProcessVisitor<'_, '_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a process object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        let first = self.index == 0;
        let mut h = Header::default();
        let mut calls = CallsSeen::No;
        let mut at_calls: Option<ProcessInfo> = None;
        ctx.n_kept = 0;
        while map.next_key_seed(StrInto(&mut ctx.key))?.is_some() {
            match ctx.key.as_str() {
                k @ ("pid" | "process_id") => {
                    let k = if k == "pid" { "pid" } else { "process_id" };
                    h.has_process_id |= k == "process_id";
                    h.pid = map.next_value_seed(typed::<Pid>(&mut ctx.path, k))?.0;
                    if first && ctx.out.format.is_none() {
                        ctx.out.format = Some(if h.has_process_id { Format::Cape } else { Format::Cuckoo });
                    }
                }
                k @ ("ppid" | "parent_id") => {
                    let k = if k == "ppid" { "ppid" } else { "parent_id" };
                    h.ppid = Some(map.next_value_seed(typed::<Pid>(&mut ctx.path, k))?.0);
                }
                "process_name" => {
                    h.name = Some(map.next_value_seed(typed::<Option<String>>(&mut ctx.path, "process_name"))?)
                }
                k @ ("process_path" | "module_path") => {
                    let k = if k == "process_path" {
                        "process_path"
                    } else {
                        "module_path"
                    };
                    h.path = Some(map.next_value_seed(typed::<Option<String>>(&mut ctx.path, k))?);
                }
                "calls" => {
                    if calls != CallsSeen::No {
                        return Err(de::Error::custom("duplicate key `calls`"));
                    }
                    let deferring = ctx.out.deferred.is_some();
                    match (deferring, h.complete(), ctx.out.format, h.info()) {
                        (false, true, Some(format), Some(info)) => {
                            ctx.sink.begin_process(&info);
                            calls = CallsSeen::Streamed;
                            map.next_value_seed(CallsSeed {
                                ctx: &mut *ctx,
                                format: Some(format),
                                first: None,
                            })?;
                        }
                        (_, complete, format, info) if ctx.pass == Pass::Stream => {
                            // Read them in the second pass, when this header is known
                            // (the header as it is now, when a one-pass reader
                            // would stream them now).
                            if complete && format.is_some() {
                                at_calls = info;
                            }
                            if ctx.out.deferred.is_none() {
                                ctx.out.deferred = Some(Deferred {
                                    from: self.index,
                                    headers: Vec::new(),
                                    first_pass_failed: false,
                                });
                            }
                            calls = CallsSeen::Skipped;
                            map.next_value_seed(Skip {
                                path: &mut ctx.path,
                                key: "calls",
                                arrays: ctx.arrays,
                            })?;
                        }
                        _ => {
                            calls = CallsSeen::Kept;
                            map.next_value_seed(CallsSeed {
                                ctx: &mut *ctx,
                                format: None,
                                first: None,
                            })?;
                        }
                    }
                }
                _ => {
                    map.next_value_seed(skip(ctx))?;
                }
            }
        }
        let Some(info) = h.info() else {
            return Err(de::Error::custom("process without `pid` / `process_id`"));
        };
        if calls == CallsSeen::Streamed {
            ctx.sink.end_process();
            return Ok(());
        }
        let format = *ctx
            .out
            .format
            .get_or_insert(if h.has_process_id { Format::Cape } else { Format::Cuckoo });
        if let Some(deferred) = &mut ctx.out.deferred {
            deferred.headers.push(at_calls.unwrap_or(info));
            return Ok(());
        }
        ctx.sink.begin_process(&info);
        // Errors name the call as a streamed process's do (`….calls: calls[2]: …`).
        ctx.path.push_key("calls");
        for i in 0..ctx.n_kept {
            let at = |e: String| de::Error::custom(format!("calls[{i}]: {e}"));
            let call = &mut ctx.kept[i];
            normalise(call, format);
            ctx.sink.call(call).map_err(at)?;
        }
        ctx.path.pop();
        ctx.n_kept = 0;
        ctx.sink.end_process();
        Ok(())
    }
}

/// A deferred process in the second pass: its header is known, its calls are streamed.
struct SecondPassProcess<'c, 's, S> {
    ctx: &'c mut Ctx<'s, S>,
    /// Index into the deferred headers.
    index: usize,
}

impl<'de, S: CallSink> Visitor<'de> for SecondPassProcess<'_, '_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a process object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        let info = match ctx
            .out
            .deferred
            .as_ref()
            .map(|p| (p.headers.get(self.index), p.first_pass_failed))
        {
            Some((Some(info), _)) => info.clone(),
            // The first pass stopped before this header; the calls are only
            // read for their error (the report has failed already).
            Some((None, true)) => ProcessInfo::default(),
            // The file changed between the passes.
            _ => return Err(de::Error::custom("the report changed while it was read")),
        };
        let format = ctx.out.format.unwrap_or(Format::Cuckoo);
        ctx.sink.begin_process(&info);
        while map.next_key_seed(StrInto(&mut ctx.key))?.is_some() {
            if ctx.key == "calls" {
                map.next_value_seed(CallsSeed {
                    ctx: &mut *ctx,
                    format: Some(format),
                    first: None,
                })?;
            } else {
                map.next_value_seed(skip(ctx))?;
            }
        }
        ctx.sink.end_process();
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Calls

/// A process's `calls`: streamed to the sink (`format` known), or kept.
struct CallsSeed<'c, 's, S> {
    ctx: &'c mut Ctx<'s, S>,
    format: Option<Format>,
    /// A piece of the array ([`ArrayPieces`]) whose first call has this index.
    first: Option<usize>,
}

impl<'de, S: CallSink> DeserializeSeed<'de> for CallsSeed<'_, '_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.ctx.path.push_key("calls");
        let ctx = &mut *self.ctx;
        d.deserialize_seq(CallsSeed {
            ctx: &mut *ctx,
            format: self.format,
            first: None,
        })?;
        ctx.path.pop();
        Ok(())
    }
}

/// Hand a calls array whose calls are kept (the format is not known yet)
/// to the sequential reader in pieces, when the reader can (see
/// [`ArrayPieces`]): they are read on this thread.
fn take_kept_calls<S: CallSink>(ctx: &mut Ctx<'_, S>) -> Option<Result<(), String>> {
    let arrays = ctx.arrays?;
    arrays.take_array(&mut AtOnce(|piece: &[u8], first| calls_piece(ctx, piece, None, first)))
}

/// A process's calls in pieces, parsed on lent threads once there are some
/// ([`fanout`]), handed to the sink here in order. `None` when the reader
/// does not hand out pieces.
fn take_calls_fanned<S: CallSink>(ctx: &mut Ctx<'_, S>, format: Format) -> Option<Result<(), String>> {
    let arrays = ctx.arrays?;
    let uncompared = ctx.sink.uncompared_fields();
    let planner = ctx.sink.planner();
    // Each call planned as it is parsed, on the thread that parses it.
    let parse = move |piece: &[u8], scratch: &mut PieceScratch, out: &mut Vec<CallBuf>, plan: &mut S::Piece| {
        planner.begin(plan);
        parse_calls_piece(piece, format, uncompared, scratch, out, &mut |call| {
            planner.call(call, plan)
        })
    };
    let sink = |ctx: &mut Ctx<'_, S>, calls: &mut [CallBuf], plan: &mut S::Piece| ctx.sink.piece(calls, plan);
    // Read here until a core is lent; a piece that failed on a helper is
    // read again here, for the same error at the same place and path.
    let sequential = |ctx: &mut Ctx<'_, S>, piece: &[u8], first: usize, replay: Option<Replay>| {
        ctx.replay = replay;
        let r = calls_piece(ctx, piece, Some(format), first);
        ctx.replay = None;
        r
    };
    fanout::run(arrays, ctx, parse, sink, sequential)
}

/// The sequential reading of a piece of calls (the whole text), streamed to
/// the sink: the index after its last call.
fn calls_piece<S: CallSink>(
    ctx: &mut Ctx<'_, S>,
    piece: &[u8],
    format: Option<Format>,
    first: usize,
) -> Result<usize, serde_json::Error> {
    with_deserializer!(piece, |de| {
        let n = de.deserialize_seq(CallsSeed {
            ctx,
            format,
            first: Some(first),
        })?;
        de.end()?;
        Ok(n)
    })
}

/// What a thread parsing pieces of calls reuses from one piece to the next.
#[derive(Default)]
pub(crate) struct PieceScratch {
    path: JsonPath,
    key: String,
    canon: Canon,
    /// Call buffers to fill (the pieces' buffers come back here).
    spare: Vec<CallBuf>,
}

/// Parse a piece `[call, …]`, handing each call (normalised) to `each`,
/// and into `out` when `each` says so (reusing `out`'s buffers): the number
/// of calls read, `Err` with those read before the error when it fails.
fn parse_calls_piece(
    piece: &[u8],
    format: Format,
    uncompared: &'static [&'static str],
    scratch: &mut PieceScratch,
    out: &mut Vec<CallBuf>,
    each: &mut dyn FnMut(&mut CallBuf) -> bool,
) -> Result<usize, usize> {
    scratch.spare.append(out);
    let mut read = 0;
    let ok = with_deserializer!(piece, |de| {
        let r = de.deserialize_seq(CollectCalls {
            scratch: &mut *scratch,
            format,
            uncompared,
            out: &mut *out,
            each,
            read: &mut read,
        });
        r.is_ok() && de.end().is_ok()
    });
    if !ok {
        scratch.canon.clear();
        scratch.path = JsonPath::default();
        return Err(read);
    }
    Ok(read)
}

/// [`parse_calls_piece`]'s visitor: the calls of a piece, each to `each`.
struct CollectCalls<'a> {
    scratch: &'a mut PieceScratch,
    format: Format,
    uncompared: &'static [&'static str],
    out: &'a mut Vec<CallBuf>,
    each: &'a mut dyn FnMut(&mut CallBuf) -> bool,
    read: &'a mut usize,
}

impl<'de> Visitor<'de> for CollectCalls<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of calls")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let s = self.scratch;
        // One buffer, filled again unless the call went into `out` (moving
        // a buffer in and out of `spare` for every call cost 1% of `-j 2`).
        let mut call = s.spare.pop().unwrap_or_default();
        loop {
            let seed = CallSeed {
                call: &mut call,
                path: &mut s.path,
                key: &mut s.key,
                canon: &mut s.canon,
                index: *self.read,
                uncompared: self.uncompared,
            };
            let read = seq.next_element_seed(seed);
            if !matches!(read, Ok(Some(()))) {
                s.spare.push(call);
                return read.map(|_| ());
            }
            normalise(&mut call, self.format);
            *self.read += 1;
            if (self.each)(&mut call) {
                let next = s.spare.pop().unwrap_or_default();
                self.out.push(std::mem::replace(&mut call, next));
            }
        }
    }
}

impl<'de, S: CallSink> Visitor<'de> for CallsSeed<'_, '_, S> {
    /// The index after the last call read.
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of calls")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let ctx = self.ctx;
        let format = self.format;
        if self.first.is_none() {
            let taken = match format {
                Some(format) => take_calls_fanned(ctx, format),
                None => take_kept_calls(ctx),
            };
            if let Some(r) = taken {
                return r.map(|()| 0).map_err(de::Error::custom);
            }
        }
        let mut i = self.first.unwrap_or(0);
        loop {
            let buf = match self.format {
                Some(_) => &mut ctx.call,
                None => {
                    if ctx.n_kept == ctx.kept.len() {
                        ctx.kept.push(CallBuf::default());
                    }
                    &mut ctx.kept[ctx.n_kept]
                }
            };
            let seed = CallSeed {
                call: buf,
                path: &mut ctx.path,
                key: &mut ctx.key,
                canon: &mut ctx.canon,
                index: i,
                uncompared: ctx.sink.uncompared_fields(),
            };
            if seq.next_element_seed(seed)?.is_none() {
                break;
            }
            match self.format {
                Some(format) => {
                    // The path ends at `calls` here (the element is done): name the call.
                    let at = |e: String| de::Error::custom(format!("calls[{i}]: {e}"));
                    normalise(&mut ctx.call, format);
                    match &mut ctx.replay {
                        None => ctx.sink.call(&mut ctx.call),
                        Some(replay) => replay.call(),
                    }
                    .map_err(at)?;
                }
                None => ctx.n_kept += 1,
            }
            i += 1;
        }
        Ok(i)
    }
}

/// One call object, into a call buffer.
struct CallSeed<'a> {
    call: &'a mut CallBuf,
    path: &'a mut JsonPath,
    key: &'a mut String,
    canon: &'a mut Canon,
    index: usize,
    /// Fields not kept: [`CallSink::uncompared_fields`].
    uncompared: &'static [&'static str],
}

impl<'de> DeserializeSeed<'de> for CallSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.path.push_index(self.index);
        let path = &mut *self.path;
        d.deserialize_map(CallSeed {
            call: self.call,
            path: &mut *path,
            key: self.key,
            canon: self.canon,
            index: self.index,
            uncompared: self.uncompared,
        })?;
        path.pop();
        Ok(())
    }
}

impl<'de> Visitor<'de> for CallSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a call object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let CallSeed {
            path,
            key,
            call,
            canon,
            uncompared,
            ..
        } = self;
        call.clear();
        let (mut has_api, mut has_category) = (false, false);
        let rest_base = canon.mark();
        while map.next_key_seed(StrInto(key))?.is_some() {
            match key.as_str() {
                "api" => {
                    map.next_value_seed(StrAt {
                        path,
                        key: "api",
                        out: &mut call.api,
                    })?;
                    has_api = true;
                }
                "category" => {
                    map.next_value_seed(StrAt {
                        path,
                        key: "category",
                        out: &mut call.category,
                    })?;
                    has_category = true;
                }
                "arguments" => {
                    call.n = 0;
                    map.next_value_seed(ArgsSeed {
                        call: &mut *call,
                        path: &mut *path,
                        field: key,
                    })?;
                }
                k if uncompared.contains(&k) => map.next_value_seed(Skip {
                    path,
                    key: k,
                    arrays: None,
                })?,
                _ => {
                    // Kept for C3, canonically encoded: the name, then the value.
                    let start = call.rest.len();
                    put_name(&mut call.rest, key);
                    let value = call.rest.len();
                    path.push_name(key);
                    map.next_value_seed(CanonSeed {
                        out: &mut call.rest,
                        canon: &mut *canon,
                    })?;
                    path.pop();
                    canon.push_span((start, value, call.rest.len()));
                    let v = &call.rest[value..];
                    if key == "last_error" {
                        call.last_error = last_error(v).map_err(de::Error::custom)?;
                    } else if key == "status" && v == b"f" {
                        call.status_false = true;
                    }
                }
            }
        }
        if !has_api {
            return Err(de::Error::missing_field("api"));
        }
        if !has_category {
            return Err(de::Error::missing_field("category"));
        }
        canon.take_entries(rest_base, &mut call.entries);
        Ok(())
    }
}

/// A field name as the canonical encoding writes map keys.
fn put_name(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(&(name.len() as u64).to_le_bytes());
    out.extend_from_slice(name.as_bytes());
}

/// `last_error` from its canonical bytes: a number, a decimal string or null.
fn last_error(v: &[u8]) -> Result<Option<i64>, String> {
    let word = || {
        let mut a = [0u8; 8];
        let b = v.get(1..9).unwrap_or(&[]);
        a[..b.len()].copy_from_slice(b);
        u64::from_le_bytes(a)
    };
    let kind = match v.first() {
        Some(b'n') => return Ok(None),
        // As `Number::as_i64`, else `as_f64() as i64` (saturating).
        Some(b'u') => return Ok(Some(i64::try_from(word()).unwrap_or(i64::MAX))),
        Some(b'i') => return Ok(Some(word() as i64)),
        Some(b'd') => return Ok(Some(f64::from_bits(word()) as i64)),
        Some(b's') => {
            let s = std::str::from_utf8(v.get(9..).unwrap_or(&[])).unwrap_or("");
            return Ok(s.parse().ok());
        }
        Some(b't' | b'f') => "a boolean",
        Some(b'[') => "an array",
        _ => "an object",
    };
    Err(format!("`last_error`: expected a number, found {kind}"))
}

// ---------------------------------------------------------------------------
// Arguments

/// `arguments`: an object, or a list of `{"name", "value"}` (first name wins).
struct ArgsSeed<'a> {
    call: &'a mut CallBuf,
    path: &'a mut JsonPath,
    /// Scratch for the keys of `{name, value}` objects.
    field: &'a mut String,
}

impl<'de> DeserializeSeed<'de> for ArgsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.path.push_key("arguments");
        let path = &mut *self.path;
        d.deserialize_any(ArgsSeed {
            call: self.call,
            path: &mut *path,
            field: self.field,
        })?;
        path.pop();
        Ok(())
    }
}

impl<'de> Visitor<'de> for ArgsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("arguments as an object or a list of {name, value}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        loop {
            let arg = self.call.push_arg();
            if map.next_key_seed(StrInto(&mut arg.name))?.is_none() {
                self.call.n -= 1;
                break;
            }
            map.next_value_seed(ArgValue {
                arg,
                path: &mut *self.path,
                at: None,
            })?;
        }
        self.call.first_name_wins();
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            let arg = self.call.push_arg();
            let seed = NamedArg {
                arg,
                path: &mut *self.path,
                field: &mut *self.field,
                index,
            };
            if seq.next_element_seed(seed)?.is_none() {
                self.call.n -= 1;
                break;
            }
            index += 1;
        }
        self.call.first_name_wins();
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// One `{"name", "value"}` of a CAPE argument list (`pretty_value` and
/// other fields are skipped), as `#[derive(Deserialize)]` would read it.
struct NamedArg<'a> {
    arg: &'a mut Arg,
    path: &'a mut JsonPath,
    field: &'a mut String,
    index: usize,
}

const NAMED_ARG_FIELDS: &[&str] = &["name", "value"];

impl<'de> DeserializeSeed<'de> for NamedArg<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.path.push_index(self.index);
        let path = &mut *self.path;
        d.deserialize_struct(
            "NamedArg",
            NAMED_ARG_FIELDS,
            NamedArg {
                arg: self.arg,
                path: &mut *path,
                field: self.field,
                index: self.index,
            },
        )?;
        path.pop();
        Ok(())
    }
}

impl<'de> Visitor<'de> for NamedArg<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an argument object {name, value}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut has_name, mut has_value) = (false, false);
        while map.next_key_seed(StrInto(&mut *self.field))?.is_some() {
            match self.field.as_str() {
                "name" => {
                    if has_name {
                        return Err(de::Error::duplicate_field("name"));
                    }
                    map.next_value_seed(StrAt {
                        path: &mut *self.path,
                        key: "name",
                        out: &mut self.arg.name,
                    })?;
                    has_name = true;
                }
                "value" => {
                    if has_value {
                        return Err(de::Error::duplicate_field("value"));
                    }
                    map.next_value_seed(ArgValue {
                        arg: &mut *self.arg,
                        path: &mut *self.path,
                        at: Some("value"),
                    })?;
                    has_value = true;
                }
                _ => {
                    map.next_value_seed(Skip {
                        path: &mut *self.path,
                        key: self.field,
                        arrays: None,
                    })?;
                }
            }
        }
        if !has_name {
            return Err(de::Error::missing_field("name"));
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // The array form `["name", value]` that derived structs also accept.
        let arg = self.arg;
        if seq.next_element_seed(StrInto(&mut arg.name))?.is_none() {
            return Err(de::Error::invalid_length(0, &"struct NamedArg with 2 elements"));
        }
        let _ = seq.next_element_seed(ArgValue {
            arg,
            path: &mut *self.path,
            at: Some("value"),
        })?;
        Ok(())
    }
}

/// An argument value into its slot: scalars unboxed, strings into the
/// slot's reused buffer, arrays and objects as a `Value`.
struct ArgValue<'a> {
    arg: &'a mut Arg,
    path: &'a mut JsonPath,
    /// The path segment: the argument's name, or `value` in a `{name, value}`.
    at: Option<&'static str>,
}

impl<'de> DeserializeSeed<'de> for ArgValue<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.at {
            Some(k) => self.path.push_key(k),
            None => self.path.push_name(&self.arg.name),
        }
        self.arg.text.clear();
        self.arg.val = Scalar::Null;
        d.deserialize_any(ArgValueVisitor(&mut *self.arg))?;
        self.path.pop();
        Ok(())
    }
}

struct ArgValueVisitor<'a>(&'a mut Arg);

impl<'de> Visitor<'de> for ArgValueVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.0.val = Scalar::Bool(v);
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.0.set_i64(v);
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.0.val = Scalar::U64(v);
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.0.val = Scalar::F64(v);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.text.push_str(v);
        self.0.val = Scalar::Str;
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.val = Scalar::Null;
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let v = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        self.0.val = Scalar::Other(Box::new(v));
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        self.0.val = Scalar::Other(Box::new(v));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::read::{read_report_bytes, read_report_streamed, ReadLimits};
    use super::super::{CallBuf, CallSink, ProcessInfo};

    /// Everything a sink is told, as text.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl CallSink for Log {
        type Piece = ();
        type Planner = ();
        fn planner(&self) {}
        fn begin_process(&mut self, p: &ProcessInfo) {
            self.0.push(format!("begin {p:?}"));
        }
        fn call(&mut self, c: &mut CallBuf) -> Result<(), String> {
            let args: Vec<String> = c.args().map(|(n, v)| format!("{n}={:?}", v.to_value())).collect();
            self.0.push(format!(
                "call {} {} last_error={:?} status_false={} args={args:?} rest={:?}",
                c.api(),
                c.category(),
                c.last_error(),
                c.cape_status_false(),
                c.rest
            ));
            Ok(())
        }
        fn end_process(&mut self) {
            self.0.push("end".into());
        }
        fn uncompared_fields(&self) -> &'static [&'static str] {
            crate::model::rules::UNCOMPARED
        }
    }

    /// The sink's log and the outcome (meta or error text), read from
    /// memory and as a stream (the same, in full, whether the stream is
    /// read on the parser's thread or beside it).
    fn both(text: &[u8]) -> [(Vec<String>, String); 2] {
        let mut a = Log::default();
        let ra = read_report_bytes("r.json", text, ReadLimits::default(), &mut a);
        let streamed = |beside| {
            let mut log = Log::default();
            let r = super::fanout::reading_beside(beside, || {
                read_report_streamed("r.json", text, ReadLimits::default(), &mut log)
            });
            (log, r)
        };
        let (b, rb) = streamed(false);
        let (beside, r_beside) = streamed(true);
        assert_eq!(
            (&b.0, format!("{rb:?}")),
            (&beside.0, format!("{r_beside:?}")),
            "{}",
            String::from_utf8_lossy(text)
        );
        // serde_json counts columns one apart from memory and from a reader.
        let show = |r: Result<super::super::ReportMeta, super::super::ReportError>| match r {
            Ok(m) => format!("ok {m:?}"),
            Err(e) => {
                // The hints read.rs adds from the text in memory are not the parser's.
                let mut e = e.to_string();
                for hint in [
                    "empty report: ",
                    "NaN is not a JSON number: ",
                    "Infinity is not a JSON number: ",
                ] {
                    e = e.replace(hint, "");
                }
                e = e.replace("single-quoted strings are not JSON: ", "");
                format!("error {}", e.split(" at line ").next().unwrap_or(&e))
            }
        };
        [(a.0, show(ra)), (b.0, show(rb))]
    }

    fn cuckoo_process(pid: i64, header_first: bool, calls: &str) -> String {
        let header =
            format!(r#""pid": {pid}, "ppid": 1, "process_name": "p{pid}.exe", "process_path": "C:\\p{pid}.exe""#);
        if header_first {
            format!(r#"{{{header}, "calls": [{calls}]}}"#)
        } else {
            format!(r#"{{"calls": [{calls}], "track": true, {header}}}"#)
        }
    }

    const CALLS: &str = r#"{"category": "file", "api": "NtCreateFile", "arguments": {"file_handle": "0x10", "filepath": "C:\\a"}, "status": 1, "time": 1.0, "flags": {"b": 1, "a": [2, 3]}},
        {"category": "file", "api": "NtCreateFile", "arguments": {"filepath": "C:\\a", "file_handle": "0x10"}, "status": 1, "time": 2.0, "flags": {"a": [2, 3], "b": 1}},
        {"category": "process", "api": "NtOpenProcess", "arguments": {"process_identifier": "42"}, "last_error": 0, "time": 3.0}"#;

    #[test]
    fn streamed_reports_reach_the_sink_as_reports_in_memory_do() {
        for order in [
            [true, true, true],
            [false, false, false],
            [true, false, true],
            [false, true, false],
        ] {
            let procs: Vec<String> = order
                .iter()
                .enumerate()
                .map(|(i, first)| cuckoo_process(100 + i as i64, *first, CALLS))
                .collect();
            let text = format!(
                r#"{{"info": {{"version": "2.0.7"}}, "behavior": {{"processes": [{}], "summary": {{"mutex": ["m"]}}}}, "target": {{"file": {{"sha256": "AB"}}}}}}"#,
                procs.join(", ")
            );
            let [whole, streamed] = both(text.as_bytes());
            assert_eq!(whole, streamed, "{order:?}");
            assert_eq!(
                whole.0.iter().filter(|l| l.starts_with("call")).count(),
                9,
                "{:?}",
                whole.0
            );
        }
    }

    /// A byte that is not UTF-8 in a call (a read string, a key of a field
    /// only compared) fails there, from memory and streamed, with or without
    /// helpers: the text's one UTF-8 check finds it, and serde_json then
    /// reads the bytes and says which string, as when it checked each.
    #[test]
    fn a_byte_that_is_not_utf8_fails_at_its_string_however_read() {
        let many: Vec<&str> = std::iter::repeat_n(CALLS, 6).collect();
        let good = format!(
            r#"{{"behavior": {{"processes": [{}]}}}}"#,
            cuckoo_process(7, true, &many.join(",\n"))
        );
        // The fifth of each: an api (calls[14]) and a key inside `flags` (calls[6]).
        for (needle, at, call) in [("NtOpenProcess", 6, 14), ("\"b\": 1", 1, 6)] {
            let mut text = good.clone().into_bytes();
            let i = good.match_indices(needle).nth(4).map_or(0, |(i, _)| i) + at;
            text[i] = 0xe9;
            let [whole, streamed] = both(&text);
            assert_eq!(whole, streamed);
            assert!(whole.1.contains("invalid unicode code point"), "{}", whole.1);
            assert!(whole.1.contains(&format!(".calls[{call}]")), "{}", whole.1);
            assert_eq!(
                whole.0.iter().filter(|l| l.starts_with("call")).count(),
                call,
                "{:?}",
                whole.0
            );
            let one = streamed_with(&text, (0, 0), false, "none");
            assert_eq!(one, streamed_with(&text, (1, 0), false, "none"));
            assert_eq!(one, streamed_with(&text, (2, 5), true, "none"));
        }
    }

    /// `network`: hosts and domains read, the flows skipped (in pieces
    /// when streamed), errors at their path, the same from memory and
    /// streamed.
    #[test]
    fn network_gives_hosts_and_domains_and_skips_the_flows() {
        let flows: Vec<String> = (0..40)
            .map(|i| format!(r#"{{"src": "10.0.0.{i}", "dport": {i}, "data": "a,]\"[{i}"}}"#))
            .collect();
        let text = format!(
            r#"{{"network": {{"udp": [{}], "hosts": ["1.2.3.4", {{"ip": "5.6.7.8"}}, ""], "tcp": {{"x": [1, [2]]}}, "domains": [{{"domain": "evil.example", "ip": "1.2.3.4"}}, {{"domain": ""}}]}}, "behavior": {{"processes": [{}]}}}}"#,
            flows.join(",\n "),
            cuckoo_process(1, true, CALLS)
        );
        let [whole, streamed] = both(text.as_bytes());
        assert_eq!(whole, streamed);
        assert!(whole.1.contains(r#"ips: ["1.2.3.4", "5.6.7.8"]"#), "{}", whole.1);
        assert!(
            whole
                .1
                .contains(r#"domains: [Domain { domain: "evil.example", ip: Some("1.2.3.4") }]"#),
            "{}",
            whole.1
        );
        for (bad, says) in [
            (
                r#"{"network": {"hosts": null, "hosts": []}}"#,
                "duplicate field `hosts`",
            ),
            (r#"{"network": {"hosts": ["a", 5]}}"#, "at network.hosts[1]: "),
            (
                r#"{"network": {"domains": [{"domain": "a"}, 5]}}"#,
                "at network.domains[1]: ",
            ),
            (r#"{"network": {"udp": [1, }]}}"#, "at network.udp: "),
            (r#"{"network": 5}"#, "expected a `network` object"),
        ] {
            let [whole, streamed] = both(bad.as_bytes());
            assert_eq!(whole, streamed);
            assert!(whole.1.contains(says), "{bad}: {}", whole.1);
        }
        let [whole, streamed] = both(br#"{"network": null, "behavior": null}"#);
        assert_eq!(whole, streamed);
        assert!(whole.1.starts_with("ok"), "{}", whole.1);
    }

    #[test]
    fn an_error_in_skipped_calls_is_found_by_the_second_pass_at_its_path() {
        let bad = r#"{"category": "file", "api": 5}"#;
        let text = format!(
            r#"{{"behavior": {{"processes": [{}, {}]}}}}"#,
            cuckoo_process(1, true, CALLS),
            cuckoo_process(2, false, bad)
        );
        let [whole, streamed] = both(text.as_bytes());
        assert_eq!(whole.1, streamed.1);
        assert!(
            whole.1.contains("at behavior.processes[1].calls[0].api: invalid type"),
            "{}",
            whole.1
        );
    }

    /// Damaged reports (bytes flipped, cut, duplicated): never a panic, and
    /// the same outcome whether read from memory or streamed.
    #[test]
    fn damaged_reports_give_the_same_outcome_both_ways() {
        let text = format!(
            r#"{{"behavior": {{"processes": [{}, {}]}}, "network": {{"hosts": ["1.2.3.4"]}}}}"#,
            cuckoo_process(7, false, CALLS),
            cuckoo_process(8, true, CALLS)
        );
        let base = text.into_bytes();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let mut t = base.clone();
            for _ in 0..(1 + next() % 3) {
                if t.is_empty() {
                    break;
                }
                let i = (next() as usize) % t.len();
                let junk = b"{}[]\",:0x \\";
                match next() % 4 {
                    0 => t[i] = junk[(next() as usize) % junk.len()],
                    1 => t.truncate(i.max(1)),
                    2 => {
                        let j = (next() as usize) % t.len();
                        let (a, b) = (i.min(j), i.max(j));
                        let piece = t[a..b].to_vec();
                        t.splice(b..b, piece);
                    }
                    _ => {
                        t.remove(i);
                    }
                }
            }
            let [whole, streamed] = both(&t);
            // A report that fails is thrown away: both must fail (not always
            // with the same message: the first pass may stop at a later
            // error than a one-pass reader), or give the same calls.
            let failed = |o: &(Vec<String>, String)| o.1.starts_with("error");
            if failed(&whole) || failed(&streamed) {
                assert!(
                    failed(&whole) && failed(&streamed),
                    "{whole:?}\n{streamed:?}\n{}",
                    String::from_utf8_lossy(&t)
                );
            } else {
                assert_eq!(whole, streamed, "{}", String::from_utf8_lossy(&t));
            }
        }
    }

    /// A [`Log`] whose sink refuses the call with this api.
    struct Refusing(Log, &'static str);

    impl CallSink for Refusing {
        type Piece = ();
        type Planner = ();
        fn planner(&self) {}
        fn begin_process(&mut self, p: &ProcessInfo) {
            self.0.begin_process(p)
        }
        fn call(&mut self, c: &mut CallBuf) -> Result<(), String> {
            if c.api() == self.1 {
                return Err(format!("refused {}", c.api()));
            }
            self.0.call(c)
        }
        fn end_process(&mut self) {
            self.0.end_process()
        }
        fn uncompared_fields(&self) -> &'static [&'static str] {
            self.0.uncompared_fields()
        }
    }

    /// What a stream read tells the sink and returns, in full (error with
    /// its JSON path, line and column), with `helpers` threads parsing
    /// pieces, read on a thread `beside` the parser or on its thread.
    fn streamed_with(
        text: &[u8],
        (helpers, late): (usize, usize),
        beside: bool,
        refuse: &'static str,
    ) -> (Vec<String>, String) {
        let mut sink = Refusing(Log::default(), refuse);
        let r = super::fanout::reading_beside(beside, || {
            super::fanout::with_helpers(helpers, late, || {
                read_report_streamed("r.json", text, ReadLimits::default(), &mut sink)
            })
        });
        (sink.0 .0, format!("{r:?}"))
    }

    /// Calls parsed on helper threads reach the sink in the same order, and
    /// a damaged report fails with the same error at the same path and
    /// place, as when one thread reads every piece.
    #[test]
    fn pieces_parsed_on_helpers_give_what_one_thread_gives() {
        let many: Vec<&str> = std::iter::repeat_n(CALLS, 12).collect();
        let text = format!(
            r#"{{"behavior": {{"processes": [{}, {}, {}]}}, "network": {{"hosts": ["1.2.3.4"]}}}}"#,
            cuckoo_process(7, true, &many.join(",\n")),
            cuckoo_process(8, false, CALLS),
            cuckoo_process(9, true, &many.join(", "))
        );
        let base = text.into_bytes();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut failures = 0;
        for round in 0..600 {
            let mut t = base.clone();
            if round > 0 {
                for _ in 0..(1 + next() % 2) {
                    let i = (next() as usize) % t.len();
                    let junk = b"{}[]\",:0x \\";
                    match next() % 3 {
                        0 => t[i] = junk[(next() as usize) % junk.len()],
                        1 => t.truncate(i.max(1)),
                        _ => {
                            t.remove(i);
                        }
                    }
                }
            }
            let refuse = if round % 5 == 4 { "NtOpenProcess" } else { "none" };
            let one = streamed_with(&t, (0, 0), true, refuse);
            failures += usize::from(one.1.starts_with("Err"));
            for (helpers, beside) in [
                ((0, 0), false),
                ((1, 0), true),
                ((2, 0), true),
                ((1, 3), false),
                ((2, 9), true),
            ] {
                let fanned = streamed_with(&t, helpers, beside, refuse);
                assert_eq!(
                    one,
                    fanned,
                    "(helpers, asked before they come) {helpers:?}, read beside: {beside}: {}",
                    String::from_utf8_lossy(&t)
                );
            }
            if round == 0 {
                assert!(one.1.starts_with("Ok"), "{}", one.1);
                assert_eq!(one.0.iter().filter(|l| l.starts_with("call")).count(), 75);
            }
        }
        assert!(failures > 100, "{failures}");
    }
}
