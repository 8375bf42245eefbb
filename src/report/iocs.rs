//! Indicators that link samples to each other: mutexes, contacted domains and
//! IP addresses, matched signatures and dropped files.
//!
//! Both layouts are read: Cuckoo 2.x (`behavior.summary.mutex`, `network.hosts`
//! as strings, signature `ttp` objects) and CAPEv2 (`behavior.summary.mutexes`,
//! `network.hosts` as objects, top-level `ttps`). Missing sections are normal;
//! a section of the wrong shape is an error at its JSON path. Big fields the
//! graph does not use (`data`, `marks`, `yara`…) are skipped unread.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// The indicators of one report, each list deduplicated in first-seen order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Iocs {
    pub mutexes: Vec<String>,
    pub domains: Vec<Domain>,
    pub ips: Vec<String>,
    pub signatures: Vec<Signature>,
    pub dropped: Vec<Dropped>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    pub domain: String,
    /// The address the domain resolved to, when the report says.
    pub ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub name: String,
    pub description: Option<String>,
    pub severity: Option<i64>,
    /// ATT&CK technique ids (`T1055`, `T1059.001`) the report ties to this signature.
    pub attack: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dropped {
    pub sha256: String,
    pub name: Option<String>,
    pub path: Option<String>,
    pub file_type: Option<String>,
    pub size: Option<u64>,
}

impl Iocs {
    pub fn is_empty(&self) -> bool {
        self.mutexes.is_empty()
            && self.domains.is_empty()
            && self.ips.is_empty()
            && self.signatures.is_empty()
            && self.dropped.is_empty()
    }

    /// Attach the techniques of CAPE's top-level `ttps` to their signatures,
    /// then deduplicate everything.
    pub(crate) fn finish(&mut self, ttps: &BTreeMap<String, Vec<String>>) {
        // Deduplicate first, and with sets: hostile reports may repeat a
        // signature or a technique any number of times (no n² here).
        dedup_by_key(&mut self.mutexes, |m| m.clone());
        dedup_by_key(&mut self.ips, |i| i.clone());
        dedup_by_key(&mut self.domains, |d| d.domain.to_lowercase());
        dedup_by_key(&mut self.signatures, |s| s.name.clone());
        dedup_by_key(&mut self.dropped, |d| d.sha256.to_lowercase());
        for sig in &mut self.signatures {
            if let Some(ids) = ttps.get(&sig.name) {
                let mut seen: std::collections::HashSet<String> = sig.attack.iter().cloned().collect();
                for id in ids {
                    if seen.insert(id.clone()) {
                        sig.attack.push(id.clone());
                    }
                }
            }
        }
    }
}

fn dedup_by_key<T, K: Eq + std::hash::Hash>(items: &mut Vec<T>, key: impl Fn(&T) -> K) {
    let mut seen = std::collections::HashSet::new();
    items.retain(|item| seen.insert(key(item)));
}

/// A scalar field read leniently: strings as they are, numbers and booleans
/// as their JSON text, null as absent, a list as its first item (CAPE 2.4
/// lists a dropped file's names). Objects are an error.
#[derive(Debug, Default)]
pub(crate) struct Text(pub Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
                let first = seq.next_element::<Text>()?.and_then(|t| t.0);
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(first))
            }
        }
        d.deserialize_any(V)
    }
}

impl Text {
    /// The value, or `None` when absent or empty.
    pub fn non_empty(self) -> Option<String> {
        self.0.filter(|s| !s.is_empty())
    }
}

/// An integer field read leniently (number, decimal string, float with no fraction).
#[derive(Debug, Default)]
pub(crate) struct Int(pub Option<i64>);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Text::deserialize(d)?;
        Ok(Int(text.0.and_then(|s| {
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                    .map(|f| f as i64)
            })
        })))
    }
}

/// A list of scalars (strings) where the report may also hold nulls.
#[derive(Debug, Default)]
pub(crate) struct TextList(pub Vec<String>);

impl<'de> Deserialize<'de> for TextList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items: Vec<Text> = Vec::deserialize(d)?;
        Ok(TextList(items.into_iter().filter_map(Text::non_empty).collect()))
    }
}

/// `network.hosts`: strings (Cuckoo) or objects with `ip` (CAPE).
pub(crate) struct Hosts(pub Vec<String>);

impl<'de> Deserialize<'de> for Hosts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Host {
            Ip(String),
            Obj {
                #[serde(default)]
                ip: Text,
            },
        }
        let hosts: Vec<Host> = Vec::deserialize(d)?;
        Ok(Hosts(
            hosts
                .into_iter()
                .filter_map(|h| match h {
                    Host::Ip(ip) => Some(ip).filter(|s| !s.is_empty()),
                    Host::Obj { ip } => ip.non_empty(),
                })
                .collect(),
        ))
    }
}

#[derive(Deserialize)]
#[serde(expecting = "a domain object")]
pub(crate) struct RawDomain {
    #[serde(default)]
    domain: Text,
    #[serde(default)]
    ip: Text,
}

/// What `network` gives: read by the report's parser, which skips the
/// other members (the flows) with the reader's help.
#[derive(Default)]
pub(crate) struct Network {
    pub hosts: Option<Hosts>,
    pub domains: Option<Vec<RawDomain>>,
}

impl Network {
    pub(crate) fn into_iocs(self, iocs: &mut Iocs) {
        if let Some(Hosts(ips)) = self.hosts {
            iocs.ips.extend(ips);
        }
        for d in self.domains.unwrap_or_default() {
            if let Some(domain) = d.domain.non_empty() {
                iocs.domains.push(Domain {
                    domain,
                    ip: d.ip.non_empty(),
                });
            }
        }
    }
}

/// One entry of `signatures`; `data`, `marks` and the like are skipped.
#[derive(Deserialize)]
#[serde(expecting = "a signature object")]
pub(crate) struct RawSignature {
    #[serde(default)]
    name: Text,
    #[serde(default)]
    description: Text,
    #[serde(default)]
    severity: Int,
    /// Cuckoo 2.x: `{"T1082": {...}}`.
    #[serde(default)]
    ttp: Option<AttackIds>,
}

impl RawSignature {
    pub(crate) fn into_signature(self) -> Option<Signature> {
        Some(Signature {
            name: self.name.non_empty()?,
            description: self.description.non_empty(),
            severity: self.severity.0,
            attack: self.ttp.map(|t| t.0).unwrap_or_default(),
        })
    }
}

/// ATT&CK ids given as an object's keys, a list of strings, or one string.
#[derive(Default)]
pub(crate) struct AttackIds(pub Vec<String>);

impl<'de> Deserialize<'de> for AttackIds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AttackIds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("ATT&CK ids as an object, a list or a string")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AttackIds, A::Error> {
                let mut ids = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    ids.push(k);
                }
                Ok(AttackIds(ids))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AttackIds, A::Error> {
                let mut ids = Vec::new();
                while let Some(t) = seq.next_element::<Text>()? {
                    ids.extend(t.non_empty());
                }
                Ok(AttackIds(ids))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AttackIds, E> {
                Ok(AttackIds(vec![v.to_owned()]))
            }
            fn visit_unit<E: de::Error>(self) -> Result<AttackIds, E> {
                Ok(AttackIds::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// CAPE's top-level `ttps`, in any of its shapes, as signature name → ids:
/// `{"T1116": "sig"}`, `[{"ttp": "T1045", "signature": "sig"}]`,
/// `[{"signature": "sig", "ttps": ["T1486"]}]`.
pub(crate) struct Ttps(pub BTreeMap<String, Vec<String>>);

impl<'de> Deserialize<'de> for Ttps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Entry {
            #[serde(default)]
            signature: Text,
            #[serde(default)]
            ttp: Text,
            #[serde(default)]
            ttps: Option<AttackIds>,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ttps;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object or a list of ttp entries")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ttps, A::Error> {
                let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
                while let Some(id) = map.next_key::<String>()? {
                    if let Some(sig) = map.next_value::<Text>()?.non_empty() {
                        out.entry(sig).or_default().push(id);
                    }
                }
                Ok(Ttps(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ttps, A::Error> {
                let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
                while let Some(e) = seq.next_element::<Entry>()? {
                    let Some(sig) = e.signature.non_empty() else {
                        continue;
                    };
                    let ids = out.entry(sig).or_default();
                    ids.extend(e.ttp.non_empty());
                    ids.extend(e.ttps.map(|t| t.0).unwrap_or_default());
                }
                Ok(Ttps(out))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Ttps, E> {
                Ok(Ttps(BTreeMap::new()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(expecting = "a dropped-file object")]
pub(crate) struct RawDropped {
    #[serde(default)]
    sha256: Text,
    #[serde(default)]
    name: Text,
    #[serde(default)]
    path: Text,
    #[serde(default)]
    filepath: Text,
    /// CAPE: the guest paths, a list.
    #[serde(default)]
    guest_paths: Text,
    #[serde(default, rename = "type")]
    file_type: Text,
    #[serde(default)]
    size: Int,
}

impl RawDropped {
    pub(crate) fn into_dropped(self) -> Option<Dropped> {
        Some(Dropped {
            sha256: self.sha256.non_empty()?.to_lowercase(),
            name: self.name.non_empty(),
            // The guest path: Cuckoo 2.x `filepath`, CAPE `guest_paths`; `path` is the host's.
            path: self
                .filepath
                .non_empty()
                .or(self.guest_paths.non_empty())
                .or(self.path.non_empty()),
            file_type: self.file_type.non_empty(),
            size: self.size.0.and_then(|s| u64::try_from(s).ok()),
        })
    }
}
