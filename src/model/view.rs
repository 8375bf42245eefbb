//! Output views: the shape in which sinks write what a report says about
//! itself (its sample and its indicators) next to the graph.
//!
//! The report types ([`SampleInfo`], [`Iocs`]) say what was read; these
//! borrowed views say what is written (which fields, under which names, in
//! which order), so a change in the parser cannot change an output format
//! by accident. Sinks serialise these, never report types.

use crate::report::{Dropped, Iocs, SampleInfo, Signature};
use serde::ser::{Serialize, SerializeStruct, Serializer};

/// The analysed file (`sample` in the JSON graph): `target.file`'s hashes,
/// name, size and type; md5 and sha1 are not written.
#[derive(serde::Serialize)]
pub struct SampleView<'a> {
    sha256: Option<&'a str>,
    name: Option<&'a str>,
    size: Option<u64>,
    #[serde(rename = "type")]
    file_type: Option<&'a str>,
}

impl<'a> From<&'a SampleInfo> for SampleView<'a> {
    fn from(s: &'a SampleInfo) -> Self {
        SampleView {
            sha256: s.sha256.as_deref(),
            name: s.name.as_deref(),
            size: s.size,
            file_type: s.file_type.as_deref(),
        }
    }
}

/// A report's indicators (`iocs` in the JSON graph), each list in
/// first-seen order.
pub struct IocsView<'a>(pub &'a Iocs);

impl Serialize for IocsView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let i = self.0;
        let mut m = s.serialize_struct("Iocs", 5)?;
        m.serialize_field("mutexes", &i.mutexes)?;
        m.serialize_field(
            "domains",
            &Each(&i.domains, |d| DomainView {
                domain: &d.domain,
                ip: d.ip.as_deref(),
            }),
        )?;
        m.serialize_field("ips", &i.ips)?;
        m.serialize_field("signatures", &Each(&i.signatures, SignatureView::from))?;
        m.serialize_field("dropped", &Each(&i.dropped, DroppedView::from))?;
        m.end()
    }
}

/// A slice written as a list of the views of its items.
struct Each<'a, T, V>(&'a [T], fn(&'a T) -> V);

impl<'a, T, V: Serialize> Serialize for Each<'a, T, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(self.1))
    }
}

/// A contacted domain, and the address it resolved to when the report says.
#[derive(serde::Serialize)]
struct DomainView<'a> {
    domain: &'a str,
    ip: Option<&'a str>,
}

/// A matched signature, with its ATT&CK technique ids.
#[derive(serde::Serialize)]
struct SignatureView<'a> {
    name: &'a str,
    description: Option<&'a str>,
    severity: Option<i64>,
    attack: &'a [String],
}

impl<'a> From<&'a Signature> for SignatureView<'a> {
    fn from(s: &'a Signature) -> Self {
        SignatureView {
            name: &s.name,
            description: s.description.as_deref(),
            severity: s.severity,
            attack: &s.attack,
        }
    }
}

/// A dropped file.
#[derive(serde::Serialize)]
struct DroppedView<'a> {
    sha256: &'a str,
    name: Option<&'a str>,
    path: Option<&'a str>,
    #[serde(rename = "type")]
    file_type: Option<&'a str>,
    size: Option<u64>,
}

impl<'a> From<&'a Dropped> for DroppedView<'a> {
    fn from(d: &'a Dropped) -> Self {
        DroppedView {
            sha256: &d.sha256,
            name: d.name.as_deref(),
            path: d.path.as_deref(),
            file_type: d.file_type.as_deref(),
            size: d.size,
        }
    }
}
