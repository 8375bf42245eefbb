//! `graphmalw-synth`: the benchmark's helper, a workspace member of its own
//! outside the product crate (it uses only graphmalw's public library). Not
//! part of the user-facing tool; `bench/run` drives the binary (`src/main.rs`,
//! which calls [`main`]), and the interruption tests of `tests/integration`
//! call [`cmd_corpus`] for their synthetic corpus.
//!
//! * `gen` / `corpus`: seeded, deterministic synthetic Cuckoo 2.x and CAPEv2
//!   reports of a chosen size, with a realistic call mix (loader APIs,
//!   file/registry handles that are opened, used, closed and reused, process
//!   targets, failed calls, repeats, other categories with big buffers) and
//!   big sections the graph never reads (`static`, `strings`, `network`
//!   flows, `debug`, `procmemory`…).
//! * `parse-only`: the target-1 baseline, parsing files with serde_json into
//!   `IgnoredAny` on one thread (read whole, gunzip, parse).
//! * `campaigns`: the campaigns of graphmalw's correlation library
//!   (`graphmalw::correlate`: safelist, rare shared indicators, union-find)
//!   over built reports, without a database: `bench/scale` scores them
//!   against the planted truth.
//! * `cypher`: one read statement, its rows as JSON (`bench/scale` reads
//!   the campaigns `graphmalw correlate` writes with it).
//! * `write`: the target-4 baselines, writing the rows `graphmalw ingest`
//!   would write, built beforehand, as `UNWIND` batches over one connection
//!   (`--mode unwind`) or as one `MERGE` statement per node/relationship
//!   (`--mode merge`).
//!
//! The only randomness is a SplitMix64 generator seeded from `--seed`, so a
//! corpus is the same bytes on every machine.

mod plant;

use anyhow::{bail, Context, Result};
use graphmalw::model::GraphConfig;
use graphmalw::pipeline::{build_report, find_reports};
use graphmalw::report::ReadLimits;
use graphmalw::store::{analysis_rows, schema_statements, Label, Params, Property, Rel, Row, Rows};
use std::fmt::Write as _;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

const USAGE: &str = "\
usage:
  graphmalw-synth gen --shape cape|cuckoo --size BYTES [--seed N] [--gzip] [--procs N] -o FILE
  graphmalw-synth corpus --count N --size BYTES [--seed N] [--shape cape|cuckoo|mix] [--gzip]
                        [--campaigns K [--planted SHARE]] -o DIR
      (--campaigns: K planted families over SHARE (0.5) of the reports, truth in DIR/truth.tsv)
  graphmalw-synth parse-only PATH...
  graphmalw-synth write --mode unwind|merge|merge-tx [--batch N] [--limit ROWS] [--schema] PATH...
  graphmalw-synth campaigns [--max-share S] [--max-df N] [--min-weight W] [--min-shared K]
                           [--min-similarity S] [--holders FILE] (PATH... | --from-holders FILE)
      (the library's campaigns (src/correlate) over the built reports, no database, as JSON;
       --holders also writes each indicator and its holders as TSV, --from-holders reads that
       instead of building reports)
  graphmalw-synth cypher [--timeout SECS] STATEMENT
      (write, cypher: NEO4J_URI, NEO4J_USERNAME, NEO4J_PASSWORD, NEO4J_DATABASE;
       cypher prints the rows as a JSON array: bench/scale reads campaigns with it)
sizes accept K, M, G suffixes (powers of 1024).";

/// The command line (see `USAGE`): runs one subcommand and exits the process
/// with 0, 1 on an error, or 2 on a usage error.
pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("gen") => cmd_gen(&args[1..]),
        Some("corpus") => cmd_corpus(&args[1..]),
        Some("parse-only") => cmd_parse_only(&args[1..]),
        Some("write") => cmd_write(&args[1..]),
        Some("cypher") => cmd_cypher(&args[1..]),
        Some("campaigns") => cmd_campaigns(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = r {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------- options

struct Opts {
    flags: Vec<(String, Option<String>)>,
    positional: Vec<String>,
}

impl Opts {
    fn parse(args: &[String], with_value: &[&str]) -> Result<Opts> {
        let mut flags = Vec::new();
        let mut positional = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if a.starts_with('-') && a.len() > 1 {
                if with_value.contains(&a.as_str()) {
                    let v = it.next().with_context(|| format!("{a} needs a value"))?;
                    flags.push((a.clone(), Some(v.clone())));
                } else {
                    flags.push((a.clone(), None));
                }
            } else {
                positional.push(a.clone());
            }
        }
        Ok(Opts { flags, positional })
    }
    fn value(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }
    fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == name)
    }
    fn num(&self, name: &str, default: u64) -> Result<u64> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => parse_size(v).with_context(|| format!("{name} {v}")),
        }
    }
}

fn parse_size(s: &str) -> Result<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n: f64 = num.parse().context("not a number")?;
    Ok((n * mult as f64) as u64)
}

// ---------------------------------------------------------------- PRNG

/// SplitMix64: tiny, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.next() >> 11) % n.max(1) as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Skewed towards the front: a few entries are very common, most are rare.
    fn skewed(&mut self, n: usize) -> usize {
        let u = self.unit();
        ((u * u * u) * n as f64) as usize % n.max(1)
    }
    /// More skewed still: most draws hit a few dozen entries.
    fn skewed4(&mut self, n: usize) -> usize {
        let u = self.unit();
        ((u * u * u * u) * n as f64) as usize % n.max(1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// A dotted IPv4 address whose first byte is in `first..first + span`.
    fn ipv4(&mut self, first: usize, span: usize) -> String {
        format!(
            "{}.{}.{}.{}",
            first + self.below(span),
            self.below(256),
            self.below(256),
            1 + self.below(254)
        )
    }
    fn hex(&mut self, digits: usize) -> String {
        let mut s = String::with_capacity(digits);
        while s.len() < digits {
            let _ = write!(s, "{:016x}", self.next());
        }
        s.truncate(digits);
        s
    }
}

// ---------------------------------------------------------------- vocabulary

const DLLS: &[&str] = &[
    "kernel32.dll",
    "ntdll.dll",
    "advapi32.dll",
    "user32.dll",
    "gdi32.dll",
    "shell32.dll",
    "ole32.dll",
    "oleaut32.dll",
    "ws2_32.dll",
    "wininet.dll",
    "crypt32.dll",
    "rpcrt4.dll",
    "shlwapi.dll",
    "comctl32.dll",
    "msvcrt.dll",
    "sechost.dll",
    "cryptbase.dll",
    "bcrypt.dll",
    "iphlpapi.dll",
    "winhttp.dll",
    "urlmon.dll",
    "version.dll",
    "dnsapi.dll",
    "psapi.dll",
    "userenv.dll",
    "uxtheme",
    "kernelbase.dll",
    "KERNEL32",
    "ADVAPI32.dll",
    "C:\\Windows\\system32\\rpcss.dll",
    "C:\\Windows\\System32\\mswsock.dll",
];

const FUNCTIONS: &[&str] = &[
    "GetProcAddress",
    "LoadLibraryA",
    "VirtualAlloc",
    "VirtualProtect",
    "CreateFileW",
    "ReadFile",
    "WriteFile",
    "RegOpenKeyExW",
    "RegQueryValueExW",
    "IsWow64Process",
    "GetNativeSystemInfo",
    "CreateToolhelp32Snapshot",
    "Process32NextW",
    "InternetOpenA",
    "HttpSendRequestW",
    "CryptAcquireContextW",
    "CryptEncrypt",
    "FlsAlloc",
    "FlsSetValue",
    "InitializeCriticalSectionEx",
    "RegisterTraceGuidsW",
    "EncodePointer",
    "DecodePointer",
    "GetSystemTimeAsFileTime",
    "WSAStartup",
    "connect",
    "send",
    "recv",
    "GetUserNameA",
    "ShellExecuteExW",
];

const FILE_DIRS: &[&str] = &[
    "C:\\Windows\\System32\\",
    "C:\\Windows\\SysWOW64\\",
    "C:\\Users\\Rebecca\\AppData\\Local\\Temp\\",
    "C:\\Users\\Rebecca\\AppData\\Roaming\\Microsoft\\Windows\\",
    "C:\\Program Files\\Common Files\\",
    "C:\\ProgramData\\",
    "\\??\\C:\\Windows\\Globalization\\Sorting\\",
    "C:\\Users\\Rebecca\\Documents\\",
    "\\Device\\",
    "C:\\MSOCache\\All Users\\{90140000-0011-0000-0000-0000000FF1CE}-C\\",
];

const FILE_EXTS: &[&str] = &[
    ".dll", ".exe", ".log", ".tmp", ".dat", ".nls", ".mui", ".xml", ".ini", "",
];

const KEY_ROOTS: &[&str] = &[
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\",
    "HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Control\\",
    "HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\",
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Classes\\CLSID\\",
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\",
    "HKEY_CURRENT_USER\\Software\\Classes\\",
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Microsoft\\",
];

const PROC_NAMES: &[&str] = &[
    "sample.exe",
    "cmd.exe",
    "powershell.exe",
    "rundll32.exe",
    "svchost.exe",
    "explorer.exe",
    "regsvr32.exe",
    "wmiprvse.exe",
    "conhost.exe",
    "dllhost.exe",
];

struct Vocab {
    files: Vec<String>,
    keys: Vec<String>,
    dlls: Vec<String>,
    functions: Vec<String>,
}

impl Vocab {
    fn new(rng: &mut Rng) -> Vocab {
        let mut files = Vec::new();
        for i in 0..400 {
            let dir = rng.pick(FILE_DIRS);
            let ext = rng.pick(FILE_EXTS);
            files.push(format!(
                "{dir}{}_{i}{ext}",
                rng.pick(&["data", "cache", "msvcp", "setup", "Zones", "f"])
            ));
        }
        let mut keys = Vec::new();
        for i in 0..800 {
            let root = rng.pick(KEY_ROOTS);
            keys.push(format!(
                "{root}{}\\{}{i}",
                rng.pick(&[
                    "Explorer",
                    "Internet Settings",
                    "Nls",
                    "Session Manager",
                    "Run",
                    "Policies"
                ]),
                rng.pick(&["Value", "Setting", "{", "Locale"])
            ));
        }
        let mut dlls: Vec<String> = DLLS.iter().map(|s| s.to_string()).collect();
        for i in 0..40 {
            dlls.push(format!(
                "api-ms-win-core-{}-l1-1-{}.dll",
                ["file", "heap", "synch", "registry", "string"][i % 5],
                i
            ));
        }
        let mut functions: Vec<String> = FUNCTIONS.iter().map(|s| s.to_string()).collect();
        for i in 0..600 {
            functions.push(format!(
                "{}{}{i}",
                rng.pick(&["Nt", "Rtl", "Get", "Set", "Create", "Query"]),
                rng.pick(&["Object", "Value", "Info", "Ex", "W", "A"])
            ));
        }
        Vocab {
            files,
            keys,
            dlls,
            functions,
        }
    }
}

// ---------------------------------------------------------------- JSON writing

/// Appends JSON text; strings are escaped as serde_json would.
struct J(Vec<u8>);

impl J {
    fn raw(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }
    fn str(&mut self, s: &str) {
        self.0.push(b'"');
        for &b in s.as_bytes() {
            match b {
                b'"' => self.0.extend_from_slice(b"\\\""),
                b'\\' => self.0.extend_from_slice(b"\\\\"),
                b'\n' => self.0.extend_from_slice(b"\\n"),
                b'\r' => self.0.extend_from_slice(b"\\r"),
                b'\t' => self.0.extend_from_slice(b"\\t"),
                0..=0x1f => {
                    let _ = write!(self.0, "\\u{:04x}", b);
                }
                _ => self.0.push(b),
            }
        }
        self.0.push(b'"');
    }
    fn key(&mut self, k: &str) {
        self.str(k);
        self.0.extend_from_slice(b": ");
    }
    fn kv_str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.str(v);
    }
    fn kv_raw(&mut self, k: &str, v: &str) {
        self.key(k);
        self.raw(v);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Cape,
    Cuckoo,
}

/// An argument value: CAPE writes everything as strings, Cuckoo uses numbers.
#[derive(Clone)]
enum V {
    S(String),
    Hex(u64),
    I(i64),
}

/// One call before it is written in the shape's names.
#[derive(Clone)]
struct SynCall {
    api: &'static str,
    category: &'static str,
    /// (cuckoo name, cape name, value); a `None` name leaves the argument out of that shape.
    args: Vec<(Option<&'static str>, Option<&'static str>, V)>,
    failed: bool,
    ret: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum HKind {
    File,
    Key,
}

struct ProcGen {
    pid: i64,
    /// Open handles: (kind, value, path index).
    open: Vec<(HKind, u64, usize)>,
    /// Closed values, reused first (as Windows does).
    free: Vec<u64>,
    next_handle: u64,
    tid: i64,
}

impl ProcGen {
    fn alloc(&mut self) -> u64 {
        if let Some(v) = self.free.pop() {
            return v;
        }
        self.next_handle += 4;
        self.next_handle
    }
}

struct Gen<'v> {
    rng: Rng,
    shape: Shape,
    vocab: &'v Vocab,
    pids: Vec<i64>,
    call_id: u64,
    time: f64,
}

/// A logged buffer as monitors print them: mostly text, sometimes binary
/// with non-printable bytes as `\xNN` (calibrated on the real fixtures:
/// about 20 backslashes per KB of report).
fn buffer(rng: &mut Rng, n: usize) -> String {
    const WORDS: &[&str] = &[
        "the ",
        "data ",
        "<?xml ",
        "version=",
        "\"1.0\" ",
        "http://",
        "www.",
        "example",
        ".com/",
        "GET ",
        "/index",
        "HTTP/1.1\r\n",
        "Host: ",
        "User-Agent: ",
        "Mozilla/5.0 ",
        "[pafish] ",
        "config ",
        "= ",
        "true; ",
        "0x",
    ];
    let mut s = String::with_capacity(n + 16);
    if rng.chance(0.85) {
        while s.len() < n {
            let w: &str = rng.pick::<&str>(WORDS);
            s.push_str(w);
        }
    } else {
        for _ in 0..n {
            let b = rng.below(256) as u8;
            if (0x20..0x7f).contains(&b) && b != b'\\' && b != b'"' || rng.chance(0.5) {
                s.push((b'a' + b % 26) as char);
            } else {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s
}

impl Gen<'_> {
    fn file(&mut self) -> usize {
        self.rng.skewed4(self.vocab.files.len())
    }
    fn key(&mut self) -> usize {
        self.rng.skewed4(self.vocab.keys.len())
    }
    fn dll(&mut self) -> String {
        self.vocab.dlls[self.rng.skewed(self.vocab.dlls.len())].clone()
    }

    /// A registry open (one of four APIs) of `path` giving key handle `v`.
    fn key_open(&mut self, c: &mut SynCall, v: u64, path: String) {
        let (api, cat) = *self.rng.pick(&[
            ("RegOpenKeyExW", "registry"),
            ("NtOpenKey", "registry"),
            ("NtOpenKeyEx", "registry"),
            ("RegCreateKeyExW", "registry"),
        ]);
        c.api = api;
        c.category = cat;
        if api.starts_with("Reg") {
            c.args
                .push((Some("base_handle"), Some("Registry"), V::Hex(0x8000_0002)));
            let sub = path.split_once('\\').map_or("", |x| x.1).to_owned();
            c.args.push((Some("regkey_r"), Some("SubKey"), V::S(sub)));
            c.args.push((Some("key_handle"), Some("Handle"), V::Hex(v)));
            c.args.push((Some("regkey"), Some("FullName"), V::S(path)));
            c.args.push((Some("options"), None, V::I(0)));
            c.args.push((Some("access"), None, V::Hex(0x20019)));
        } else {
            c.args.push((Some("key_handle"), Some("KeyHandle"), V::Hex(v)));
            c.args
                .push((Some("desired_access"), Some("DesiredAccess"), V::Hex(0x20019)));
            c.args.push((None, Some("ObjectAttributesHandle"), V::Hex(0)));
            c.args.push((
                None,
                Some("ObjectAttributesName"),
                V::S(format!("\\Registry\\Machine\\{}", path)),
            ));
            c.args.push((Some("regkey"), Some("ObjectAttributes"), V::S(path)));
        }
    }

    /// A file open (`NtCreateFile` or `NtOpenFile`) of `path` giving file handle `v`.
    fn file_open(&mut self, c: &mut SynCall, v: u64, path: String) {
        c.api = *self.rng.pick(&["NtCreateFile", "NtOpenFile", "NtCreateFile"]);
        c.category = "file";
        c.args.push((Some("file_handle"), Some("FileHandle"), V::Hex(v)));
        c.args
            .push((Some("desired_access"), Some("DesiredAccess"), V::Hex(0x0010_0080)));
        c.args.push((Some("filepath"), Some("FileName"), V::S(path.clone())));
        c.args
            .push((Some("create_disposition"), Some("CreateDisposition"), V::I(1)));
        c.args.push((Some("share_access"), Some("ShareAccess"), V::I(3)));
        c.args
            .push((Some("file_attributes"), Some("FileAttributes"), V::Hex(0x80)));
        c.args.push((
            Some("filepath_r"),
            None,
            V::S(path.rsplit('\\').next().unwrap_or("").to_owned()),
        ));
    }

    /// The next call of process `p`, in the mix seen in real CAPE reports.
    fn call(&mut self, p: &mut ProcGen) -> SynCall {
        let r = self.rng.unit();
        let failed = self.rng.chance(0.08);
        let mut c = SynCall {
            api: "",
            category: "system",
            args: Vec::new(),
            failed,
            ret: if failed { 0xc000_0034 } else { 0 },
        };
        let open_of = |p: &ProcGen, rng: &mut Rng, k: HKind| {
            let of: Vec<_> = p.open.iter().filter(|h| h.0 == k).copied().collect();
            if of.is_empty() {
                None
            } else {
                Some(of[of.len() - 1 - rng.skewed(of.len())])
            }
        };
        if r < 0.28 {
            // NtClose: of an open handle mostly.
            c.api = "NtClose";
            let h = if !p.open.is_empty() && self.rng.chance(0.85) {
                let i = p.open.len() - 1 - self.rng.skewed(p.open.len());
                let (_, v, _) = p.open.remove(i);
                if !c.failed {
                    p.free.push(v);
                }
                v
            } else {
                0x100 + 4 * self.rng.below(200) as u64
            };
            c.args.push((Some("handle"), Some("Handle"), V::Hex(h)));
        } else if r < 0.35 {
            // Registry open → a key handle.
            let k = self.key();
            let path = self.vocab.keys[k].clone();
            let v = p.alloc();
            self.key_open(&mut c, v, path);
            if !c.failed {
                p.open.push((HKind::Key, v, k));
            } else {
                p.free.push(v);
            }
        } else if r < 0.49 {
            // Registry use of an open key.
            let (v, k) = match open_of(p, &mut self.rng, HKind::Key) {
                Some((_, v, k)) => (v, k),
                None => (0, self.key()),
            };
            let path = self.vocab.keys[k].clone();
            let (api, close) = *self.rng.pick(&[
                ("RegQueryValueExW", false),
                ("NtQueryValueKey", false),
                ("RegEnumValueW", false),
                ("NtEnumerateValueKey", false),
                ("RegSetValueExW", false),
                ("NtQueryKey", false),
                ("RegCloseKey", true),
                ("RegCloseKey", true),
            ]);
            c.api = api;
            c.category = "registry";
            let reg = api.starts_with("Reg");
            c.args.push((
                Some("key_handle"),
                Some(if reg { "Handle" } else { "KeyHandle" }),
                V::Hex(v),
            ));
            if !close {
                let value = self
                    .rng
                    .pick(&["(Default)", "Locale", "ProxyEnable", "Shell", "Version"])
                    .to_string();
                c.args.push((Some("key_name"), Some("ValueName"), V::S(value.clone())));
                c.args
                    .push((Some("regkey"), Some("FullName"), V::S(format!("{path}\\{value}"))));
                c.args.push((Some("reg_type"), Some("Type"), V::I(1)));
                let n = 4 + self.rng.below(40);
                let data = buffer(&mut self.rng, n);
                c.args.push((Some("value"), Some("Data"), V::S(data)));
            } else if !c.failed {
                if let Some(i) = p.open.iter().position(|h| h.0 == HKind::Key && h.1 == v) {
                    p.open.remove(i);
                    p.free.push(v);
                }
            }
        } else if r < 0.52 {
            // File open → a file handle.
            let f = self.file();
            let path = self.vocab.files[f].clone();
            let v = p.alloc();
            self.file_open(&mut c, v, path);
            if !c.failed {
                p.open.push((HKind::File, v, f));
            } else {
                p.free.push(v);
            }
        } else if r < 0.56 {
            // File use of an open file.
            let (v, f) = match open_of(p, &mut self.rng, HKind::File) {
                Some((_, v, f)) => (v, f),
                None => (0x4000 + 4 * self.rng.below(100) as u64, self.file()),
            };
            let path = self.vocab.files[f].clone();
            c.api = *self.rng.pick(&[
                "NtReadFile",
                "NtWriteFile",
                "NtQueryInformationFile",
                "NtSetInformationFile",
                "NtReadFile",
            ]);
            c.category = "file";
            c.args.push((Some("file_handle"), Some("FileHandle"), V::Hex(v)));
            c.args.push((Some("filepath"), Some("HandleName"), V::S(path)));
            if c.api == "NtReadFile" || c.api == "NtWriteFile" {
                let n = 8 + self.rng.skewed(512);
                let b = buffer(&mut self.rng, n);
                c.args.push((Some("buffer"), Some("Buffer"), V::S(b)));
                c.args.push((Some("length"), Some("Length"), V::I(n as i64)));
                c.args.push((Some("offset"), None, V::I(0)));
            } else {
                c.args
                    .push((Some("information_class"), Some("FileInformationClass"), V::I(5)));
            }
        } else if r < 0.62 {
            // LdrGetProcedureAddress: a function, from the DLL that exports it.
            let fi = self.rng.skewed4(self.vocab.functions.len());
            let dll = self.vocab.dlls[fi * 7 % self.vocab.dlls.len()].clone();
            c.api = if self.shape == Shape::Cape && self.rng.chance(0.3) {
                "LdrGetProcedureAddressForCaller"
            } else {
                "LdrGetProcedureAddress"
            };
            let by_ordinal = fi % 37 == 5;
            let f = if by_ordinal {
                String::new()
            } else {
                self.vocab.functions[fi].clone()
            };
            c.args.push((Some("module"), Some("ModuleName"), V::S(dll)));
            c.args
                .push((Some("module_address"), Some("ModuleHandle"), V::Hex(0x75c6_0000)));
            c.args.push((Some("function_name"), Some("FunctionName"), V::S(f)));
            c.args.push((
                Some("ordinal"),
                Some("Ordinal"),
                V::I(if by_ordinal { 1 + (fi % 300) as i64 } else { 0 }),
            ));
            c.args.push((
                Some("function_address"),
                Some("FunctionAddress"),
                V::Hex(0x7793_0000 + self.rng.below(65536) as u64),
            ));
        } else if r < 0.635 {
            c.api = "LdrGetDllHandle";
            let dll = self.dll();
            c.args.push((Some("module_name"), Some("FileName"), V::S(dll)));
            c.args
                .push((Some("module_address"), Some("ModuleHandle"), V::Hex(0x7600_0000)));
        } else if r < 0.645 {
            c.api = "LdrLoadDll";
            let dll = self.dll();
            c.args.push((Some("flags"), Some("Flags"), V::Hex(0)));
            c.args.push((Some("basename"), Some("FileName"), V::S(dll.clone())));
            c.args
                .push((Some("module_address"), Some("BaseAddress"), V::Hex(0x0039_af70)));
            c.args.push((Some("module_name"), None, V::S(dll)));
        } else if r < 0.647 {
            c.api = "LdrUnloadDll";
            let dll = self.dll();
            c.args.push((Some("library"), Some("FileName"), V::S(dll)));
            c.args
                .push((Some("module_address"), Some("ModuleHandle"), V::Hex(0x7600_0000)));
        } else if r < 0.662 {
            // Process targets.
            c.category = "process";
            let target = if self.rng.chance(0.3) {
                p.pid
            } else if self.rng.chance(0.5) {
                *self.rng.pick(&self.pids)
            } else {
                4 * (100 + self.rng.below(900)) as i64
            };
            c.api = *self.rng.pick(&[
                "NtOpenProcess",
                "NtOpenProcess",
                "CreateProcessInternalW",
                "NtTerminateProcess",
            ]);
            c.args.push((
                Some("process_handle"),
                Some("ProcessHandle"),
                V::Hex(0x600 + 4 * self.rng.below(30) as u64),
            ));
            c.args
                .push((Some("desired_access"), Some("DesiredAccess"), V::Hex(0x400)));
            let pid_value = if self.shape == Shape::Cape {
                V::S(target.to_string())
            } else {
                V::I(target)
            };
            c.args.push((Some("process_identifier"), Some("ProcessId"), pid_value));
            if c.api == "CreateProcessInternalW" {
                let exe = format!("C:\\Windows\\system32\\{}", self.rng.pick(PROC_NAMES));
                c.args
                    .push((Some("filepath"), Some("ApplicationName"), V::S(exe.clone())));
                c.args.push((
                    Some("command_line"),
                    Some("CommandLine"),
                    V::S(format!("{exe} -Embedding")),
                ));
            }
        } else if r < 0.732 {
            // Memory: mostly no link; some carry the target pid (Cuckoo does).
            c.category = "process";
            c.api = *self.rng.pick(&[
                "NtAllocateVirtualMemory",
                "NtProtectVirtualMemory",
                "NtFreeVirtualMemory",
                "NtMapViewOfSection",
                "NtWriteVirtualMemory",
            ]);
            c.args
                .push((Some("process_handle"), Some("ProcessHandle"), V::Hex(0xffff_ffff)));
            c.args.push((
                Some("base_address"),
                Some("BaseAddress"),
                V::Hex(0x0040_0000 + 4096 * self.rng.below(4096) as u64),
            ));
            c.args.push((
                Some("region_size"),
                Some("RegionSize"),
                V::Hex(4096 * (1 + self.rng.below(64)) as u64),
            ));
            c.args.push((Some("protection"), Some("Protection"), V::Hex(0x40)));
            if self.shape == Shape::Cuckoo && self.rng.chance(0.3) {
                c.args.push((Some("process_identifier"), None, V::I(p.pid)));
            }
        } else if r < 0.822 {
            c.category = "system";
            c.api = *self.rng.pick(&[
                "NtDelayExecution",
                "GetSystemTimeAsFileTime",
                "NtQuerySystemInformation",
                "GetSystemMetrics",
                "NtQueryLicenseValue",
            ]);
            c.args.push((
                Some("milliseconds"),
                Some("Milliseconds"),
                V::I(self.rng.below(1000) as i64),
            ));
        } else {
            // Categories the graph ignores, some with big buffers.
            let (api, cat) = *self.rng.pick(&[
                ("CoCreateInstance", "com"),
                ("WriteConsoleA", "misc"),
                ("GetCursorPos", "misc"),
                ("NtWaitForSingleObject", "synchronization"),
                ("NtCreateThreadEx", "threading"),
                ("DeviceIoControl", "device"),
                ("getaddrinfo", "network"),
                ("CryptHashData", "crypto"),
                ("InternetReadFile", "network"),
                ("FindWindowA", "ui"),
            ]);
            c.api = api;
            c.category = if self.shape == Shape::Cuckoo && cat == "synchronization" {
                "synchronisation"
            } else {
                cat
            };
            let n = 4 + self.rng.skewed(384);
            let b = buffer(&mut self.rng, n);
            c.args.push((Some("buffer"), Some("Buffer"), V::S(b)));
            c.args.push((
                Some("handle"),
                Some("Handle"),
                V::Hex(0x200 + 4 * self.rng.below(50) as u64),
            ));
        }
        c
    }

    fn write_call(&mut self, j: &mut J, c: &SynCall, p: &ProcGen) {
        self.time += 0.000_7;
        self.call_id += 1;
        let caller = 0x7797_0000 + (self.call_id * 37) % 65536;
        match self.shape {
            Shape::Cape => {
                j.raw("{");
                let secs = self.time as u64;
                j.kv_str(
                    "timestamp",
                    &format!(
                        "2023-10-14 12:{:02}:{:02},{:03}",
                        (secs / 60) % 60,
                        secs % 60,
                        (self.time.fract() * 1000.0) as u64
                    ),
                );
                j.raw(", ");
                j.kv_str("thread_id", &p.tid.to_string());
                j.raw(", ");
                j.kv_str("caller", &format!("0x{caller:08x}"));
                j.raw(", ");
                j.kv_str("parentcaller", &format!("0x{:08x}", caller ^ 0x5a5a));
                j.raw(", ");
                j.kv_str("category", if c.category == "file" { "filesystem" } else { c.category });
                j.raw(", ");
                j.kv_str("api", c.api);
                j.raw(", ");
                j.kv_raw("status", if c.failed { "false" } else { "true" });
                j.raw(", ");
                j.kv_str("return", &format!("0x{:08x}", c.ret));
                if c.failed {
                    j.raw(", ");
                    j.kv_str("pretty_return", "OBJECT_NAME_NOT_FOUND");
                }
                j.raw(", ");
                j.key("arguments");
                j.raw("[");
                let mut first = true;
                for (_, name, v) in &c.args {
                    let Some(name) = name else { continue };
                    if !first {
                        j.raw(", ");
                    }
                    first = false;
                    j.raw("{");
                    j.kv_str("name", name);
                    j.raw(", ");
                    j.key("value");
                    match v {
                        V::S(s) => j.str(s),
                        V::Hex(h) => j.str(&format!("0x{h:08x}")),
                        V::I(i) => j.str(&i.to_string()),
                    }
                    j.raw("}");
                }
                j.raw("], ");
                j.kv_raw("repeated", "0");
                j.raw(", ");
                j.kv_raw("id", &self.call_id.to_string());
                j.raw("}");
            }
            Shape::Cuckoo => {
                j.raw("{");
                j.kv_str("category", c.category);
                j.raw(", ");
                j.kv_raw("status", if c.failed { "0" } else { "1" });
                j.raw(", ");
                j.kv_raw("stacktrace", "[]");
                j.raw(", ");
                if c.failed {
                    j.kv_raw("last_error", "2");
                    j.raw(", ");
                    j.kv_raw("nt_status", "-1073741772");
                    j.raw(", ");
                }
                j.kv_str("api", c.api);
                j.raw(", ");
                j.kv_raw("return_value", &c.ret.to_string());
                j.raw(", ");
                j.key("arguments");
                j.raw("{");
                let mut first = true;
                for (name, _, v) in &c.args {
                    let Some(name) = name else { continue };
                    if !first {
                        j.raw(", ");
                    }
                    first = false;
                    j.key(name);
                    match v {
                        V::S(s) => j.str(s),
                        V::Hex(h) => j.str(&format!("0x{h:08x}")),
                        V::I(i) => j.raw(&i.to_string()),
                    }
                }
                j.raw("}, ");
                j.kv_raw("time", &format!("{:.5}", 1_584_891_710.0 + self.time));
                j.raw(", ");
                j.kv_raw("tid", &p.tid.to_string());
                j.raw(", ");
                j.kv_raw(
                    "flags",
                    if c.category == "file" {
                        "{\"desired_access\": \"FILE_READ_ATTRIBUTES|SYNCHRONIZE\"}"
                    } else {
                        "{}"
                    },
                );
                j.raw("}");
            }
        }
    }
}

/// Filler the graph never reads: `n` bytes worth of realistic-looking data.
fn unused_sections(j: &mut J, rng: &mut Rng, shape: Shape, budget: usize, vocab: &Vocab) {
    let start = j.0.len();
    let quarter = budget / 4;
    // static: PE imports and sections.
    j.raw("\"static\": {\"pe_imports\": [");
    let mut first = true;
    while j.0.len() - start < quarter {
        if !first {
            j.raw(", ");
        }
        first = false;
        j.raw("{\"dll\": ");
        let dll: &str = rng.pick::<&str>(DLLS);
        j.str(dll);
        j.raw(", \"imports\": [");
        for i in 0..20 {
            if i > 0 {
                j.raw(", ");
            }
            j.raw("{\"name\": ");
            let f = &vocab.functions[rng.below(vocab.functions.len())];
            j.str(f);
            j.raw(&format!(", \"address\": \"0x{:x}\"}}", 0x40c2a8 + 4 * rng.below(4096)));
        }
        j.raw("]}");
    }
    j.raw("], \"pe_sections\": [{\"name\": \".text\", \"entropy\": 6.5, \"virtual_address\": \"0x00001000\"}]}, ");
    // strings
    j.raw("\"strings\": [");
    let mut first = true;
    while j.0.len() - start < 2 * quarter {
        if !first {
            j.raw(", ");
        }
        first = false;
        let n = 4 + rng.skewed(120);
        let s = buffer(rng, n);
        j.str(&s);
    }
    j.raw("], ");
    // debug log
    j.raw("\"debug\": {\"log\": [");
    let mut first = true;
    while j.0.len() - start < 3 * quarter {
        if !first {
            j.raw(", ");
        }
        first = false;
        j.str(&format!(
            "2023-10-14 12:30:{:02},{:03} [lib.cape.process] DEBUG: injected into {} ({})",
            rng.below(60),
            rng.below(1000),
            rng.pick(PROC_NAMES),
            rng.hex(8)
        ));
    }
    j.raw("], \"errors\": []}, ");
    // procmemory (CAPE) / virustotal (Cuckoo): nested objects.
    j.raw(if shape == Shape::Cape {
        "\"procmemory\": ["
    } else {
        "\"virustotal\": {\"scans\": ["
    });
    let mut first = true;
    while j.0.len() - start < budget {
        if !first {
            j.raw(", ");
        }
        first = false;
        j.raw(&format!(
            "{{\"pid\": {}, \"address\": \"0x{}\", \"yara\": [], \"strings\": [\"{}\", \"{}\"], \"size\": {}}}",
            rng.below(5000),
            rng.hex(8),
            rng.hex(24),
            rng.hex(40),
            rng.below(1 << 20)
        ));
    }
    j.raw(if shape == Shape::Cape { "], " } else { "]}, " });
}

fn network_section(j: &mut J, rng: &mut Rng, shape: Shape, flows: usize, extras: Option<&plant::Extras>) {
    let (extra_ips, extra_domains) = extras.map_or((&[][..], &[][..]), |x| (&x.ips[..], &x.domains[..]));
    j.raw("\"network\": {");
    let domains: Vec<String> = (0..5).map(|i| format!("c{i}-{}.example.net", rng.hex(6))).collect();
    let ips: Vec<String> = (0..5).map(|_| rng.ipv4(10, 200)).collect();
    j.raw("\"hosts\": [");
    for (i, ip) in ips.iter().chain(extra_ips).enumerate() {
        if i > 0 {
            j.raw(", ");
        }
        if shape == Shape::Cape {
            j.raw("{\"ip\": ");
            j.str(ip);
            j.raw(", \"country_name\": \"\", \"hostname\": \"\", \"inaddrarpa\": \"\"}");
        } else {
            j.str(ip);
        }
    }
    j.raw("], \"domains\": [");
    for (i, (d, ip)) in domains.iter().zip(&ips).enumerate() {
        if i > 0 {
            j.raw(", ");
        }
        j.raw("{\"domain\": ");
        j.str(d);
        j.raw(", \"ip\": ");
        j.str(ip);
        j.raw("}");
    }
    for d in extra_domains {
        j.raw(", {\"domain\": ");
        j.str(d);
        j.raw(", \"ip\": \"\"}");
    }
    j.raw("], \"udp\": [");
    for i in 0..flows {
        if i > 0 {
            j.raw(", ");
        }
        j.raw(&format!(
            "{{\"src\": \"192.168.56.2\", \"dst\": \"{}\", \"offset\": {}, \"time\": {:.6}, \"dport\": 53, \"sport\": {}}}",
            rng.pick(&ips),
            rng.below(1 << 20),
            rng.unit() * 100.0,
            1024 + rng.below(60000)
        ));
    }
    j.raw("], \"tcp\": [], \"http\": [], \"dns\": []}, ");
}

/// What one report is: its shape, about how many bytes, its seed and how
/// many processes it has.
#[derive(Clone, Copy)]
struct Spec {
    shape: Shape,
    size: u64,
    seed: u64,
    procs: usize,
}

/// Write one report of `spec`, with the planted `extras` if any.
fn generate(out: &mut dyn Write, spec: Spec, extras: Option<&plant::Extras>) -> Result<u64> {
    let Spec {
        shape,
        size,
        seed,
        procs,
    } = spec;
    let mut rng = Rng::new(seed);
    let vocab = Vocab::new(&mut Rng::new(0x5eed));
    let mut j = J(Vec::with_capacity(1 << 20));
    let mut written = 0u64;
    // Half the bytes in sections the graph does not use (real CAPE reports:
    // 50–90%, Cuckoo 2.x: about 70%).
    let unused = (size / 2) as usize;
    let behaviour_budget = size.saturating_sub(unused as u64 + unused as u64 / 5 + 4096);

    j.raw("{");
    let sha = rng.hex(64);
    let info = if shape == Shape::Cape {
        format!("\"info\": {{\"version\": \"2.4-CAPE\", \"started\": \"2023-10-14 14:29:49\", \"id\": {}, \"category\": \"file\", \"package\": \"exe\", \"machine\": {{\"name\": \"win7_2\", \"manager\": \"KVM\"}}}}, ", rng.below(1_000_000))
    } else {
        format!("\"info\": {{\"version\": \"2.0.7\", \"started\": 1584895321.13811, \"score\": {:.1}, \"id\": {}, \"category\": \"file\", \"package\": \"\", \"machine\": {{\"name\": \"cuckoo1\", \"manager\": \"VirtualBox\"}}}}, ", rng.unit() * 10.0, rng.below(1_000_000))
    };
    j.raw(&info);
    j.raw("\"target\": {\"category\": \"file\", \"file\": {");
    j.kv_str("name", &format!("{}.exe", &sha[..12]));
    j.raw(", ");
    j.kv_raw("size", &(100_000 + rng.below(1 << 20)).to_string());
    j.raw(", ");
    j.kv_str("md5", &rng.hex(32));
    j.raw(", ");
    j.kv_str("sha1", &rng.hex(40));
    j.raw(", ");
    j.kv_str("sha256", &sha);
    j.raw(", ");
    j.kv_str("type", "PE32 executable (GUI) Intel 80386, for MS Windows");
    j.raw(", \"yara\": []}}, ");
    unused_sections(&mut j, &mut rng, shape, unused / 2, &vocab);
    let flows = (unused / 2 / 3 / 120).max(1);
    network_section(&mut j, &mut rng, shape, flows, extras);
    if let Some(x) = extras {
        x.write_dropped(&mut j, shape);
    }
    j.raw("\"signatures\": [");
    for i in 0..6 {
        if i > 0 {
            j.raw(", ");
        }
        j.raw(&format!(
            "{{\"name\": \"sig_{}\", \"description\": \"Synthetic signature {i}\", \"severity\": {}, \"marks\": [{{\"type\": \"call\", \"pid\": 1, \"cid\": {}}}]}}",
            rng.below(40),
            1 + rng.below(3),
            rng.below(100)
        ));
    }
    j.raw("], ");
    out.write_all(&j.0)?;
    written += j.0.len() as u64;
    j.0.clear();

    // behavior
    let pids: Vec<i64> = (0..procs)
        .map(|i| 1000 + 4 * (i as i64 * 97 % 900) + 4 * rng.below(50) as i64)
        .collect();
    let mut gen = Gen {
        rng: Rng::new(seed.wrapping_mul(31).wrapping_add(7)),
        shape,
        vocab: &vocab,
        pids: pids.clone(),
        call_id: 0,
        time: 0.0,
    };
    j.raw("\"behavior\": {\"processes\": [");
    let per_proc = behaviour_budget / procs as u64;
    for (i, &pid) in pids.iter().enumerate() {
        if i > 0 {
            j.raw(", ");
        }
        let name = if i == 0 {
            format!("{}.exe", &sha[..12])
        } else {
            gen.rng.pick(PROC_NAMES).to_string()
        };
        let path = if i == 0 {
            format!("C:\\Users\\Rebecca\\AppData\\Local\\Temp\\{name}")
        } else {
            format!("C:\\Windows\\system32\\{name}")
        };
        let ppid = if i == 0 { 256 } else { pids[gen.rng.below(i)] };
        let mut p = ProcGen {
            pid,
            open: Vec::new(),
            free: Vec::new(),
            next_handle: 0x80,
            tid: pid + 4,
        };
        j.raw("{");
        match shape {
            Shape::Cape => {
                j.kv_raw("process_id", &pid.to_string());
                j.raw(", ");
                j.kv_str("process_name", &name);
                j.raw(", ");
                j.kv_raw("parent_id", &ppid.to_string());
                j.raw(", ");
                j.kv_str("module_path", &path);
                j.raw(", ");
                j.kv_str("first_seen", "2023-10-14 12:30:13,921");
                j.raw(", ");
            }
            Shape::Cuckoo => {
                // Cuckoo 2.x writes the calls before the pid (hash order).
                j.kv_str("process_path", &path);
                j.raw(", ");
            }
        }
        j.raw("\"calls\": [");
        let start = written + j.0.len() as u64;
        let mut first = true;
        let mut prev: Option<SynCall> = None;
        // Programs loop: runs of recent calls come back (with the same
        // handles), which keeps the graph's size realistic.
        let mut history: Vec<SynCall> = Vec::new();
        let mut replay: Vec<SynCall> = Vec::new();
        if let (0, Some(x)) = (i, extras) {
            for act in &x.acts {
                let v = p.alloc();
                for c in x.calls(act, (shape, p.pid, v), |c, file, path| {
                    if file {
                        gen.file_open(c, v, path)
                    } else {
                        gen.key_open(c, v, path)
                    }
                }) {
                    if !first {
                        j.raw(", ");
                    }
                    first = false;
                    gen.write_call(&mut j, &c, &p);
                }
                p.free.push(v);
            }
        }
        while written + (j.0.len() as u64) < start + per_proc {
            if replay.is_empty() && history.len() >= 16 && gen.rng.chance(0.08) {
                let len = 3 + gen.rng.below(10);
                let from = gen.rng.below(history.len() - len);
                replay.extend(history[from..from + len].iter().rev().cloned());
            }
            // Repeats (rule C3): the same call again, only the time differs.
            let c = match (prev.take(), replay.pop()) {
                (_, Some(c)) => c,
                (Some(c), None) if gen.rng.chance(0.06) => c,
                _ => gen.call(&mut p),
            };
            if history.len() == 64 {
                history.remove(0);
            }
            history.push(c.clone());
            if !first {
                j.raw(", ");
            }
            first = false;
            gen.write_call(&mut j, &c, &p);
            prev = Some(c);
            if j.0.len() > 1 << 20 {
                out.write_all(&j.0)?;
                written += j.0.len() as u64;
                j.0.clear();
            }
        }
        j.raw("]");
        match shape {
            Shape::Cape => {
                j.raw(&format!(
                    ", \"threads\": [\"{}\"], \"environ\": {{\"UserName\": \"Rebecca\", \"ComputerName\": \"WIN7\"}}}}",
                    p.tid
                ));
            }
            Shape::Cuckoo => {
                j.raw(", \"track\": true, ");
                j.kv_raw("pid", &pid.to_string());
                j.raw(", ");
                j.kv_str("process_name", &name);
                j.raw(", ");
                j.kv_str("command_line", &format!("\"{path}\""));
                j.raw(", \"modules\": [], \"time\": 1.5, ");
                j.kv_raw("tid", &p.tid.to_string());
                j.raw(", \"first_seen\": 1584891710.73425, ");
                j.kv_raw("ppid", &ppid.to_string());
                j.raw(", \"type\": \"process\"}");
            }
        }
    }
    j.raw("], \"processtree\": [], \"summary\": {");
    let mutexes: Vec<String> = (0..4).map(|i| format!("Global\\M{i}_{}", gen.rng.hex(8))).collect();
    j.raw(if shape == Shape::Cape {
        "\"mutexes\": ["
    } else {
        "\"mutex\": ["
    });
    let extra_mutexes = extras.map_or(&[][..], |x| &x.mutexes[..]);
    for (i, m) in mutexes.iter().chain(extra_mutexes).enumerate() {
        if i > 0 {
            j.raw(", ");
        }
        j.str(m);
    }
    j.raw("], \"files\": [");
    for i in 0..200 {
        if i > 0 {
            j.raw(", ");
        }
        j.str(&vocab.files[i]);
    }
    j.raw("]}}, ");
    // the rest of the unused sections after behavior, as in real reports
    let mut tail = J(Vec::new());
    unused_sections(&mut tail, &mut rng, shape, unused / 2, &vocab);
    j.raw("\"curtain\": {");
    j.0.extend_from_slice(&tail.0[..tail.0.len() - 2]);
    j.raw("}, ");
    j.kv_raw("malscore", &format!("{:.1}", rng.unit() * 10.0));
    j.raw("}\n");
    out.write_all(&j.0)?;
    written += j.0.len() as u64;
    Ok(written)
}

fn shape_of(s: &str) -> Result<Shape> {
    match s {
        "cape" => Ok(Shape::Cape),
        "cuckoo" => Ok(Shape::Cuckoo),
        other => bail!("unknown shape {other:?} (cape or cuckoo)"),
    }
}

fn write_report(path: &Path, spec: Spec, gzip: bool, extras: Option<&plant::Extras>) -> Result<u64> {
    let f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    if gzip {
        let mut enc = flate2::write::GzEncoder::new(BufWriter::with_capacity(1 << 20, f), flate2::Compression::fast());
        let n = generate(&mut enc, spec, extras)?;
        enc.finish()?.flush()?;
        Ok(n)
    } else {
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let n = generate(&mut w, spec, extras)?;
        w.flush()?;
        Ok(n)
    }
}

fn cmd_gen(args: &[String]) -> Result<()> {
    let o = Opts::parse(args, &["--shape", "--size", "--seed", "--procs", "-o"])?;
    let shape = shape_of(o.value("--shape").unwrap_or("cape"))?;
    let size = o.num("--size", 1 << 20)?;
    let seed = o.num("--seed", 1)?;
    let procs = o.num("--procs", 4)?.max(1) as usize;
    let out = o.value("-o").context("-o FILE is needed")?;
    let spec = Spec {
        shape,
        size,
        seed,
        procs,
    };
    let n = write_report(Path::new(out), spec, o.has("--gzip"), None)?;
    eprintln!("{out}: {n} bytes of JSON");
    Ok(())
}

/// `corpus`, given its arguments after the subcommand name (`--count N
/// --size BYTES [--seed N] [--shape cape|cuckoo|mix] [--gzip] [--campaigns K
/// [--planted SHARE]] -o DIR`). With `--campaigns`, K families are planted
/// (module `plant`) and `DIR/truth.tsv` says which report is in which.
pub fn cmd_corpus(args: &[String]) -> Result<()> {
    let o = Opts::parse(
        args,
        &[
            "--count",
            "--size",
            "--seed",
            "--shape",
            "--campaigns",
            "--planted",
            "-o",
        ],
    )?;
    let count = o.num("--count", 10)?;
    let size = o.num("--size", 200 << 10)?;
    let seed = o.num("--seed", 1)?;
    let mix = o.value("--shape").unwrap_or("mix");
    let dir = PathBuf::from(o.value("-o").context("-o DIR is needed")?);
    std::fs::create_dir_all(&dir)?;
    let gzip = o.has("--gzip");
    let plan = match o.value("--campaigns") {
        None => None,
        Some(k) => {
            let k: usize = k.parse().with_context(|| format!("--campaigns {k}"))?;
            let share: f64 = o.value("--planted").unwrap_or("0.5").parse().context("--planted")?;
            Some(plant::Plan::new(count as usize, k, share, seed))
        }
    };
    let mut truth = String::new();
    let mut total = 0;
    for i in 0..count {
        let mut rng = Rng::new(seed.wrapping_mul(1_000_003).wrapping_add(i));
        let shape = match mix {
            "mix" => {
                if i % 2 == 0 {
                    Shape::Cape
                } else {
                    Shape::Cuckoo
                }
            }
            s => shape_of(s)?,
        };
        // Sizes vary around the requested one (0.25x to 1.75x).
        let this = (size as f64 * (0.25 + 1.5 * rng.unit())) as u64;
        let procs = 1 + rng.below(5);
        let name = format!(
            "{}-{:05}.json{}",
            if shape == Shape::Cape { "cape" } else { "cuckoo" },
            i,
            if gzip { ".gz" } else { "" }
        );
        let extras = plan.as_ref().map(|p| p.extras(i as usize, seed));
        let spec = Spec {
            shape,
            size: this,
            seed: rng.next(),
            procs,
        };
        total += write_report(&dir.join(&name), spec, gzip, extras.as_ref())?;
        if let Some(p) = &plan {
            p.truth_line(&mut truth, &name, i as usize);
        }
    }
    if plan.is_some() {
        std::fs::write(dir.join("truth.tsv"), truth)?;
    }
    eprintln!("{}: {count} reports, {total} bytes of JSON", dir.display());
    Ok(())
}

// ---------------------------------------------------------------- parse-only baseline

fn cmd_parse_only(args: &[String]) -> Result<()> {
    let paths: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
    let (found, errors) = find_reports(&paths);
    if let Some((p, e)) = errors.first() {
        bail!("{}: {e}", p.display());
    }
    let started = Instant::now();
    let mut bytes = 0u64;
    for f in &found {
        let stored = std::fs::read(&f.path)?;
        let text = if stored.starts_with(&[0x1f, 0x8b]) {
            let mut t = Vec::new();
            flate2::read::MultiGzDecoder::new(&stored[..]).read_to_end(&mut t)?;
            t
        } else {
            stored
        };
        bytes += text.len() as u64;
        let _: serde::de::IgnoredAny =
            serde_json::from_slice(&text).with_context(|| format!("{}", f.path.display()))?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "parsed {} files, {bytes} bytes in {secs:.3}s ({:.1} MB/s)",
        found.len(),
        bytes as f64 / secs / 1e6
    );
    Ok(())
}

// ---------------------------------------------------------------- write baselines

use graphmalw::sink::neo4j::{bolt, bolt_rows};

/// `MERGE (n:L {key: $key}) SET n.p = $p, …` for one row.
fn single_node_statement(label: Label) -> String {
    label.merge_with(Params::One)
}

fn single_rel_statement(rel: Rel) -> String {
    rel.merge_with(Params::One)
}

/// `campaigns [--max-share S] [--max-df N] [--min-weight W] [--min-shared K]
/// [--min-similarity S] [--holders FILE] (PATH... | --from-holders FILE)`
/// (the correlation settings, defaults as shipped): build every report, take its correlation features,
/// drop what the shipped safelist calls noise, and cluster the shared
/// indicators with the default parameters; `[{"reports": [...]}]` on stdout,
/// reports named by their path relative to the argument (as `ingest` names them).
fn cmd_campaigns(args: &[String]) -> Result<()> {
    use graphmalw::correlate::{cluster::Correlator, CorrelateSettings};
    let o = Opts::parse(
        args,
        &[
            "--max-share",
            "--max-df",
            "--min-weight",
            "--min-shared",
            "--min-similarity",
            "--holders",
            "--from-holders",
        ],
    )?;
    let mut settings = CorrelateSettings::default();
    settings.max_df = o.num("--max-df", settings.max_df as u64)? as usize;
    settings.min_shared = o.num("--min-shared", settings.min_shared.into())? as u32;
    for (flag, value) in [
        ("--max-share", &mut settings.max_share),
        ("--min-weight", &mut settings.min_weight),
        ("--min-similarity", &mut settings.min_similarity),
    ] {
        if let Some(v) = o.value(flag) {
            *value = v.parse().with_context(|| format!("{flag} {v}"))?;
        }
    }
    let (mut holders, corpus) = match o.value("--from-holders") {
        Some(file) => read_holders(Path::new(file))?,
        None => holders_of_reports(&o.positional, &settings.noise_filter()?)?,
    };
    if let Some(file) = o.value("--holders") {
        let lines: String = holders.iter().map(|(k, h)| format!("{k}\t{}\n", h.join(","))).collect();
        std::fs::write(file, lines)?;
    }
    let started = std::time::Instant::now();
    let mut c = Correlator::new(settings.cluster_params(), corpus);
    for h in holders.values_mut() {
        h.sort();
        h.dedup();
        c.add_indicator(h);
    }
    eprintln!(
        "campaigns: {} analyses, df limit {}, {} pairs share a rare indicator; clustered in {:.2}s",
        corpus,
        c.df_limit(),
        c.pair_count(),
        started.elapsed().as_secs_f64()
    );
    let out: Vec<_> = c
        .campaigns()
        .into_iter()
        .map(|c| serde_json::json!({"reports": c.members}))
        .collect();
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}

/// Each indicator (`kind:value`) the reports under `paths` hold, outside the
/// safelist, with its holders (report paths relative to their argument, as
/// `ingest` names them); and how many reports there are.
fn holders_of_reports(
    paths: &[String],
    noise: &graphmalw::correlate::safelist::NoiseFilter,
) -> Result<(std::collections::BTreeMap<String, Vec<String>>, usize)> {
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    let (found, errors) = find_reports(&paths);
    if let Some((p, e)) = errors.first() {
        bail!("{}: {e}", p.display());
    }
    let cfg = GraphConfig::default();
    let mut holders = std::collections::BTreeMap::<String, Vec<String>>::new();
    for f in &found {
        let a = build_report(&f.path, &cfg, ReadLimits::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let name = f.relative.to_string_lossy().into_owned();
        for i in graphmalw::correlate::Features::of(&a)
            .indicators
            .iter()
            .filter(|i| !noise.is_noise(i))
        {
            holders.entry(i.to_string()).or_default().push(name.clone());
        }
    }
    Ok((holders, found.len()))
}

/// What `--holders` wrote (`kind:value`, tab, comma-separated holders), and
/// how many distinct holders it names.
fn read_holders(file: &Path) -> Result<(std::collections::BTreeMap<String, Vec<String>>, usize)> {
    let text = std::fs::read_to_string(file).with_context(|| file.display().to_string())?;
    let mut holders = std::collections::BTreeMap::new();
    let mut names = std::collections::HashSet::new();
    for line in text.lines() {
        let (indicator, list) = line
            .split_once('\t')
            .with_context(|| format!("{}: {line}", file.display()))?;
        let list: Vec<String> = list.split(',').map(str::to_owned).collect();
        names.extend(list.iter().cloned());
        holders.insert(indicator.to_owned(), list);
    }
    Ok((holders, names.len()))
}

/// `cypher [--timeout SECS] STATEMENT`: the rows as a JSON array on stdout,
/// through graphmalw's own connection (settings from the environment).
fn cmd_cypher(args: &[String]) -> Result<()> {
    let o = Opts::parse(args, &["--timeout"])?;
    let [statement] = o.positional.as_slice() else {
        bail!("cypher takes one statement");
    };
    let limit = std::time::Duration::from_secs(o.num("--timeout", 600)?);
    let settings = graphmalw::settings::Settings::load(None, |_| Ok(()))?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let rows = rt.block_on(async {
        let sink = graphmalw::sink::neo4j::Neo4jSink::connect(&settings.neo4j).await?;
        let (rows, _notes) = sink.query_rows(statement, &Default::default(), limit).await?;
        anyhow::Ok(rows)
    })?;
    println!("{}", serde_json::to_string(&rows)?);
    Ok(())
}

fn cmd_write(args: &[String]) -> Result<()> {
    let o = Opts::parse(args, &["--mode", "--batch", "--limit"])?;
    let mode = o.value("--mode").unwrap_or("unwind").to_owned();
    let batch = o.num("--batch", 2000)?.max(1) as usize;
    let limit = o.num("--limit", u64::MAX)?;
    let paths: Vec<PathBuf> = o.positional.iter().map(PathBuf::from).collect();
    let (found, errors) = find_reports(&paths);
    if let Some((p, e)) = errors.first() {
        bail!("{}: {e}", p.display());
    }

    // Rows built first, outside the timed part, exactly as ingest builds them.
    let settings = graphmalw::settings::Settings::load(None, |_| Ok(()))?;
    let cfg: GraphConfig = settings.graph_config();
    let mut all = Rows::default();
    for f in &found {
        let a = build_report(&f.path, &cfg, ReadLimits::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
        all.append(analysis_rows(&a, settings.limits.max_string_len));
    }
    // --limit: keep the first rows of each list, in proportion.
    if limit < all.len() as u64 {
        let keep = limit as f64 / all.len() as f64;
        for rows in all.nodes.values_mut() {
            rows.truncate(((rows.len() as f64 * keep).ceil() as usize).max(1));
        }
        for rows in all.rels.values_mut() {
            rows.truncate(((rows.len() as f64 * keep).ceil() as usize).max(1));
        }
    }

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let neo = &settings.neo4j;
        let config = neo4rs::ConfigBuilder::default()
            .uri(neo.uri.as_str())
            .user(neo.user.as_str())
            .password(neo.password.expose())
            .db(neo.database.as_str())
            .max_connections(1)
            .build()?;
        let graph = neo4rs::Graph::connect(config)?;
        if o.has("--schema") {
            for s in schema_statements() {
                graph.run(neo4rs::query(&s)).await?;
            }
        }
        let started = Instant::now();
        let (mut nodes, mut rels) = (0u64, 0u64);
        match mode.as_str() {
            "unwind" => {
                for (label, list) in &all.nodes {
                    let stmt = label.merge_statement();
                    for chunk in list.chunks(batch) {
                        let mut txn = graph.start_txn().await?;
                        txn.run(neo4rs::query(&stmt).param("rows", bolt_rows(chunk))).await?;
                        txn.commit().await?;
                        nodes += chunk.len() as u64;
                    }
                }
                for (rel, list) in &all.rels {
                    let stmt = rel.merge_statement();
                    for chunk in list.chunks(batch) {
                        let mut txn = graph.start_txn().await?;
                        txn.run(neo4rs::query(&stmt).param("rows", bolt_rows(chunk))).await?;
                        txn.commit().await?;
                        rels += chunk.len() as u64;
                    }
                }
            }
            "merge" | "merge-tx" => {
                // One statement per row: each in its own (auto-commit)
                // transaction (`merge`), or grouped into transactions of
                // --batch statements (`merge-tx`).
                let grouped = mode == "merge-tx";
                let mut jobs: Vec<(String, &Row, bool, &[Property])> = Vec::new();
                for (label, list) in &all.nodes {
                    let stmt = single_node_statement(*label);
                    jobs.extend(list.iter().map(|r| (stmt.clone(), r, true, label.properties())));
                }
                for (rel, list) in &all.rels {
                    let stmt = single_rel_statement(*rel);
                    jobs.extend(list.iter().map(|r| (stmt.clone(), r, false, rel.properties())));
                }
                // A property a row leaves out is null, as `row.p` of an
                // UNWIND is; a `$p` the statement names must still be sent.
                let query = |stmt: &str, row: &Row, props: &[Property]| {
                    let mut q = neo4rs::query(stmt);
                    for p in props {
                        q = q.param(p.name, neo4rs::BoltType::Null(neo4rs::BoltNull));
                    }
                    for (k, v) in row {
                        q = q.param(k, bolt(v));
                    }
                    q
                };
                for chunk in jobs.chunks(if grouped { batch } else { 1 }) {
                    if grouped {
                        let mut txn = graph.start_txn().await?;
                        for (stmt, row, _, props) in chunk {
                            txn.run(query(stmt, row, props)).await?;
                        }
                        txn.commit().await?;
                    } else {
                        for (stmt, row, _, props) in chunk {
                            graph.run(query(stmt, row, props)).await?;
                        }
                    }
                    for (_, _, node, _) in chunk {
                        if *node {
                            nodes += 1;
                        } else {
                            rels += 1;
                        }
                    }
                }
            }
            other => bail!("unknown --mode {other:?} (unwind, merge or merge-tx)"),
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "wrote {nodes} node rows and {rels} relationship rows in {secs:.3}s ({:.0} rows/s)",
            (nodes + rels) as f64 / secs
        );
        Ok(())
    })
}
