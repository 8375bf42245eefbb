//! Normalisation of a raw call to Cuckoo names (spec section 1, the CAPE table).

use super::{Call, Format};
use serde_json::Value;

/// A call as it stands in the report, arguments already flattened to a
/// first-name-wins list.
#[derive(Debug, Clone)]
pub(crate) struct RawCall {
    pub api: String,
    pub category: String,
    pub args: Vec<(String, Value)>,
    pub last_error: Option<i64>,
    pub status_false: bool,
    pub rest: Vec<(String, Value)>,
}

impl RawCall {
    pub(crate) fn normalise(self, format: Format) -> Result<Call, String> {
        let (api, category, args) = match format {
            Format::Cuckoo => (self.api, self.category, self.args),
            Format::Cape => {
                let args = rename_cape_args(&self.api, self.args);
                let api = if self.api == "LdrGetProcedureAddressForCaller" {
                    "LdrGetProcedureAddress".to_owned()
                } else {
                    self.api
                };
                let category = match self.category.as_str() {
                    "filesystem" => "file".to_owned(),
                    "synchronization" => "synchronisation".to_owned(),
                    _ => self.category,
                };
                (api, category, args)
            }
        };
        let args = pid_args_to_integers(args)?;
        let failed = self.last_error.is_some_and(|e| e > 0) || (format == Format::Cape && self.status_false);
        Ok(Call {
            api,
            category,
            args,
            failed,
            rest: self.rest,
        })
    }
}

/// `process_identifier` holds an integer; a decimal string is parsed.
fn pid_args_to_integers(mut args: Vec<(String, Value)>) -> Result<Vec<(String, Value)>, String> {
    for (name, value) in &mut args {
        if name == "process_identifier" {
            *value = Value::from(parse_pid(value).map_err(|e| format!("argument `process_identifier`: {e}"))?);
        }
    }
    Ok(args)
}

/// A pid: an integer, or a decimal string.
pub(crate) fn parse_pid(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("{n} is not an integer pid")),
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
fn rename_cape_args(api: &str, args: Vec<(String, Value)>) -> Vec<(String, Value)> {
    let has = |name: &str| args.iter().any(|(n, _)| n == name);
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

    let mut taken: Vec<&'static str> = Vec::new();
    let renamed: Vec<(String, Value)> = args
        .iter()
        .map(|(name, value)| match target(name) {
            Some(new) if !taken.contains(&new) => {
                taken.push(new);
                (new.to_owned(), value.clone())
            }
            _ => (name.clone(), value.clone()),
        })
        .collect();
    first_name_wins(renamed)
}

/// Keep the first argument of each name, as an object built from a list would.
pub(crate) fn first_name_wins(args: Vec<(String, Value)>) -> Vec<(String, Value)> {
    // Linear whatever the count: a hostile report may list 100 000 arguments.
    let keep: Vec<bool> = if args.len() <= 16 {
        (0..args.len())
            .map(|i| !args[..i].iter().any(|(n, _)| *n == args[i].0))
            .collect()
    } else {
        let mut seen = std::collections::HashSet::with_capacity(args.len());
        args.iter().map(|(n, _)| seen.insert(n.as_str())).collect()
    };
    if keep.iter().all(|k| *k) {
        return args;
    }
    args.into_iter().zip(keep).filter_map(|(a, k)| k.then_some(a)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(api: &str, args: &[(&str, Value)]) -> RawCall {
        RawCall {
            api: api.into(),
            category: "registry".into(),
            args: args.iter().map(|(n, v)| (n.to_string(), v.clone())).collect(),
            last_error: None,
            status_false: false,
            rest: vec![],
        }
    }

    fn names(call: &Call) -> Vec<&str> {
        call.args.iter().map(|(n, _)| n.as_str()).collect()
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
        .normalise(Format::Cape)
        .unwrap();
        assert_eq!(names(&c), ["ObjectAttributes", "key_handle", "regkey"]);
        assert_eq!(c.arg("regkey"), Some(&json!("b")));
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
        .normalise(Format::Cape)
        .unwrap();
        assert_eq!(names(&c), ["file_handle", "filepath", "FileName"]);
    }

    #[test]
    fn reg_apis_map_handle_and_registry() {
        let c = raw(
            "RegOpenKeyExW",
            &[("Registry", json!("0x80000002")), ("Handle", json!("0xd8"))],
        )
        .normalise(Format::Cape)
        .unwrap();
        assert_eq!(names(&c), ["base_handle", "key_handle"]);
    }

    #[test]
    fn process_id_becomes_an_integer_and_garbage_is_an_error() {
        let c = raw("NtOpenProcess", &[("ProcessId", json!("1234"))])
            .normalise(Format::Cape)
            .unwrap();
        assert_eq!(c.arg("process_identifier"), Some(&json!(1234)));
        assert!(raw("NtOpenProcess", &[("ProcessId", json!({}))])
            .normalise(Format::Cape)
            .is_err());
    }

    #[test]
    fn status_false_fails_only_cape_calls() {
        let mut r = raw("NtOpenKey", &[]);
        r.status_false = true;
        assert!(r.clone().normalise(Format::Cape).unwrap().failed);
        assert!(!r.normalise(Format::Cuckoo).unwrap().failed);
    }

    #[test]
    fn for_caller_is_treated_as_ldr_get_procedure_address() {
        let c = raw("LdrGetProcedureAddressForCaller", &[("ModuleName", json!("k.dll"))])
            .normalise(Format::Cape)
            .unwrap();
        assert_eq!(c.api, "LdrGetProcedureAddress");
        assert_eq!(names(&c), ["module"]);
    }
}
