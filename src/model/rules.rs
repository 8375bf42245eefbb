//! Which calls count (spec section 2): the decisions of rules C1–C3.
//!
//! The report parser extracts and normalises a call's fields (spec
//! section 1) and decides nothing; the builder asks here whether a call counts. C3's
//! list of fields it does not compare reaches the parser through
//! [`CallSink::uncompared_fields`](crate::report::CallSink::uncompared_fields),
//! so the parser never keeps them, and nothing in `report` imports this.

use crate::report::{Arg, CallBuf};

/// C1: the call's category is one of the listed ones (four or so names are
/// found faster by comparison than by hashing).
pub(crate) fn listed(categories: &[&str], call: &CallBuf) -> bool {
    categories.iter().any(|c| *c == call.category())
}

/// C2: the call failed: `last_error` present and > 0, or CAPE's
/// `status: false` (a Cuckoo call's `status` is never used).
pub(crate) fn failed(call: &CallBuf) -> bool {
    call.last_error().is_some_and(|e| e > 0) || call.cape_status_false()
}

/// C3: the fields a repeat may differ in: the time, and CAPE's `timestamp`
/// and `id` (a counter).
pub(crate) const UNCOMPARED: &[&str] = &["time", "timestamp", "id"];

/// C3: `call` repeats `prev`: equal in everything but [`UNCOMPARED`].
/// Neither the order of the arguments nor that of the other fields matters
/// (the other fields are compared canonically encoded, as if sorted by name).
pub(crate) fn repeats(prev: &CallBuf, call: &CallBuf) -> bool {
    if prev.api() != call.api()
        || prev.category() != call.category()
        || prev.last_error() != call.last_error()
        || !prev.same_other_fields(call)
    {
        return false;
    }
    let (a, b) = (prev.live_args(), call.live_args());
    if a.len() != b.len() {
        return false;
    }
    let same = |x: &Arg, y: &Arg| x.name == y.name && x.get() == y.get();
    if a.iter().zip(b).all(|(x, y)| same(x, y)) {
        return true;
    }
    if a.len() <= 16 {
        return a.iter().all(|x| b.iter().any(|y| same(x, y)));
    }
    // Names are unique (first name wins): compare sorted, not pairwise.
    fn sorted(m: &[Arg]) -> Vec<&Arg> {
        let mut v: Vec<&Arg> = m.iter().collect();
        v.sort_unstable_by(|x, y| x.name.cmp(&y.name));
        v
    }
    sorted(a).iter().zip(sorted(b)).all(|(x, y)| same(x, y))
}
