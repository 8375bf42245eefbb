//! Normalisation of a raw call to Cuckoo names (spec section 1, the CAPE table).

use super::call::{CallBuf, Scalar};
use super::Format;
use serde_json::Value;

/// Normalise a call as parsed, in place: CAPE names → Cuckoo names (section
/// 1), `process_identifier` strings of digits → integers; a Cuckoo call's
/// `status` is not CAPE's (section 1: only CAPE's `status: false` means failed).
pub(crate) fn normalise(call: &mut CallBuf, format: Format) {
    if format == Format::Cape {
        rename_cape_args(call);
        if call.api == "LdrGetProcedureAddressForCaller" {
            call.api.clear();
            call.api.push_str("LdrGetProcedureAddress");
        }
        let category = match call.category.as_str() {
            "filesystem" => Some("file"),
            "synchronization" => Some("synchronisation"),
            _ => None,
        };
        if let Some(c) = category {
            call.category.clear();
            call.category.push_str(c);
        }
    }
    pid_args_to_integers(call);
    call.status_false &= format == Format::Cape;
}

/// A `process_identifier` string of ASCII digits becomes an integer. Any
/// other value stays as it is: it is no process id, so it makes no target
/// (rule Q1), and it is no error either.
fn pid_args_to_integers(call: &mut CallBuf) {
    for a in call.live_args_mut() {
        if a.name != "process_identifier" || !matches!(a.val, Scalar::Str) {
            continue;
        }
        if a.text.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(pid) = a.text.parse::<i64>() {
                a.set_i64(pid);
            }
        }
    }
}

/// A pid: an integer, or a decimal string.
pub(crate) fn parse_pid(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(n) => n.as_i64().ok_or_else(|| {
            if n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0) {
                format!("{n} is out of range for a pid")
            } else {
                format!("{n} is not an integer pid")
            }
        }),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("{s:?} is not a decimal pid")),
        other => Err(format!(
            "expected an integer or a decimal string, found {}",
            kind_of(other)
        )),
    }
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Apply the CAPE → Cuckoo argument table. A renamed argument takes the
/// normalised name unless an earlier argument already took it (then it keeps
/// its CAPE name); `FullName` always wins over `ObjectAttributes`.
fn rename_cape_args(call: &mut CallBuf) {
    let api = call.api.as_str();
    let args = &mut call.slots[..call.n];
    let has = |name: &str| args.iter().any(|a| a.name == name);
    let is_reg = api.starts_with("Reg");
    let has_file_handle = has("FileHandle");
    let has_key_handle = has("KeyHandle") || (is_reg && has("Handle"));
    let has_full_name = has("FullName");

    let target = |name: &str| -> Option<&'static str> {
        let loader = match api {
            "LdrLoadDll" => match name {
                "FileName" => Some("basename"),
                "BaseAddress" => Some("module_address"),
                _ => None,
            },
            "LdrGetDllHandle" => match name {
                "FileName" => Some("module_name"),
                "ModuleHandle" => Some("module_address"),
                _ => None,
            },
            "LdrGetProcedureAddress" | "LdrGetProcedureAddressForCaller" => match name {
                "ModuleName" => Some("module"),
                "FunctionName" => Some("function_name"),
                "Ordinal" => Some("ordinal"),
                "ModuleHandle" => Some("module_address"),
                "FunctionAddress" => Some("function_address"),
                _ => None,
            },
            "LdrUnloadDll" => match name {
                "FileName" => Some("library"),
                "ModuleHandle" => Some("module_address"),
                _ => None,
            },
            "NtClose" => match name {
                "Handle" => Some("handle"),
                _ => None,
            },
            _ => None,
        };
        loader.or(match name {
            "FileHandle" => Some("file_handle"),
            "FileName" | "HandleName" if has_file_handle => Some("filepath"),
            "KeyHandle" => Some("key_handle"),
            "Handle" if is_reg => Some("key_handle"),
            "Registry" if is_reg => Some("base_handle"),
            "FullName" if has_key_handle => Some("regkey"),
            "ObjectAttributes" if has_key_handle && !has_full_name => Some("regkey"),
            "ProcessIdentifier" | "ProcessId" => Some("process_identifier"),
            _ => None,
        })
    };

    // Fifteen distinct targets exist: `taken` never fills (and allocates
    // nothing, per call of a report of millions).
    let mut taken: [&'static str; 16] = [""; 16];
    let mut n_taken = 0;
    let mut renamed = false;
    for a in args.iter_mut() {
        if let Some(new) = target(&a.name) {
            if !taken[..n_taken].contains(&new) && n_taken < taken.len() {
                taken[n_taken] = new;
                n_taken += 1;
                a.name.clear();
                a.name.push_str(new);
                renamed = true;
            }
        }
    }
    if renamed {
        call.first_name_wins();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(api: &str, args: &[(&str, Value)]) -> CallBuf {
        let mut b = CallBuf::default();
        b.api.push_str(api);
        b.category.push_str("registry");
        for (n, v) in args {
            let a = b.push_arg();
            a.name.push_str(n);
            a.set_value(v);
        }
        b
    }

    trait Normalise {
        fn normalise(self, format: Format) -> CallBuf;
    }

    impl Normalise for CallBuf {
        fn normalise(mut self, format: Format) -> CallBuf {
            normalise(&mut self, format);
            self
        }
    }

    fn names(call: &CallBuf) -> Vec<&str> {
        call.args().map(|(n, _)| n).collect()
    }

    #[test]
    fn full_name_wins_over_object_attributes_whatever_the_order() {
        let c = raw(
            "NtOpenKey",
            &[
                ("ObjectAttributes", json!("a")),
                ("KeyHandle", json!("0x1")),
                ("FullName", json!("b")),
            ],
        )
        .normalise(Format::Cape);
        assert_eq!(names(&c), ["ObjectAttributes", "key_handle", "regkey"]);
        assert_eq!(c.arg("regkey").map(|a| a.to_value()), Some(json!("b")));
    }

    #[test]
    fn second_argument_mapping_to_the_same_name_keeps_its_cape_name() {
        let c = raw(
            "NtCreateFile",
            &[
                ("FileHandle", json!("0x1")),
                ("HandleName", json!("x")),
                ("FileName", json!("y")),
            ],
        )
        .normalise(Format::Cape);
        assert_eq!(names(&c), ["file_handle", "filepath", "FileName"]);
    }

    #[test]
    fn reg_apis_map_handle_and_registry() {
        let c = raw(
            "RegOpenKeyExW",
            &[("Registry", json!("0x80000002")), ("Handle", json!("0xd8"))],
        )
        .normalise(Format::Cape);
        assert_eq!(names(&c), ["base_handle", "key_handle"]);
    }

    #[test]
    fn process_id_digits_become_an_integer_and_anything_else_stays() {
        let pid = |v: Value| {
            raw("NtOpenProcess", &[("ProcessId", v)])
                .normalise(Format::Cape)
                .arg("process_identifier")
                .map(|a| a.to_value())
        };
        assert_eq!(pid(json!("1234")), Some(json!(1234)));
        assert_eq!(pid(json!("+200")), Some(json!("+200")));
        assert_eq!(pid(json!(" 42")), Some(json!(" 42")));
        assert_eq!(pid(json!({})), Some(json!({})));
    }

    #[test]
    fn status_false_is_kept_only_in_cape_calls() {
        let mut r = raw("NtOpenKey", &[]);
        r.status_false = true;
        assert!(r.clone().normalise(Format::Cape).cape_status_false());
        assert!(!r.normalise(Format::Cuckoo).cape_status_false());
    }

    #[test]
    fn for_caller_is_treated_as_ldr_get_procedure_address() {
        let c = raw("LdrGetProcedureAddressForCaller", &[("ModuleName", json!("k.dll"))]).normalise(Format::Cape);
        assert_eq!(c.api, "LdrGetProcedureAddress");
        assert_eq!(names(&c), ["module"]);
    }
}
