//! Planted campaigns (`corpus --campaigns K`): the ground truth of the
//! correlation benchmark (`bench/scale`).
//!
//! K families of varied sizes share planted indicators (mutexes, file paths,
//! a config and a service registry key, C2 domains and addresses, a dropped
//! file) and an API profile, each member keeping most of them (per-sample
//! variation: a repacked payload, a missing path, a second C2). They sit
//! among unrelated samples. Every sample, planted or not, also gets the
//! background a sandbox guest shows: Windows and sandbox indicators of the
//! kinds `data/safelist.toml` lists (GDI and NLS keys, sorting tables, device
//! names, MSCTF mutexes, connectivity checks, the guest's resolver) and
//! benign indicators that are not safelisted but many unrelated samples share
//! (certificate revocation and update hosts, CDN addresses, common
//! directories, the Run key). Everything lands where graphmalw reads it:
//! file and key paths as handle-opening calls of the first process, mutexes
//! in `behavior.summary`, hosts and domains in `network`, dropped files in
//! `dropped`, APIs as calls of a category rule C1 keeps.
//!
//! The truth (report file name → family, `-` for none) is written as
//! `truth.tsv` in the corpus directory (not a report name, so `ingest` skips
//! it). Everything derives from the seed.

use super::{Rng, Shape, SynCall, J, V};
use std::fmt::Write as _;

/// Background every sandbox guest shows, of the kinds the safelist lists;
/// each sample takes each entry with the probability given.
const BG_KEYS: &[(&str, f64)] = &[
    (
        "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\GRE_Initialize",
        0.9,
    ),
    (
        "HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Control\\Nls\\CustomLocale",
        0.7,
    ),
    (
        "HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Control\\Nls\\ExtendedLocale",
        0.6,
    ),
    (
        "HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Control\\Nls\\Sorting\\Versions",
        0.5,
    ),
    ("HKEY_CURRENT_USER\\Control Panel\\International", 0.4),
    (
        "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion",
        0.6,
    ),
    (
        "HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Control\\Session Manager",
        0.5,
    ),
    ("HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\OLE", 0.4),
    ("HKEY_CURRENT_USER\\Software\\Microsoft\\CTF\\DirectSwitchHotkeys", 0.3),
];
const BG_FILES: &[(&str, f64)] = &[
    ("C:\\Windows\\Globalization\\Sorting\\SortDefault.nls", 0.8),
    ("\\??\\PhysicalDrive0", 0.4),
    ("\\??\\MountPointManager", 0.3),
    ("\\Device\\CNG", 0.6),
    ("\\Device\\KsecDD", 0.3),
    ("\\??\\Nsi", 0.3),
    ("C:\\Windows\\System32\\kernel.appcore.dll", 0.5),
    ("C:\\Windows\\System32\\cryptsp.dll", 0.4),
    ("C:\\Windows\\SysWOW64\\version.dll", 0.3),
];
const BG_MUTEXES: &[(&str, f64)] = &[
    ("Local\\MSCTF.Asm.MutexDefault1", 0.6),
    ("CicLoadWinStaWinSta0", 0.5),
    ("Local\\ZonesCacheCounterMutex", 0.4),
    ("Local\\ZonesLockedCacheCounterMutex", 0.4),
    ("ZonesCounterMutex", 0.3),
];
const BG_DOMAINS: &[(&str, f64)] = &[
    ("teredo.ipv6.microsoft.com", 0.35),
    ("www.msftncsi.com", 0.4),
    ("dns.msftncsi.com", 0.2),
    ("time.windows.com", 0.2),
    ("www.msftconnecttest.com", 0.2),
];
const BG_IPS: &[(&str, f64)] = &[
    ("8.8.8.8", 0.4),
    ("224.0.0.252", 0.5),
    ("239.255.255.250", 0.5),
    ("192.168.56.1", 0.3),
    ("255.255.255.255", 0.2),
];

/// Benign indicators that are not background of the guest (not safelisted)
/// but that many unrelated samples share; skewed: the first ones are common.
const NOISE_DOMAINS: &[&str] = &[
    "clients2.google.com",
    "update.googleapis.com",
    "crl.sectigo.com",
    "apps.identrust.com",
    "x1.c.lencr.org",
    "ocsp.sectigo.com",
    "login.live.com",
    "api.ipify.org",
    "ip-api.com",
    "checkip.amazonaws.com",
    "raw.githubusercontent.com",
    "cdn.discordapp.com",
    "pastebin.com",
    "www.google.com",
    "fonts.googleapis.com",
];
const NOISE_IPS: &[&str] = &[
    "93.184.220.29",
    "23.216.147.64",
    "13.107.4.50",
    "104.18.20.226",
    "142.250.180.14",
    "151.101.1.69",
    "20.190.160.17",
    "52.109.8.19",
    "208.95.112.1",
    "104.26.13.205",
    "185.199.108.133",
    "162.159.130.233",
];
const NOISE_FILES: &[&str] = &[
    "C:\\Users\\Rebecca\\AppData\\Local\\Microsoft\\Windows\\INetCache\\IE\\container.dat",
    "C:\\Users\\Rebecca\\AppData\\Roaming\\Microsoft\\Windows\\Recent\\CustomDestinations",
    "C:\\Users\\Rebecca\\Desktop\\desktop.ini",
    "C:\\Windows\\System32\\ws2_32.dll",
    "C:\\Windows\\System32\\wininet.dll",
    "C:\\Windows\\System32\\urlmon.dll",
    "C:\\Windows\\System32\\drivers\\etc\\hosts",
    "C:\\Users\\Rebecca\\AppData\\Local\\Microsoft\\Windows\\History\\desktop.ini",
];
const NOISE_KEYS: &[&str] = &[
    "HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run",
    "HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\User Shell Folders",
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Cryptography",
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run",
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon",
];

/// Real APIs of rule-C1 categories that only some programs call: a
/// family's API profile is drawn from them, and unrelated samples call a few.
const PROFILE_APIS: &[&str] = &[
    "NtQueueApcThread",
    "NtResumeThread",
    "NtSuspendThread",
    "NtSetContextThread",
    "NtGetContextThread",
    "NtUnmapViewOfSection",
    "NtCreateSection",
    "NtCreateThreadEx",
    "RtlCreateUserThread",
    "NtQueryInformationProcess",
    "NtSetInformationThread",
    "NtQuerySystemTime",
    "NtLoadDriver",
    "NtShutdownSystem",
    "NtCreateUserProcess",
    "ShellExecuteExW",
    "WinExec",
    "CreateToolhelp32Snapshot",
    "Process32FirstW",
    "Process32NextW",
    "Module32FirstW",
    "Thread32First",
    "IsDebuggerPresent",
    "CheckRemoteDebuggerPresent",
    "OutputDebugStringA",
    "GetTickCount",
    "NtQueryPerformanceCounter",
    "GetAdaptersAddresses",
    "GetComputerNameW",
    "GetUserNameW",
    "GetVolumeInformationW",
    "GetDiskFreeSpaceExW",
    "GlobalMemoryStatusEx",
    "GetSystemInfo",
    "GetNativeSystemInfo",
    "SetWindowsHookExW",
    "UnhookWindowsHookEx",
    "GetKeyState",
    "GetAsyncKeyState",
    "SetErrorMode",
    "NtSetInformationProcess",
    "NtOpenThread",
    "NtDuplicateObject",
    "NtMakeTemporaryObject",
    "NtOpenSection",
    "NtQuerySection",
    "NtCreateMutant",
    "NtOpenMutant",
    "NtCreateEvent",
    "NtOpenEvent",
    "NtCreateNamedPipeFile",
    "NtDeviceIoControlFile",
    "NtFsControlFile",
    "NtQueryDirectoryFile",
    "NtQueryAttributesFile",
    "NtQueryFullAttributesFile",
    "NtDeleteFile",
    "NtRenameKey",
    "NtDeleteKey",
    "NtDeleteValueKey",
    "NtSaveKey",
    "NtLoadKey",
    "RegDeleteValueW",
    "RegDeleteKeyW",
    "CopyFileExW",
    "MoveFileWithProgressW",
    "DeleteFileW",
    "SetFileAttributesW",
    "CreateDirectoryW",
    "RemoveDirectoryA",
    "StartServiceW",
    "CreateServiceW",
    "OpenSCManagerW",
    "ControlService",
    "NtAdjustPrivilegesToken",
    "LookupPrivilegeValueW",
    "OpenProcessToken",
    "DuplicateTokenEx",
    "ImpersonateLoggedOnUser",
    "NtTerminateThread",
];

const WORDS: &[&str] = &[
    "nova", "kite", "ember", "orbit", "quill", "lumen", "sable", "vortex", "atlas", "cinder", "drift", "falcon",
    "gale", "harbor", "iris", "jade", "karma", "lotus", "mosaic", "nimbus", "onyx", "pulse", "quartz", "raven",
    "sigma", "tundra",
];

/// One planted family: what its members share.
struct Family {
    name: String,
    mutexes: Vec<String>,
    files: Vec<String>,
    keys: Vec<String>,
    domains: Vec<String>,
    ips: Vec<String>,
    dropped_name: String,
    payload_sha: String,
    apis: Vec<&'static str>,
}

impl Family {
    fn new(index: usize, rng: &mut Rng) -> Family {
        let w = |rng: &mut Rng| rng.pick(WORDS).to_string();
        let (a, b) = (w(rng), w(rng));
        let vendor = format!("{a}{}", rng.below(100));
        let exe = format!("{b}{}.exe", rng.hex(4));
        let mut apis: Vec<&'static str> = Vec::new();
        while apis.len() < 8 {
            let api = *rng.pick(PROFILE_APIS);
            if !apis.contains(&api) {
                apis.push(api);
            }
        }
        let tld = *rng.pick(&["top", "xyz", "ru", "info", "net", "cc"]);
        Family {
            name: format!("fam{:02}-{a}", index + 1),
            mutexes: vec![
                format!("Global\\{}", rng.hex(16)),
                format!("{a}_{b}_{}", rng.below(1000)),
            ],
            files: vec![
                format!("C:\\Users\\Rebecca\\AppData\\Roaming\\{vendor}\\{exe}"),
                format!("C:\\Users\\Rebecca\\AppData\\Roaming\\{vendor}\\{}.dat", w(rng)),
                format!("C:\\ProgramData\\{}\\{}.log", w(rng), rng.hex(6)),
            ],
            keys: vec![
                format!("HKEY_CURRENT_USER\\Software\\{vendor}\\{}", w(rng)),
                format!(
                    "HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Services\\{b}svc{}",
                    rng.below(100)
                ),
            ],
            domains: vec![
                format!("{}-{}.{tld}", w(rng), rng.hex(5)),
                format!("{}{}.{tld}", w(rng), rng.below(1000)),
            ],
            ips: vec![rng.ipv4(31, 150), rng.ipv4(31, 150)],
            dropped_name: format!("{}.exe", w(rng)),
            payload_sha: rng.hex(64),
            apis,
        }
    }
}

/// One thing a first process does so that graphmalw sees an indicator.
pub(crate) enum Act {
    OpenFile(String),
    OpenKey(String),
    Api(&'static str),
}

/// What one report gets on top of the generator's own content.
#[derive(Default)]
pub(crate) struct Extras {
    pub acts: Vec<Act>,
    pub mutexes: Vec<String>,
    pub domains: Vec<String>,
    pub ips: Vec<String>,
    /// (sha256, name, guest path)
    pub dropped: Vec<(String, String, String)>,
}

impl Extras {
    /// The calls of one act of process `pid`, opening with handle `v`
    /// (closed right after); `open` writes a file (true) or key open.
    pub(crate) fn calls(
        &self,
        act: &Act,
        (shape, pid, v): (Shape, i64, u64),
        mut open: impl FnMut(&mut SynCall, bool, String),
    ) -> Vec<SynCall> {
        let mut c = SynCall {
            api: "",
            category: "system",
            args: Vec::new(),
            failed: false,
            ret: 0,
        };
        match act {
            Act::OpenFile(p) | Act::OpenKey(p) => {
                open(&mut c, matches!(act, Act::OpenFile(_)), p.clone());
                let close = SynCall {
                    api: "NtClose",
                    category: "system",
                    args: vec![(Some("handle"), Some("Handle"), V::Hex(v))],
                    failed: false,
                    ret: 0,
                };
                vec![c, close]
            }
            Act::Api(api) => {
                // Rule K1 keeps an api node only if its call links something:
                // the process itself, as calls on the current process do.
                c.api = api;
                c.category = "process";
                c.args
                    .push((Some("process_handle"), Some("ProcessHandle"), V::Hex(0xffff_ffff)));
                let pid = match shape {
                    Shape::Cape => V::S(pid.to_string()),
                    Shape::Cuckoo => V::I(pid),
                };
                c.args.push((Some("process_identifier"), Some("ProcessId"), pid));
                vec![c]
            }
        }
    }

    /// The `dropped` section (empty when nothing was dropped).
    pub(crate) fn write_dropped(&self, j: &mut J, shape: Shape) {
        if self.dropped.is_empty() {
            return;
        }
        j.raw("\"dropped\": [");
        for (i, (sha, name, path)) in self.dropped.iter().enumerate() {
            if i > 0 {
                j.raw(", ");
            }
            j.raw("{");
            j.kv_str("sha256", sha);
            j.raw(", ");
            j.kv_str("name", name);
            j.raw(", ");
            match shape {
                Shape::Cape => {
                    j.key("guest_paths");
                    j.raw("[");
                    j.str(path);
                    j.raw("]");
                }
                Shape::Cuckoo => j.kv_str("filepath", path),
            }
            j.raw(", \"type\": \"PE32 executable (GUI) Intel 80386, for MS Windows\", \"size\": 73728}");
        }
        j.raw("], ");
    }
}

/// The planted corpus: which family each report belongs to, and the families.
pub(crate) struct Plan {
    families: Vec<Family>,
    /// Per report index: its family, if any.
    member: Vec<Option<usize>>,
}

impl Plan {
    /// `k` families over `count` reports, `share` of the reports planted;
    /// family sizes fall off as 1/(i+1)^0.7 and are at least 3.
    pub(crate) fn new(count: usize, k: usize, share: f64, seed: u64) -> Plan {
        let mut rng = Rng::new(seed ^ 0xca3b_a165);
        let families: Vec<Family> = (0..k).map(|i| Family::new(i, &mut rng)).collect();
        let planted = ((count as f64 * share) as usize).max(3 * k).min(count);
        let weights: Vec<f64> = (0..k).map(|i| 1.0 / ((i + 1) as f64).powf(0.7)).collect();
        let total: f64 = weights.iter().sum();
        let mut sizes: Vec<usize> = weights
            .iter()
            .map(|w| ((w / total * planted as f64) as usize).max(3))
            .collect();
        while sizes.iter().sum::<usize>() > count {
            let big = (0..k).max_by_key(|&i| sizes[i]).unwrap_or(0);
            sizes[big] -= 1;
        }
        // A seeded shuffle of the report indices; families take them in turn.
        let mut order: Vec<usize> = (0..count).collect();
        for i in (1..count).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let mut member = vec![None; count];
        let mut next = order.into_iter();
        for (f, &n) in sizes.iter().enumerate() {
            for idx in next.by_ref().take(n) {
                member[idx] = Some(f);
            }
        }
        Plan { families, member }
    }

    pub(crate) fn family_name(&self, index: usize) -> Option<&str> {
        self.member
            .get(index)
            .copied()
            .flatten()
            .map(|f| self.families[f].name.as_str())
    }

    /// The extras of report `index`: background for every report, the
    /// family's indicators (most of them) for planted ones.
    pub(crate) fn extras(&self, index: usize, seed: u64) -> Extras {
        let mut rng = Rng::new(seed.wrapping_mul(0x2545_f491).wrapping_add(index as u64));
        let mut x = Extras::default();
        background(&mut rng, &mut x);
        match self.member[index] {
            Some(f) => self.plant(&self.families[f], &mut rng, &mut x),
            None => {
                // Unrelated samples use a few of the profile APIs too.
                for _ in 0..2 + rng.below(4) {
                    let api = rng.pick::<&str>(PROFILE_APIS);
                    x.acts.push(Act::Api(api));
                }
            }
        }
        x
    }

    fn plant(&self, fam: &Family, rng: &mut Rng, x: &mut Extras) {
        x.mutexes.push(fam.mutexes[0].clone());
        if rng.chance(0.7) {
            x.mutexes.push(fam.mutexes[1].clone());
        }
        for p in &fam.files {
            if rng.chance(0.8) {
                x.acts.push(Act::OpenFile(p.clone()));
            }
        }
        for k in &fam.keys {
            if rng.chance(0.85) {
                x.acts.push(Act::OpenKey(k.clone()));
            }
        }
        x.domains.push(fam.domains[rng.below(2)].clone());
        if rng.chance(0.3) {
            x.domains.push(fam.domains[rng.below(2)].clone());
        }
        x.ips.push(fam.ips[rng.below(2)].clone());
        // A repacked payload is a new hash under the same name.
        let sha = if rng.chance(0.6) {
            fam.payload_sha.clone()
        } else {
            rng.hex(64)
        };
        if rng.chance(0.9) {
            let path = format!("C:\\Users\\Rebecca\\AppData\\Local\\Temp\\{}", fam.dropped_name);
            x.dropped.push((sha, fam.dropped_name.clone(), path));
        }
        for api in &fam.apis {
            if rng.chance(0.9) {
                x.acts.push(Act::Api(api));
            }
        }
    }

    /// `truth.tsv`: report file name, family (`-` for none).
    pub(crate) fn truth_line(&self, out: &mut String, report: &str, index: usize) {
        let _ = writeln!(out, "{report}\t{}", self.family_name(index).unwrap_or("-"));
    }
}

/// Guest background and shared benign noise, for every report.
fn background(rng: &mut Rng, x: &mut Extras) {
    let take = |rng: &mut Rng, list: &[(&str, f64)]| -> Vec<String> {
        list.iter()
            .filter(|(_, p)| rng.chance(*p))
            .map(|(v, _)| v.to_string())
            .collect()
    };
    let keys = take(rng, BG_KEYS);
    let files = take(rng, BG_FILES);
    x.mutexes.extend(take(rng, BG_MUTEXES));
    x.domains.extend(take(rng, BG_DOMAINS));
    x.ips.extend(take(rng, BG_IPS));
    x.acts.extend(keys.into_iter().map(Act::OpenKey));
    x.acts.extend(files.into_iter().map(Act::OpenFile));
    for _ in 0..rng.below(4) {
        x.domains
            .push(NOISE_DOMAINS[rng.skewed(NOISE_DOMAINS.len())].to_string());
    }
    for _ in 0..rng.below(3) {
        x.ips.push(NOISE_IPS[rng.skewed(NOISE_IPS.len())].to_string());
    }
    for _ in 0..rng.below(4) {
        x.acts
            .push(Act::OpenFile(NOISE_FILES[rng.skewed(NOISE_FILES.len())].to_string()));
    }
    for _ in 0..rng.below(3) {
        x.acts
            .push(Act::OpenKey(NOISE_KEYS[rng.skewed(NOISE_KEYS.len())].to_string()));
    }
    x.domains.sort();
    x.domains.dedup();
    x.ips.sort();
    x.ips.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;
    use graphmalw::correlate::safelist::Safelist;
    use graphmalw::correlate::{Features, Indicator, IndicatorKind};
    use graphmalw::model::GraphConfig;
    use graphmalw::pipeline::build_report;
    use graphmalw::report::ReadLimits;

    /// The guest background is what the shipped safelist calls background;
    /// the shared benign noise and the planted indicators are not.
    #[test]
    fn background_is_safelisted_and_the_rest_is_not() {
        let list = Safelist::builtin();
        let kinds = [
            (IndicatorKind::Registry, BG_KEYS),
            (IndicatorKind::File, BG_FILES),
            (IndicatorKind::Mutex, BG_MUTEXES),
            (IndicatorKind::Domain, BG_DOMAINS),
            (IndicatorKind::Ip, BG_IPS),
        ];
        for (kind, entries) in kinds {
            for (v, _) in entries {
                assert!(list.contains(&Indicator::new(kind, v)), "{v} is not safelisted");
            }
        }
        let noise = [
            (IndicatorKind::Domain, NOISE_DOMAINS),
            (IndicatorKind::Ip, NOISE_IPS),
            (IndicatorKind::File, NOISE_FILES),
            (IndicatorKind::Registry, NOISE_KEYS),
        ];
        for (kind, entries) in noise {
            for v in entries {
                assert!(!list.contains(&Indicator::new(kind, v)), "{v} is safelisted");
            }
        }
    }

    /// Every planted indicator of a member lands where graphmalw reads it,
    /// in both shapes.
    #[test]
    fn planted_indicators_reach_the_features() {
        let plan = Plan::new(40, 3, 0.5, 7);
        let dir = std::env::temp_dir().join(format!("graphmalw-synth-plant-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let members: Vec<usize> = (0..40).filter(|&i| plan.member[i].is_some()).take(2).collect();
        for (n, &i) in members.iter().enumerate() {
            let shape = if n == 0 { Shape::Cape } else { Shape::Cuckoo };
            let x = plan.extras(i, 7);
            let path = dir.join(format!("r{i}.json"));
            let spec = super::super::Spec {
                shape,
                size: 60 << 10,
                seed: i as u64,
                procs: 2,
            };
            super::super::write_report(&path, spec, false, Some(&x)).unwrap();
            let a = build_report(&path, &GraphConfig::default(), ReadLimits::default()).unwrap();
            let f = Features::of(&a);
            let has = |k, v: &str| f.indicators.contains(&Indicator::new(k, v));
            for m in &x.mutexes {
                assert!(has(IndicatorKind::Mutex, m), "mutex {m}");
            }
            for d in &x.domains {
                assert!(has(IndicatorKind::Domain, d), "domain {d}");
            }
            for ip in &x.ips {
                assert!(has(IndicatorKind::Ip, ip), "ip {ip}");
            }
            for (sha, _, _) in &x.dropped {
                assert!(has(IndicatorKind::Dropped, sha), "dropped {sha}");
            }
            for act in &x.acts {
                match act {
                    Act::OpenFile(p) => assert!(has(IndicatorKind::File, p), "file {p}"),
                    Act::OpenKey(k) => assert!(has(IndicatorKind::Registry, k), "key {k}"),
                    Act::Api(api) => assert!(f.apis.contains(&api.to_lowercase()), "api {api}"),
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
