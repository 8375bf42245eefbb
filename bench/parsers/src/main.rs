//! Which JSON parser reads graphmalw's reports fastest: serde_json,
//! sonic-rs and simd-json, each deserializing the same typed extraction of
//! what the graph reads (the processes' headers and every call's api,
//! category, fields and arguments, with argument strings owned as the
//! product's parser owns them), from memory, one thread; serde_json into
//! `IgnoredAny` (the benchmark's target-1 baseline) for scale.
//!
//! Usage: parser-bench [--rounds N] FILE... (plain or .gz; decompressed first,
//! outside the clock). Prints thread CPU time, best of N alternated rounds,
//! per parser and its speed in MB/s of JSON text. The extraction is checked
//! to agree between parsers (the same number of calls and argument bytes).

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::io::Read;

/// A report: only `behavior` is read, everything else skipped by serde.
#[derive(Deserialize)]
struct Report {
    behavior: Option<Behavior>,
}

#[derive(Deserialize)]
struct Behavior {
    #[serde(default)]
    processes: Vec<Process>,
}

#[derive(Deserialize)]
struct Process {
    process_id: Option<i64>,
    pid: Option<i64>,
    parent_id: Option<i64>,
    ppid: Option<i64>,
    process_name: Option<String>,
    module_path: Option<String>,
    process_path: Option<String>,
    #[serde(default)]
    calls: Calls,
}

/// A process's calls, each parsed and dropped at once (the product streams
/// them to the graph builder): a count and a checksum, not a list.
#[derive(Default)]
struct Calls {
    calls: u64,
    arg_bytes: u64,
}

#[derive(Deserialize)]
struct Call {
    api: Option<String>,
    category: Option<String>,
    status: Option<Scalar>,
    #[serde(rename = "return")]
    ret: Option<Scalar>,
    last_error: Option<Scalar>,
    flags: Option<Scalar>,
    #[serde(default)]
    arguments: Args,
}

/// Arguments as Cuckoo 2.x writes them (an object) or CAPE (a list of
/// `{name, value}`): names and values kept, as the product keeps them.
#[derive(Default)]
struct Args(Vec<(String, Scalar)>);

#[derive(Deserialize)]
struct NamedArg {
    name: String,
    value: Scalar,
}

/// A JSON value the graph keeps: strings owned, numbers as numbers; arrays
/// and objects (rare in arguments) skipped. Only sizes are summed, but the
/// values are built as the product builds them.
#[allow(dead_code)]
enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Other,
}

impl Scalar {
    fn weight(&self) -> u64 {
        match self {
            Scalar::Str(s) => s.len() as u64,
            Scalar::Int(_) | Scalar::Float(_) => 8,
            Scalar::Other => 1,
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(s.to_owned()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Scalar, E> {
                Ok(Scalar::Str(s))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(n))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Scalar, E> {
                Ok(Scalar::Int(n as i64))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(n))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
                d.deserialize_any(V)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Scalar, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Scalar, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Args {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Args;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("arguments as an object or a list")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Args, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Scalar>()? {
                    out.push((k, v));
                }
                Ok(Args(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Args, A::Error> {
                let mut out = Vec::new();
                while let Some(a) = s.next_element::<NamedArg>()? {
                    out.push((a.name, a.value));
                }
                Ok(Args(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Calls {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Calls;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of calls")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Calls, A::Error> {
                let mut out = Calls::default();
                while let Some(c) = s.next_element::<Call>()? {
                    out.calls += 1;
                    let fields = [&c.status, &c.ret, &c.last_error, &c.flags];
                    out.arg_bytes += c.api.map_or(0, |s| s.len() as u64)
                        + c.category.map_or(0, |s| s.len() as u64)
                        + fields.iter().flat_map(|f| f.as_ref()).map(Scalar::weight).sum::<u64>()
                        + c.arguments
                            .0
                            .iter()
                            .map(|(k, v)| k.len() as u64 + v.weight())
                            .sum::<u64>();
                }
                Ok(out)
            }
        }
        d.deserialize_seq(V)
    }
}

/// What a parse found, to check that the parsers agree.
fn summary(r: &Report) -> (u64, u64) {
    let Some(b) = &r.behavior else { return (0, 0) };
    let mut out = (0, 0);
    for p in &b.processes {
        let header = [&p.process_name, &p.module_path, &p.process_path];
        let ids = [p.process_id, p.pid, p.parent_id, p.ppid];
        out.0 += p.calls.calls;
        out.1 += p.calls.arg_bytes
            + header
                .iter()
                .flat_map(|h| h.as_ref())
                .map(|s| s.len() as u64)
                .sum::<u64>()
            + ids.iter().flatten().count() as u64;
    }
    out
}

fn thread_cpu() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

type Parser = fn(&[u8], &mut Vec<u8>) -> (u64, u64);

fn serde_typed(t: &[u8], _: &mut Vec<u8>) -> (u64, u64) {
    summary(&serde_json::from_slice::<Report>(t).expect("serde_json"))
}

fn serde_ignored(t: &[u8], _: &mut Vec<u8>) -> (u64, u64) {
    serde_json::from_slice::<IgnoredAny>(t).expect("serde_json");
    (0, 0)
}

fn sonic_typed(t: &[u8], _: &mut Vec<u8>) -> (u64, u64) {
    summary(&sonic_rs::from_slice::<Report>(t).expect("sonic-rs"))
}

fn simd_typed(_: &[u8], copy: &mut Vec<u8>) -> (u64, u64) {
    summary(&simd_json::serde::from_slice::<Report>(copy).expect("simd-json"))
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut rounds = 5;
    if args.first().map(String::as_str) == Some("--rounds") {
        rounds = args[1].parse().expect("--rounds N");
        args.drain(..2);
    }
    let texts: Vec<Vec<u8>> = args
        .iter()
        .map(|p| {
            let stored = std::fs::read(p).expect(p);
            if stored.starts_with(&[0x1f, 0x8b]) {
                let mut t = Vec::new();
                flate2::read::MultiGzDecoder::new(&stored[..])
                    .read_to_end(&mut t)
                    .expect(p);
                t
            } else {
                stored
            }
        })
        .collect();
    let bytes: usize = texts.iter().map(Vec::len).sum();
    let parsers: [(&str, Parser); 4] = [
        ("serde_json IgnoredAny", serde_ignored),
        ("serde_json typed", serde_typed),
        ("sonic-rs typed", sonic_typed),
        ("simd-json typed", simd_typed),
    ];
    let mut best = [f64::MAX; 4];
    let mut found = [(0u64, 0u64); 4];
    let mut copy = Vec::new();
    for _ in 0..rounds {
        for (i, (_, parse)) in parsers.iter().enumerate() {
            let mut spent = 0.0;
            let mut sum = (0, 0);
            for t in &texts {
                // simd-json parses in place: its copy is made outside the clock.
                copy.clear();
                if i == 3 {
                    copy.extend_from_slice(t);
                }
                let start = thread_cpu();
                let s = parse(t, &mut copy);
                spent += thread_cpu() - start;
                sum = (sum.0 + s.0, sum.1 + s.1);
            }
            best[i] = best[i].min(spent);
            found[i] = sum;
        }
    }
    let avx2 = if cfg!(target_feature = "avx2") {
        "compiled in"
    } else {
        "not compiled in"
    };
    println!(
        "{} files, {:.1} MB of JSON, best of {rounds} rounds, AVX2 {avx2}",
        texts.len(),
        bytes as f64 / 1e6
    );
    for (i, (name, _)) in parsers.iter().enumerate() {
        println!(
            "{name:24} {:8.3} s {:7.0} MB/s  {:.2}x serde_json typed   calls {} checksum {}",
            best[i],
            bytes as f64 / 1e6 / best[i],
            best[i] / best[1],
            found[i].0,
            found[i].1
        );
    }
    if found[1] != found[2] || found[1] != found[3] {
        eprintln!("parsers disagree: {:?}", &found[1..]);
        std::process::exit(1);
    }
}
