//! The streaming deserializer: serde visitors that walk a report once,
//! keep the few sections the graph needs and hand each call to the sink as
//! soon as its process is known.
//!
//! A process's calls are streamed when its pid, ppid, name and path have
//! already been read (CAPEv2 writes them first; rule P1 needs the path
//! before the first call). When a process lists its calls before
//! its pid (Cuckoo 2.x writes keys in hash order), the calls are kept as
//! typed values until the end of that process object, then handed over.

use super::cape::{first_name_wins, kind_of, parse_pid, RawCall};
use super::iocs::{Int, Text};
use super::iocs::{Iocs, Network, RawDropped, RawSignature, TextList, Ttps};
use super::{AnalysisInfo, CallSink, Format, ProcessInfo, SampleInfo};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;

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
}

pub(crate) struct ReportSeed<'a, S> {
    pub sink: &'a mut S,
    pub out: &'a mut Collected,
}

impl<'de, S: CallSink> DeserializeSeed<'de> for ReportSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, S: CallSink> Visitor<'de> for ReportSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sandbox report object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut ttps = Ttps(Default::default());
        let mut malscore: Option<f64> = None;
        while let Some(key) = map.next_key::<KeyName>()? {
            match key.0.as_str() {
                "behavior" => {
                    if self.out.has_behavior {
                        return Err(de::Error::custom("duplicate key `behavior`"));
                    }
                    self.out.has_behavior = true;
                    map.next_value_seed(NullOr(BehaviorSeed {
                        sink: &mut *self.sink,
                        out: &mut *self.out,
                    }))?;
                }
                "target" => {
                    let t: Target = map.next_value()?;
                    if let Some(f) = t.file {
                        self.out.sample = SampleInfo {
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
                    let i: Info = map.next_value()?;
                    self.out.version = i.version.non_empty();
                    self.out.info = AnalysisInfo {
                        version: self.out.version.clone(),
                        task_id: i.id.0,
                        started: i.started.non_empty(),
                        score: i.score.0.and_then(|s| s.parse().ok()),
                    };
                }
                "signatures" => {
                    let sigs: Option<Vec<RawSignature>> = map.next_value()?;
                    self.out.iocs.signatures.extend(
                        sigs.unwrap_or_default()
                            .into_iter()
                            .filter_map(RawSignature::into_signature),
                    );
                }
                "network" => {
                    let n: Option<Network> = map.next_value()?;
                    n.unwrap_or_default().into_iocs(&mut self.out.iocs);
                }
                "dropped" => {
                    let d: Option<Vec<RawDropped>> = map.next_value()?;
                    self.out
                        .iocs
                        .dropped
                        .extend(d.unwrap_or_default().into_iter().filter_map(RawDropped::into_dropped));
                }
                "ttps" => ttps = map.next_value()?,
                "malscore" => malscore = map.next_value::<Text>()?.0.and_then(|s| s.parse().ok()),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if self.out.info.score.is_none() {
            self.out.info.score = malscore;
        }
        self.out.iocs.finish(&ttps.0);
        if self.out.format.is_none() && self.out.processes == 0 {
            let cape = self.out.version.as_deref().is_some_and(|v| v.contains("CAPE"));
            self.out.format = Some(if cape { Format::Cape } else { Format::Cuckoo });
        }
        Ok(())
    }
}

/// A map key, borrowed when the input allows it.
struct KeyName(String);

impl<'de> Deserialize<'de> for KeyName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(KeyName)
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

struct BehaviorSeed<'a, S> {
    sink: &'a mut S,
    out: &'a mut Collected,
}

impl<'de, S: CallSink> DeserializeSeed<'de> for BehaviorSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, S: CallSink> Visitor<'de> for BehaviorSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a behavior object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen_processes = false;
        while let Some(key) = map.next_key::<KeyName>()? {
            match key.0.as_str() {
                "processes" => {
                    if seen_processes {
                        return Err(de::Error::custom("duplicate key `processes`"));
                    }
                    seen_processes = true;
                    map.next_value_seed(NullOr(ProcessesSeed {
                        sink: &mut *self.sink,
                        out: &mut *self.out,
                    }))?;
                }
                "summary" => {
                    let s: Option<Summary> = map.next_value()?;
                    if let Some(s) = s {
                        // Cuckoo 2.x says `mutex`, CAPE `mutexes`.
                        self.out.iocs.mutexes.extend(s.mutex.map(|m| m.0).unwrap_or_default());
                        self.out.iocs.mutexes.extend(s.mutexes.map(|m| m.0).unwrap_or_default());
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(expecting = "a `summary` object")]
struct Summary {
    #[serde(default)]
    mutex: Option<TextList>,
    #[serde(default)]
    mutexes: Option<TextList>,
}

struct ProcessesSeed<'a, S> {
    sink: &'a mut S,
    out: &'a mut Collected,
}

impl<'de, S: CallSink> DeserializeSeed<'de> for ProcessesSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

/// Reads `null` as "absent" (`"behavior": null` is a report without
/// behaviour, not a type error) and anything else with the inner seed.
struct NullOr<T>(T);

impl<'de, T: DeserializeSeed<'de, Value = ()>> DeserializeSeed<'de> for NullOr<T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, T: DeserializeSeed<'de, Value = ()>> Visitor<'de> for NullOr<T> {
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
        self.0.deserialize(d)
    }
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

impl<'de, S: CallSink> Visitor<'de> for ProcessesSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of processes")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(ProcessSeed {
                sink: &mut *self.sink,
                out: &mut *self.out,
            })?
            .is_some()
        {
            self.out.processes += 1;
        }
        Ok(())
    }
}

struct ProcessSeed<'a, S> {
    sink: &'a mut S,
    out: &'a mut Collected,
}

impl<'de, S: CallSink> DeserializeSeed<'de> for ProcessSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
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
}

impl<'de, S: CallSink> Visitor<'de> for ProcessSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a process object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let first = self.out.processes == 0;
        let mut h = Header::default();
        let mut buffered: Option<Vec<RawCall>> = None;
        let mut streamed = false;
        while let Some(key) = map.next_key::<KeyName>()? {
            match key.0.as_str() {
                "pid" | "process_id" => {
                    h.has_process_id |= key.0 == "process_id";
                    h.pid = map.next_value::<Pid>()?.0;
                    if first && self.out.format.is_none() {
                        self.out.format = Some(if h.has_process_id { Format::Cape } else { Format::Cuckoo });
                    }
                }
                "ppid" | "parent_id" => {
                    h.ppid = Some(map.next_value::<Pid>()?.0);
                }
                "process_name" => h.name = Some(map.next_value::<Option<String>>()?),
                "process_path" | "module_path" => h.path = Some(map.next_value::<Option<String>>()?),
                "calls" => {
                    if streamed || buffered.is_some() {
                        return Err(de::Error::custom("duplicate key `calls`"));
                    }
                    let ready = h.pid.is_some() && h.ppid.is_some() && h.name.is_some() && h.path.is_some();
                    match (ready, self.out.format, h.info()) {
                        (true, Some(format), Some(info)) => {
                            self.sink.begin_process(&info);
                            streamed = true;
                            map.next_value_seed(CallsSeed {
                                target: CallTarget::Stream {
                                    sink: &mut *self.sink,
                                    format,
                                },
                            })?;
                        }
                        _ => {
                            let mut calls = Vec::new();
                            map.next_value_seed(CallsSeed::<S> {
                                target: CallTarget::Buffer(&mut calls),
                            })?;
                            buffered = Some(calls);
                        }
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let Some(info) = h.info() else {
            return Err(de::Error::custom("process without `pid` / `process_id`"));
        };
        if streamed {
            self.sink.end_process();
            return Ok(());
        }
        let format = *self
            .out
            .format
            .get_or_insert(if h.has_process_id { Format::Cape } else { Format::Cuckoo });
        self.sink.begin_process(&info);
        for (i, raw) in buffered.unwrap_or_default().into_iter().enumerate() {
            let call = raw
                .normalise(format)
                .map_err(|e| de::Error::custom(format!("calls[{i}]: {e}")))?;
            self.sink
                .call(call)
                .map_err(|e| de::Error::custom(format!("calls[{i}]: {e}")))?;
        }
        self.sink.end_process();
        Ok(())
    }
}

enum CallTarget<'a, S> {
    Stream { sink: &'a mut S, format: Format },
    Buffer(&'a mut Vec<RawCall>),
}

struct CallsSeed<'a, S> {
    target: CallTarget<'a, S>,
}

impl<'de, S: CallSink> DeserializeSeed<'de> for CallsSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, S: CallSink> Visitor<'de> for CallsSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of calls")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        match self.target {
            CallTarget::Stream { sink, format } => {
                let mut i = 0usize;
                while let Some(raw) = seq.next_element_seed(CallSeed)? {
                    // The path ends at `calls` here (the element is done): name the call.
                    let at = |e: String| de::Error::custom(format!("calls[{i}]: {e}"));
                    let call = raw.normalise(format).map_err(at)?;
                    sink.call(call).map_err(at)?;
                    i += 1;
                }
            }
            CallTarget::Buffer(calls) => {
                while let Some(raw) = seq.next_element_seed(CallSeed)? {
                    calls.push(raw);
                }
            }
        }
        Ok(())
    }
}

struct CallSeed;

impl<'de> DeserializeSeed<'de> for CallSeed {
    type Value = RawCall;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawCall, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for CallSeed {
    type Value = RawCall;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a call object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawCall, A::Error> {
        let mut api: Option<String> = None;
        let mut category: Option<String> = None;
        let mut args: Vec<(String, Value)> = Vec::new();
        let mut last_error: Option<i64> = None;
        let mut status_false = false;
        let mut rest: Vec<(String, Value)> = Vec::new();
        while let Some(key) = map.next_key::<KeyName>()? {
            match key.0.as_str() {
                "api" => api = Some(map.next_value()?),
                "category" => category = Some(map.next_value()?),
                "arguments" => args = map.next_value_seed(ArgsSeed)?,
                // Rule C3 compares everything but the time; CAPE's `id` is a counter.
                "time" | "timestamp" | "id" => {
                    map.next_value::<IgnoredAny>()?;
                }
                "last_error" => {
                    let v: Value = map.next_value()?;
                    last_error = match &v {
                        Value::Null => None,
                        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
                        Value::String(s) => s.parse().ok(),
                        other => {
                            return Err(de::Error::custom(format!(
                                "`last_error`: expected a number, found {}",
                                kind_of(other)
                            )))
                        }
                    };
                    rest.push((key.0, v));
                }
                _ => {
                    let v: Value = map.next_value()?;
                    if key.0 == "status" && v == Value::Bool(false) {
                        status_false = true;
                    }
                    rest.push((key.0, v));
                }
            }
        }
        let api = api.ok_or_else(|| de::Error::missing_field("api"))?;
        let category = category.ok_or_else(|| de::Error::missing_field("category"))?;
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(RawCall {
            api,
            category,
            args,
            last_error,
            status_false,
            rest,
        })
    }
}

/// `arguments`: an object, or a list of `{"name", "value"}` (first name wins).
struct ArgsSeed;

impl<'de> DeserializeSeed<'de> for ArgsSeed {
    type Value = Vec<(String, Value)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ArgsSeed {
    type Value = Vec<(String, Value)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("arguments as an object or a list of {name, value}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut args = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            let v: Value = map.next_value()?;
            args.push((k, v));
        }
        Ok(first_name_wins(args))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        #[derive(Deserialize)]
        #[serde(expecting = "an argument object {name, value}")]
        struct NamedArg {
            name: String,
            #[serde(default)]
            value: Value,
        }
        let mut args = Vec::new();
        while let Some(a) = seq.next_element::<NamedArg>()? {
            args.push((a.name, a.value));
        }
        Ok(first_name_wins(args))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
}
