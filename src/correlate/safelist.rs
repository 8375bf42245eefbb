//! Background indicators that never link samples: the shipped safelist
//! (`data/safelist.toml`), the user's additions from the settings, and the
//! indicators of analyses marked as a clean baseline.
//!
//! Matching is case-insensitive on a normal form that folds the spellings one
//! key or path has in reports (`\REGISTRY\MACHINE\…` and `HKLM\…` are
//! `hkey_local_machine\…`; a user's `HKEY_USERS\S-1-5-21-…` hive is
//! `hkey_current_user`; `ControlSet001` is `currentcontrolset`; `Wow6432Node`
//! and `SysWOW64`/`Sysnative` are dropped or folded to `system32`). Patterns
//! are written in that normal form: `x` exactly, `x*` a prefix, `*x` a suffix,
//! `x*y` both. The safelist only decides what counts as a link; nothing is
//! removed from the graph.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{Indicator, IndicatorKind};

/// The shipped list, compiled in.
pub const BUILTIN: &str = include_str!("../../data/safelist.toml");

#[derive(Debug, thiserror::Error)]
pub enum SafelistError {
    #[error("safelist: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("safelist pattern {pattern:?} ({kind}): at most one `*`, and not alone")]
    Pattern { kind: &'static str, pattern: String },
}

/// One entry of the data file or of the settings (`[[correlate.safelist]]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SafelistEntry {
    pub kind: IndicatorKind,
    pub reason: String,
    pub patterns: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SafelistFile {
    entry: Vec<SafelistEntry>,
}

#[derive(Debug, Clone, PartialEq)]
enum Pattern {
    Exact(String),
    Affix { prefix: String, suffix: String },
}

impl Pattern {
    fn parse(kind: IndicatorKind, text: &str) -> Result<Pattern, SafelistError> {
        let text = text.to_lowercase();
        let bad = || SafelistError::Pattern {
            kind: kind.as_str(),
            pattern: text.clone(),
        };
        match text.split_once('*') {
            None => Ok(Pattern::Exact(text.clone())),
            Some((p, s)) if s.contains('*') || (p.is_empty() && s.is_empty()) => Err(bad()),
            Some((p, s)) => Ok(Pattern::Affix {
                prefix: p.to_string(),
                suffix: s.to_string(),
            }),
        }
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            Pattern::Exact(_) => false, // looked up in the exact set
            Pattern::Affix { prefix, suffix } => {
                value.len() >= prefix.len() + suffix.len()
                    && value.starts_with(prefix.as_str())
                    && value.ends_with(suffix.as_str())
            }
        }
    }
}

/// Patterns of one indicator kind: a hash set for the exact ones, a list for
/// the rest (a few dozen; each test is two string comparisons).
#[derive(Debug, Clone, Default)]
struct KindRules {
    exact: HashMap<String, usize>,
    affixes: Vec<(Pattern, usize)>,
}

/// A compiled safelist. Reasons are kept so that a caller can say why an
/// indicator was left out.
#[derive(Debug, Clone, Default)]
pub struct Safelist {
    kinds: [KindRules; 6],
    reasons: Vec<String>,
}

impl Safelist {
    /// The shipped list. It is compiled in and tested, so it always parses.
    pub fn builtin() -> Safelist {
        Safelist::from_toml(BUILTIN).expect("data/safelist.toml parses (tested)")
    }

    /// The shipped list plus the user's entries from the settings. This is
    /// what commands call (`correlate`, the shared-indicator queries).
    pub fn with_user(entries: &[SafelistEntry]) -> Result<Safelist, SafelistError> {
        let mut list = Safelist::builtin();
        list.extend(entries)?;
        Ok(list)
    }

    pub fn from_toml(text: &str) -> Result<Safelist, SafelistError> {
        let file: SafelistFile = toml::from_str(text)?;
        let mut list = Safelist::default();
        list.extend(&file.entry)?;
        Ok(list)
    }

    pub fn extend(&mut self, entries: &[SafelistEntry]) -> Result<(), SafelistError> {
        for e in entries {
            let reason = self.reasons.len();
            self.reasons.push(e.reason.clone());
            let rules = &mut self.kinds[e.kind.index()];
            for text in &e.patterns {
                match Pattern::parse(e.kind, text)? {
                    Pattern::Exact(v) => {
                        rules.exact.entry(v).or_insert(reason);
                    }
                    p => rules.affixes.push((p, reason)),
                }
            }
        }
        Ok(())
    }

    /// Why `indicator` is background, or `None` when it may link samples.
    pub fn reason(&self, indicator: &Indicator) -> Option<&str> {
        let value = normalise(indicator.kind, &indicator.value);
        let rules = &self.kinds[indicator.kind.index()];
        let hit = rules
            .exact
            .get(&value)
            .copied()
            .or_else(|| rules.affixes.iter().find(|(p, _)| p.matches(&value)).map(|(_, r)| *r));
        hit.map(|r| self.reasons[r].as_str())
    }

    pub fn contains(&self, indicator: &Indicator) -> bool {
        self.reason(indicator).is_some()
    }

    /// How many patterns the list holds.
    pub fn len(&self) -> usize {
        self.kinds.iter().map(|k| k.exact.len() + k.affixes.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The normal form patterns are written in (see the module documentation).
pub fn normalise(kind: IndicatorKind, value: &str) -> String {
    let v = value.to_lowercase();
    match kind {
        IndicatorKind::Registry => normalise_key(&v),
        IndicatorKind::File => normalise_path(&v),
        IndicatorKind::Domain => v.trim_end_matches('.').to_string(),
        _ => v,
    }
}

fn replace_prefix(v: &str, from: &str, to: &str) -> Option<String> {
    v.strip_prefix(from).map(|rest| format!("{to}{rest}"))
}

fn normalise_key(v: &str) -> String {
    const ROOTS: [(&str, &str); 6] = [
        (r"\registry\machine", "hkey_local_machine"),
        ("hklm", "hkey_local_machine"),
        ("hkcu", "hkey_current_user"),
        ("hkcr", "hkey_classes_root"),
        (r"\registry\user", "hkey_users"),
        ("hku", "hkey_users"),
    ];
    let mut v = ROOTS
        .iter()
        .find_map(|(from, to)| {
            let rest = v.strip_prefix(from)?;
            (rest.is_empty() || rest.starts_with('\\')).then(|| format!("{to}{rest}"))
        })
        .unwrap_or_else(|| v.to_string());
    // A user's hive by its SID (S-1-5-21-…, not .DEFAULT or the service
    // accounts S-1-5-18/19/20) is the current user's.
    if let Some(rest) = v.strip_prefix(r"hkey_users\s-1-5-21-") {
        let (sid_tail, below) = rest.split_once('\\').unwrap_or((rest, ""));
        let root = if sid_tail.ends_with("_classes") {
            r"hkey_current_user\software\classes"
        } else {
            "hkey_current_user"
        };
        v = if below.is_empty() {
            root.to_string()
        } else {
            format!(r"{root}\{below}")
        };
    }
    if let Some(r) = replace_prefix(&v, r"hkey_local_machine\system\controlset00", "") {
        // controlset001\… → currentcontrolset\… (the digit after 00)
        if let Some((_, below)) = r.split_once('\\') {
            v = format!(r"hkey_local_machine\system\currentcontrolset\{below}");
        }
    }
    v.replace(r"\software\classes\wow6432node\", r"\software\classes\")
        .replace(r"\software\wow6432node\", r"\software\")
}

fn normalise_path(v: &str) -> String {
    let v = match v.strip_prefix(r"\??\") {
        Some(rest) if rest.as_bytes().get(1) == Some(&b':') => rest.to_string(),
        _ => v.to_string(),
    };
    let v = replace_prefix(&v, r"\systemroot\", r"c:\windows\").unwrap_or(v);
    replace_prefix(&v, r"c:\windows\syswow64\", r"c:\windows\system32\")
        .or_else(|| replace_prefix(&v, r"c:\windows\sysnative\", r"c:\windows\system32\"))
        .unwrap_or(v)
}

/// What keeps an indicator from linking samples: the safelist, plus every
/// indicator of the analyses marked as a clean baseline (`:Analysis
/// {baseline: true}`, `docs/correlation.md`).
#[derive(Debug, Clone, Default)]
pub struct NoiseFilter {
    pub safelist: Safelist,
    baseline: HashSet<(IndicatorKind, String)>,
}

/// Why an indicator is noise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Noise<'a> {
    Safelisted(&'a str),
    /// A baseline analysis shows it.
    Baseline,
}

impl NoiseFilter {
    pub fn new(safelist: Safelist) -> NoiseFilter {
        NoiseFilter {
            safelist,
            baseline: HashSet::new(),
        }
    }

    /// Add the indicators of one clean baseline analysis.
    pub fn add_baseline<'a>(&mut self, indicators: impl IntoIterator<Item = &'a Indicator>) {
        for i in indicators {
            self.baseline.insert((i.kind, normalise(i.kind, &i.value)));
        }
    }

    pub fn noise(&self, indicator: &Indicator) -> Option<Noise<'_>> {
        if let Some(r) = self.safelist.reason(indicator) {
            return Some(Noise::Safelisted(r));
        }
        let key = (indicator.kind, normalise(indicator.kind, &indicator.value));
        self.baseline.contains(&key).then_some(Noise::Baseline)
    }

    pub fn is_noise(&self, indicator: &Indicator) -> bool {
        self.noise(indicator).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ind(kind: IndicatorKind, v: &str) -> Indicator {
        Indicator::new(kind, v)
    }

    #[test]
    fn builtin_list_parses_and_is_not_empty() {
        let list = Safelist::builtin();
        assert!(list.len() > 100, "{}", list.len());
    }

    /// Asserts that each case is (or is not) on the shipped list.
    fn assert_safelisted(cases: &[(IndicatorKind, &str)], expected: bool) {
        let list = Safelist::builtin();
        for (k, v) in cases {
            assert_eq!(list.contains(&ind(*k, v)), expected, "{k:?} {v}");
        }
    }

    #[test]
    fn windows_background_of_the_issue_is_safelisted() {
        use IndicatorKind::*;
        let cases = [
            (
                Registry,
                r"HKEY_LOCAL_MACHINE\Software\Microsoft\Windows NT\CurrentVersion\GRE_Initialize",
            ),
            (
                Registry,
                r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Nls\CustomLocale",
            ),
            (
                Registry,
                r"\REGISTRY\MACHINE\SYSTEM\ControlSet001\Control\NLS\Sorting\Versions\000603xx",
            ),
            (File, r"C:\Windows\Globalization\Sorting\SortDefault.nls"),
            (File, r"\??\PhysicalDrive0"),
            (File, r"C:\Windows\SysWOW64\en-US\user32.dll.mui"),
            (Ip, "8.8.8.8"),
            (Domain, "teredo.ipv6.microsoft.com"),
            (Domain, "WWW.MSFTNCSI.COM."),
            (Mutex, "Local\\MSCTF.Asm.MutexDefault1"),
        ];
        assert_safelisted(&cases, true);
    }

    #[test]
    fn what_malware_does_is_not_safelisted() {
        use IndicatorKind::*;
        let cases = [
            (
                Registry,
                r"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run",
            ),
            (
                Registry,
                r"HKEY_LOCAL_MACHINE\Software\Microsoft\Windows NT\CurrentVersion\Winlogon",
            ),
            (
                Registry,
                r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\evilsvc",
            ),
            (File, r"C:\Windows\System32\msupdate.dll"),
            (File, r"C:\Users\will\AppData\Roaming\svchost32.exe"),
            (Mutex, "Global\\WHS_7d3f0a2c"),
            (Domain, "telemetry-update.example.net"),
            (Ip, "203.0.113.47"),
        ];
        assert_safelisted(&cases, false);
    }

    #[test]
    fn user_hives_and_redirected_paths_fold_to_one_form() {
        assert_eq!(
            normalise(
                IndicatorKind::Registry,
                r"HKEY_USERS\S-1-5-21-1-2-3-1002\Control Panel\International"
            ),
            r"hkey_current_user\control panel\international"
        );
        assert_eq!(
            normalise(IndicatorKind::Registry, r"HKU\S-1-5-21-9_Classes"),
            r"hkey_current_user\software\classes"
        );
        assert_eq!(
            normalise(
                IndicatorKind::Registry,
                r"HKLM\Software\Wow6432Node\Microsoft\EdgeUpdate"
            ),
            r"hkey_local_machine\software\microsoft\edgeupdate"
        );
        assert_eq!(
            normalise(IndicatorKind::Registry, r"hkey_users\.default"),
            r"hkey_users\.default"
        );
        assert_eq!(normalise(IndicatorKind::Registry, "hkcuber"), "hkcuber");
        assert_eq!(
            normalise(IndicatorKind::File, r"\??\C:\Windows\Sysnative\x.dll"),
            r"c:\windows\system32\x.dll"
        );
        assert_eq!(normalise(IndicatorKind::File, r"\??\pipe\x"), r"\??\pipe\x");
    }

    #[test]
    fn user_entries_extend_the_list_and_carry_their_reason() {
        let entry = SafelistEntry {
            kind: IndicatorKind::Domain,
            reason: "our proxy".into(),
            patterns: vec!["*.corp.example".into()],
        };
        let list = Safelist::with_user(&[entry]).unwrap();
        assert_eq!(
            list.reason(&ind(IndicatorKind::Domain, "proxy.CORP.example")),
            Some("our proxy")
        );
        assert!(list.contains(&ind(IndicatorKind::Ip, "8.8.8.8")));
    }

    #[test]
    fn bad_patterns_and_unknown_fields_are_errors() {
        let two_stars = "[[entry]]\nkind = \"file\"\nreason = \"r\"\npatterns = ['a*b*']";
        assert!(matches!(
            Safelist::from_toml(two_stars),
            Err(SafelistError::Pattern { .. })
        ));
        let lone_star = "[[entry]]\nkind = \"file\"\nreason = \"r\"\npatterns = ['*']";
        assert!(Safelist::from_toml(lone_star).is_err());
        let unknown = "[[entry]]\nkind = \"file\"\nreason = \"r\"\npatterns = []\nextra = 1";
        assert!(Safelist::from_toml(unknown).is_err());
        let bad_kind = "[[entry]]\nkind = \"url\"\nreason = \"r\"\npatterns = []";
        assert!(Safelist::from_toml(bad_kind).is_err());
    }

    #[test]
    fn affix_patterns_do_not_overlap_themselves() {
        let p = Pattern::parse(IndicatorKind::Ip, "1.2*.2").unwrap();
        assert!(p.matches("1.2.2"));
        assert!(!p.matches("1.2"));
    }

    #[test]
    fn baseline_indicators_are_noise_in_any_spelling() {
        let mut f = NoiseFilter::new(Safelist::default());
        let clean = ind(IndicatorKind::Registry, r"HKLM\Software\Vendor\Agent");
        f.add_baseline([&clean]);
        assert_eq!(
            f.noise(&ind(
                IndicatorKind::Registry,
                r"\REGISTRY\MACHINE\SOFTWARE\Vendor\Agent"
            )),
            Some(Noise::Baseline)
        );
        assert_eq!(
            f.noise(&ind(IndicatorKind::Registry, r"HKLM\Software\Vendor\Other")),
            None
        );
    }
}
