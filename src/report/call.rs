//! The call record the parser fills and the graph builder reads.
//!
//! One [`CallBuf`] is reused for every call of a report: its strings and
//! argument slots keep their capacity, so after the first few calls parsing
//! allocates nothing per call (no generic JSON tree, no `String` per
//! key or argument). Argument values keep exactly the distinctions a
//! `serde_json::Value` makes (integer ≥ 0, negative integer, float, string…),
//! so comparisons give the results the `Value`-based code gave.
//!
//! The call fields that no rule reads except C3 (`status`, `tid`, `flags`,
//! `stacktrace`…) are kept as a canonical byte encoding: equal encodings ⇔
//! equal `Value`s (objects compared as maps, last duplicate key winning, as
//! `Value` does). The fields are sorted by name, so C3 compares them with one
//! `memcmp`.

use super::Call;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// One argument value, borrowed from a [`CallBuf`]. The variants are those
/// of a JSON number/value as `serde_json::Value` tells them apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArgRef<'a> {
    Null,
    Bool(bool),
    /// An integer ≥ 0 (`Value`'s `PosInt`).
    U64(u64),
    /// A negative integer (`NegInt`).
    I64(i64),
    F64(f64),
    Str(&'a str),
    /// An array or an object.
    Other(&'a Value),
}

impl<'a> ArgRef<'a> {
    /// A `Value`, seen as an argument.
    pub fn from_value(v: &'a Value) -> ArgRef<'a> {
        match v {
            Value::Null => ArgRef::Null,
            Value::Bool(b) => ArgRef::Bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => ArgRef::U64(u),
                (None, Some(i)) => ArgRef::I64(i),
                _ => ArgRef::F64(n.as_f64().unwrap_or(0.0)),
            },
            Value::String(s) => ArgRef::Str(s),
            other => ArgRef::Other(other),
        }
    }

    /// The same value as a `serde_json::Value`.
    pub fn to_value(self) -> Value {
        match self {
            ArgRef::Null => Value::Null,
            ArgRef::Bool(b) => Value::Bool(b),
            ArgRef::U64(u) => Value::from(u),
            ArgRef::I64(i) => Value::from(i),
            ArgRef::F64(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            ArgRef::Str(s) => Value::String(s.to_owned()),
            ArgRef::Other(v) => v.clone(),
        }
    }

    pub fn as_str(self) -> Option<&'a str> {
        match self {
            ArgRef::Str(s) => Some(s),
            _ => None,
        }
    }

    /// As `Value::as_i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            ArgRef::U64(u) => i64::try_from(u).ok(),
            ArgRef::I64(i) => Some(i),
            _ => None,
        }
    }
}

/// The stored form of an argument value; strings live in [`Arg::text`].
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) enum Scalar {
    #[default]
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str,
    Other(Box<Value>),
}

/// One argument slot; `name` and `text` keep their capacity between calls.
#[derive(Debug, Clone, Default)]
pub(crate) struct Arg {
    pub name: String,
    pub text: String,
    pub val: Scalar,
}

impl Arg {
    pub fn get(&self) -> ArgRef<'_> {
        match &self.val {
            Scalar::Null => ArgRef::Null,
            Scalar::Bool(b) => ArgRef::Bool(*b),
            Scalar::U64(u) => ArgRef::U64(*u),
            Scalar::I64(i) => ArgRef::I64(*i),
            Scalar::F64(f) => ArgRef::F64(*f),
            Scalar::Str => ArgRef::Str(&self.text),
            Scalar::Other(v) => ArgRef::Other(v),
        }
    }

    pub fn set_i64(&mut self, i: i64) {
        // As `Value::from(i64)`: non-negative integers are `PosInt`.
        self.val = if i >= 0 { Scalar::U64(i as u64) } else { Scalar::I64(i) };
        self.text.clear();
    }

    pub(crate) fn set_value(&mut self, v: &Value) {
        self.text.clear();
        self.val = match v {
            Value::Null => Scalar::Null,
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => Scalar::U64(u),
                (None, Some(i), _) => Scalar::I64(i),
                (_, _, f) => Scalar::F64(f.unwrap_or(0.0)),
            },
            Value::String(s) => {
                self.text.push_str(s);
                Scalar::Str
            }
            other => Scalar::Other(Box::new(other.clone())),
        };
    }
}

/// One call: what the parser read, then (after `normalise`) what the rules see.
#[derive(Debug, Clone, Default)]
pub struct CallBuf {
    pub(crate) api: String,
    pub(crate) category: String,
    /// Argument slots; only the first `n` are live.
    pub(crate) slots: Vec<Arg>,
    pub(crate) n: usize,
    /// `last_error`, as a number (null or absent: `None`).
    pub(crate) last_error: Option<i64>,
    /// `status: false`; after normalisation, only in a CAPE call.
    pub(crate) status_false: bool,
    /// Every other field except those the sink does not compare
    /// ([`CallSink::uncompared_fields`](super::CallSink::uncompared_fields)),
    /// canonically encoded, in the report's order: only compared, for rule
    /// C3 ([`CallBuf::same_other_fields`]).
    pub(crate) rest: Vec<u8>,
    /// The entries of `rest`: (start, name end, end) of each.
    pub(crate) entries: Vec<(usize, usize, usize)>,
}

impl CallBuf {
    pub fn api(&self) -> &str {
        &self.api
    }

    pub fn category(&self) -> &str {
        &self.category
    }

    /// The call's `last_error`, when it is a number (rule C2 reads it).
    pub fn last_error(&self) -> Option<i64> {
        self.last_error
    }

    /// A CAPE call's `status: false` (rule C2 reads it).
    pub fn cape_status_false(&self) -> bool {
        self.status_false
    }

    /// Whether the two calls' other fields are equal (rule C3), whatever
    /// their order: equal when their entries sorted by name (stable) are
    /// equal. Sorted only when the names come in different orders (rare: a
    /// sandbox writes every call's fields in one order); in the same order,
    /// both would be sorted the same way, and their bytes say it at once.
    pub(crate) fn same_other_fields(&self, other: &CallBuf) -> bool {
        if self.rest.len() != other.rest.len() || self.entries.len() != other.entries.len() {
            return false;
        }
        if self.rest == other.rest {
            return true;
        }
        let same_order = (self.entries.iter().zip(&other.entries)).all(|(a, b)| self.name(*a) == other.name(*b));
        !same_order && self.sorted_entries() == other.sorted_entries()
    }

    /// The name of an entry of `rest`, as encoded.
    fn name(&self, (start, name_end, _): (usize, usize, usize)) -> &[u8] {
        &self.rest[start..name_end]
    }

    /// The entries of `rest`, sorted by name (stable).
    fn sorted_entries(&self) -> Vec<&[u8]> {
        let mut v = self.entries.clone();
        v.sort_by(|a, b| self.name(*a).cmp(self.name(*b)));
        v.into_iter().map(|(start, _, end)| &self.rest[start..end]).collect()
    }

    /// Arguments in report order, names normalised, first occurrence of a name kept.
    pub fn args(&self) -> impl Iterator<Item = (&str, ArgRef<'_>)> {
        self.slots[..self.n].iter().map(|a| (a.name.as_str(), a.get()))
    }

    pub fn arg(&self, name: &str) -> Option<ArgRef<'_>> {
        self.slots[..self.n].iter().find(|a| a.name == name).map(Arg::get)
    }

    pub(crate) fn clear(&mut self) {
        self.api.clear();
        self.category.clear();
        self.n = 0;
        self.last_error = None;
        self.status_false = false;
        self.rest.clear();
        self.entries.clear();
    }

    /// A fresh argument slot at the end (its strings emptied).
    pub(crate) fn push_arg(&mut self) -> &mut Arg {
        if self.n == self.slots.len() {
            self.slots.push(Arg::default());
        }
        let a = &mut self.slots[self.n];
        self.n += 1;
        a.name.clear();
        a.text.clear();
        a.val = Scalar::Null;
        a
    }

    pub(crate) fn live_args(&self) -> &[Arg] {
        &self.slots[..self.n]
    }

    pub(crate) fn live_args_mut(&mut self) -> &mut [Arg] {
        &mut self.slots[..self.n]
    }

    /// Keep the first argument of each name, in order.
    pub(crate) fn first_name_wins(&mut self) {
        let n = self.n;
        if n < 2 {
            return;
        }
        // Quadratic for the usual few arguments, and without allocating;
        // linear whatever the count: a hostile report may list 100 000.
        const FEW: usize = 16;
        let mut few = [true; FEW];
        let many: Vec<bool>;
        let keep: &[bool] = if n <= FEW {
            let args = &self.slots[..n];
            for (i, k) in few.iter_mut().enumerate().take(n) {
                *k = !args[..i].iter().any(|a| a.name == args[i].name);
            }
            &few[..n]
        } else {
            let mut seen = std::collections::HashSet::with_capacity(n);
            many = self.slots[..n].iter().map(|a| seen.insert(a.name.as_str())).collect();
            &many
        };
        if keep.iter().all(|k| *k) {
            return;
        }
        let mut w = 0;
        for (i, k) in keep.iter().enumerate() {
            if *k {
                self.slots.swap(w, i);
                w += 1;
            }
        }
        self.n = w;
    }

    /// Give back what a huge value made this buffer hold (a report may carry
    /// a 200 MB string): strings and lists over `max` bytes are dropped.
    pub(crate) fn trim(&mut self, max: usize) {
        for s in [&mut self.api, &mut self.category] {
            if s.capacity() > max {
                *s = String::new();
            }
        }
        if self.rest.capacity() > max {
            self.rest = Vec::new();
        }
        if self.entries.len() * std::mem::size_of::<(usize, usize, usize)>() > max {
            self.entries = Vec::new();
        }
        if self.slots.len() * std::mem::size_of::<Arg>() > max {
            self.slots.truncate(max / std::mem::size_of::<Arg>());
            self.slots.shrink_to_fit();
        }
        for a in &mut self.slots {
            for s in [&mut a.name, &mut a.text] {
                if s.capacity() > max {
                    *s = String::new();
                }
            }
            if matches!(a.val, Scalar::Other(_)) {
                a.val = Scalar::Null;
            }
        }
        self.n = self.n.min(self.slots.len());
    }

    /// The record of an owned [`Call`] (as normalised).
    pub fn from_call(call: &Call) -> CallBuf {
        let mut b = CallBuf::default();
        b.api.push_str(&call.api);
        b.category.push_str(&call.category);
        for (name, value) in &call.args {
            let a = b.push_arg();
            a.name.push_str(name);
            a.set_value(value);
        }
        b.last_error = call.last_error;
        for (k, v) in &call.rest {
            let start = b.rest.len();
            put_str(&mut b.rest, k);
            let value = b.rest.len();
            canon_value(v, &mut b.rest);
            b.entries.push((start, value, b.rest.len()));
        }
        b
    }
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u64(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

// ---------------------------------------------------------------------------
// Canonical encoding of JSON values (for C3)

/// Scratch space for canonical encoding, reused across calls.
#[derive(Debug, Default)]
pub(crate) struct Canon {
    /// Entries of the objects being encoded: (start, key end, end) in the output.
    spans: Vec<(usize, usize, usize)>,
    tmp: Vec<u8>,
}

impl Canon {
    /// Sort the entries `spans[base..]` of `out[region..]` by key (stable),
    /// keeping only the last of equal keys (as a JSON object's value does),
    /// and rewrite them.
    pub(crate) fn sort_entries(&mut self, out: &mut Vec<u8>, region: usize, base: usize) {
        let spans = &mut self.spans[base..];
        let sorted = spans.windows(2).all(|w| out[w[0].0..w[0].1] < out[w[1].0..w[1].1]);
        if !sorted {
            spans.sort_by(|a, b| out[a.0..a.1].cmp(&out[b.0..b.1]));
            self.tmp.clear();
            let n = spans.len();
            for i in 0..n {
                let (s, k, e) = spans[i];
                if i + 1 < n && out[s..k] == out[spans[i + 1].0..spans[i + 1].1] {
                    continue;
                }
                self.tmp.extend_from_slice(&out[s..e]);
            }
            out.truncate(region);
            out.extend_from_slice(&self.tmp);
        }
        self.spans.truncate(base);
    }

    /// Move the entries `spans[base..]` (of a call's other fields) to `out`.
    pub(crate) fn take_entries(&mut self, base: usize, out: &mut Vec<(usize, usize, usize)>) {
        out.extend_from_slice(&self.spans[base..]);
        self.spans.truncate(base);
    }

    /// Forget entries left by a parse that failed half-way.
    pub(crate) fn clear(&mut self) {
        self.spans.clear();
        self.tmp.clear();
    }

    pub(crate) fn push_span(&mut self, span: (usize, usize, usize)) {
        self.spans.push(span);
    }

    pub(crate) fn mark(&self) -> usize {
        self.spans.len()
    }
}

/// `Value` → canonical bytes, the same bytes [`CanonSeed`] writes.
pub(crate) fn canon_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(b'n'),
        Value::Bool(b) => out.push(if *b { b't' } else { b'f' }),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.push(b'u');
                put_u64(out, u);
            } else if let Some(i) = n.as_i64() {
                out.push(b'i');
                put_u64(out, i as u64);
            } else {
                canon_f64(n.as_f64().unwrap_or(0.0), out);
            }
        }
        Value::String(s) => {
            out.push(b's');
            put_str(out, s);
        }
        Value::Array(items) => {
            out.push(b'[');
            for i in items {
                canon_value(i, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // `Value`'s map already holds one value per key; sort as the parser does.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by_key(|e| key_bytes(e.0));
            out.push(b'{');
            for (k, v) in entries {
                out.push(b's');
                put_str(out, k);
                canon_value(v, out);
            }
            out.push(b'}');
        }
    }
}

/// A name as encoded (length, then bytes): entries are sorted by this.
fn key_bytes(s: &str) -> Vec<u8> {
    let mut v = vec![b's'];
    put_str(&mut v, s);
    v
}

fn canon_f64(f: f64, out: &mut Vec<u8>) {
    // 0.0 == -0.0 for `Value`, so they encode alike.
    let f = if f == 0.0 { 0.0 } else { f };
    out.push(b'd');
    put_u64(out, f.to_bits());
}

/// Deserializes any JSON value straight into its canonical bytes.
pub(crate) struct CanonSeed<'a> {
    pub out: &'a mut Vec<u8>,
    pub canon: &'a mut Canon,
}

impl<'de> DeserializeSeed<'de> for CanonSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CanonSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.out.push(if v { b't' } else { b'f' });
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        if v >= 0 {
            return self.visit_u64(v as u64);
        }
        self.out.push(b'i');
        put_u64(self.out, v as u64);
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.out.push(b'u');
        put_u64(self.out, v);
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        canon_f64(v, self.out);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.out.push(b's');
        put_str(self.out, v);
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.out.push(b'n');
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        while seq
            .next_element_seed(CanonSeed {
                out: &mut *self.out,
                canon: &mut *self.canon,
            })?
            .is_some()
        {}
        self.out.push(b']');
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.out.push(b'{');
        let region = self.out.len();
        let base = self.canon.mark();
        loop {
            let start = self.out.len();
            if map
                .next_key_seed(CanonSeed {
                    out: &mut *self.out,
                    canon: &mut *self.canon,
                })?
                .is_none()
            {
                break;
            }
            let key_end = self.out.len();
            map.next_value_seed(CanonSeed {
                out: &mut *self.out,
                canon: &mut *self.canon,
            })?;
            self.canon.push_span((start, key_end, self.out.len()));
        }
        // As `Value`: one value per key, the last one given.
        self.canon.sort_entries(self.out, region, base);
        self.out.push(b'}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let mut c = Canon::default();
        let mut de = serde_json::Deserializer::from_str(text);
        CanonSeed {
            out: &mut out,
            canon: &mut c,
        }
        .deserialize(&mut de)
        .expect("valid JSON");
        out
    }

    #[test]
    fn canonical_bytes_are_equal_exactly_when_values_are() {
        let texts = [
            "1",
            "1.0",
            "-1",
            "0",
            "-0.0",
            "0.0",
            "\"1\"",
            "null",
            "true",
            "[1,2]",
            "[2,1]",
            "{\"a\":1,\"b\":2}",
            "{\"b\":2,\"a\":1}",
            "{\"a\":1,\"a\":2}",
            "{\"a\":2}",
            "{\"a\":{\"y\":[1,{\"q\":null}],\"x\":\"s\"}}",
            "{\"a\":{\"x\":\"s\",\"y\":[1,{\"q\":null}]}}",
            "18446744073709551615",
            "1e300",
        ];
        for a in texts {
            for b in texts {
                let va: Value = serde_json::from_str(a).expect("json");
                let vb: Value = serde_json::from_str(b).expect("json");
                assert_eq!(canon(a) == canon(b), va == vb, "{a} vs {b}");
                let mut ca = Vec::new();
                canon_value(&va, &mut ca);
                assert_eq!(ca, canon(a), "{a}: Value and streaming encodings agree");
            }
        }
    }
}
