//! Typed relationship properties from a call's arguments ([`CallArg`]):
//! the information class of a file call, the flags, image and command line
//! of a process creation. Read once at ingest, so hunting queries compare
//! integers and strings instead of searching the `args` JSON text (which
//! does not scale: a regular expression over every relationship's text timed
//! out at 1,000 analyses).
//!
//! Pure, like `rows`, which calls it for every behaviour edge.

use super::rows::Prop;
use super::schema::{ArgRead, CallArg, Rel};
use crate::model::EdgeKind;
use serde_json::Value;

/// The call argument properties of an edge of this kind, each with its
/// value ([`Prop::Null`] when the arguments do not hold it), in the order
/// of [`Rel::properties`].
pub fn typed(kind: EdgeKind, args: &[(String, Value)]) -> Vec<(&'static str, Prop)> {
    Rel::Behaviour(kind)
        .properties()
        .iter()
        .filter_map(|p| CallArg::named(p.name))
        .map(|a| (a.name, read(a, args)))
        .collect()
}

/// One property's value.
fn read(a: CallArg, args: &[(String, Value)]) -> Prop {
    match a.read {
        ArgRead::Int => first(a, args, int).map_or(Prop::Null, Prop::Int),
        ArgRead::Text => first(a, args, text).map_or(Prop::Null, Prop::Str),
        ArgRead::Image => first(a, args, text)
            .or_else(|| first(CallArg::COMMAND_LINE, args, text).and_then(|c| program_of(&c)))
            .map_or(Prop::Null, Prop::Str),
    }
}

/// The first of `a`'s argument names present with a value `parse` accepts.
fn first<T>(a: CallArg, args: &[(String, Value)], parse: fn(&Value) -> Option<T>) -> Option<T> {
    a.from
        .iter()
        .find_map(|name| args.iter().find(|(k, _)| k == name).and_then(|(_, v)| parse(v)))
}

/// An integer: a JSON number, or a decimal or `0x` hexadecimal string
/// (`13`, `"13"`, `"0x0000000d"`). Hexadecimal values are bit patterns, so
/// up to 64 bits are kept as they are.
pub fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_u64().map(|u| u as i64)),
        Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16).ok().map(|u| u as i64),
                None => s.parse().ok(),
            }
        }
        _ => None,
    }
}

/// A non-empty string.
fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The program a command line starts: its first quoted part when it starts
/// with a quote, else its first word.
fn program_of(command_line: &str) -> Option<String> {
    let p = match command_line.strip_prefix('"') {
        Some(rest) => rest.split('"').next(),
        None => command_line.split(' ').next(),
    };
    p.filter(|p| !p.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Vec<(String, Value)> {
        v.as_object()
            .expect("an object")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn get(props: &[(&str, Prop)], name: &str) -> Prop {
        props
            .iter()
            .find(|(n, _)| *n == name)
            .map_or_else(|| panic!("no {name}"), |(_, v)| v.clone())
    }

    #[test]
    fn integers_come_as_numbers_decimal_or_hex_strings() {
        assert_eq!(int(&json!(13)), Some(13));
        assert_eq!(int(&json!("64")), Some(64));
        assert_eq!(int(&json!("0x0000000d")), Some(13));
        assert_eq!(int(&json!("0X08000004")), Some(0x0800_0004));
        assert_eq!(int(&json!("0xffffffffffffffff")), Some(-1), "a 64-bit pattern is kept");
        assert_eq!(int(&json!("-2")), Some(-2));
        for not in [
            json!("13 bytes"),
            json!(""),
            json!("0x"),
            json!(null),
            json!(1.5),
            json!([13]),
        ] {
            assert_eq!(int(&not), None, "{not}");
        }
    }

    #[test]
    fn the_information_class_of_a_file_call_in_any_spelling() {
        for (a, want) in [
            (json!({"information_class": 13}), Prop::Int(13)),
            (json!({"FileInformationClass": "0x40"}), Prop::Int(64)),
            (json!({"file_information_class": "13"}), Prop::Int(13)),
            (json!({"FileInformationClass": "Disposition"}), Prop::Null),
            (json!({"file_handle": "0x10"}), Prop::Null),
        ] {
            let props = typed(EdgeKind::FileHandleApi, &args(a.clone()));
            assert_eq!(props, vec![("information_class", want)], "{a}");
        }
        assert!(typed(EdgeKind::ProcApi, &args(json!({"information_class": 13}))).is_empty());
    }

    #[test]
    fn a_process_creation_gives_flags_image_and_command_line() {
        let cape =
            args(json!({"ApplicationName": "C:\\w\\RegAsm.exe", "CommandLine": "", "CreationFlags": "0x08000004"}));
        let props = typed(EdgeKind::ApiNproc, &cape);
        assert_eq!(get(&props, "creation_flags"), Prop::Int(0x0800_0004));
        assert_eq!(get(&props, "image"), Prop::Str("C:\\w\\RegAsm.exe".into()));
        assert_eq!(get(&props, "command_line"), Prop::Null, "an empty command line is none");
        let cuckoo = args(json!({"filepath": "C:\\a b\\x.exe", "creation_flags": 134217728, "command_line": "x /i"}));
        let props = typed(EdgeKind::ApiNproc, &cuckoo);
        assert_eq!(get(&props, "creation_flags"), Prop::Int(134_217_728));
        assert_eq!(get(&props, "image"), Prop::Str("C:\\a b\\x.exe".into()));
        assert_eq!(get(&props, "command_line"), Prop::Str("x /i".into()));
    }

    #[test]
    fn without_an_image_argument_the_command_line_names_the_program() {
        let image = |a: Value| get(&typed(EdgeKind::ApiNproc, &args(a)), "image");
        let quoted = json!({"ApplicationName": "", "CommandLine": "\"C:\\a b\\x.exe\" /install"});
        assert_eq!(image(quoted), Prop::Str("C:\\a b\\x.exe".into()));
        assert_eq!(
            image(json!({"command_line": "cmd.exe /c del x"})),
            Prop::Str("cmd.exe".into())
        );
        assert_eq!(image(json!({"CommandLine": ""})), Prop::Null);
        assert_eq!(image(json!({"ProcessId": 4})), Prop::Null);
    }
}
