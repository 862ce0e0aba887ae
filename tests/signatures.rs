//! Signed modules end to end: `wasi-hw keygen`/`sign`/`verify`/`run` against Debian's
//! `signify-openbsd` in both directions, and every refusal as one clean line with exit 1.
//! Needs target/guests/hello.wasm (scripts/build-guests.sh) and `signify-openbsd`
//! (scripts/setup.sh installs it; without it the interoperability test is skipped locally
//! and fails under CI).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn wasi_hw(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_wasi-hw"))
        .args(args)
        .output()
        .expect("spawn wasi-hw");
    assert!(
        out.status.code().is_some(),
        "wasi-hw died from a signal: {out:?}"
    );
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A temp dir with an .aot of hello (compiled here) and a keys directory.
struct Setup {
    tmp: tempfile::TempDir,
    aot: PathBuf,
    keys: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let aot = tmp.path().join("hello.aot");
    let wasm = common::guest_path("hello", "wasm");
    let o = wasi_hw(&["compile", s(&wasm), "-o", s(&aot)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let keys = tmp.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    Setup { tmp, aot, keys }
}

impl Setup {
    fn keygen(&self, name: &str, trusted: bool) -> PathBuf {
        let dir = if trusted { &self.keys } else { self.tmp.path() };
        let public = dir.join(format!("{name}.pub"));
        let secret = self.tmp.path().join(format!("{name}.sec"));
        let o = wasi_hw(&["keygen", "-p", s(&public), "-s", s(&secret), "-c", name]);
        assert!(o.status.success(), "{}", stderr(&o));
        secret
    }

    fn sign(&self, secret: &Path, file: &Path) {
        let o = wasi_hw(&["sign", "-s", s(secret), s(file)]);
        assert!(o.status.success(), "{}", stderr(&o));
    }

    fn run(&self, module: &Path, extra: &[&str]) -> Output {
        wasi_hw(&[&["run", "--keys", s(&self.keys)], extra, &[s(module)]].concat())
    }
}

/// Asserts exit status 1 and exactly one line on stderr containing every needle.
fn refused(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    for needle in needles {
        assert!(err.contains(needle), "expected {needle:?} in {err}");
    }
}

fn signify() -> Option<&'static str> {
    let found = Command::new("signify-openbsd").arg("-h").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "signify-openbsd is missing under CI: scripts/setup.sh installs it"
        );
        eprintln!(
            "signify-openbsd not installed: interoperability not tested (run scripts/setup.sh)"
        );
        return None;
    }
    Some("signify-openbsd")
}

#[test]
fn signatures_interoperate_with_signify_both_ways() {
    let Some(signify) = signify() else { return };
    let t = setup();

    // signify's key and signature, verified and run by wasi-hw.
    let sig_pub = t.keys.join("signify.pub");
    let sig_sec = t.tmp.path().join("signify.sec");
    let o = Command::new(signify)
        .args([
            "-G",
            "-n",
            "-c",
            "signify test",
            "-p",
            s(&sig_pub),
            "-s",
            s(&sig_sec),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = Command::new(signify)
        .args(["-S", "-s", s(&sig_sec), "-m", s(&t.aot)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = wasi_hw(&["verify", "--keys", s(&t.keys), s(&t.aot)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("signature verified"));
    let o = t.run(&t.aot, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("hello from wasm"));

    // wasi-hw's key and signature, verified by signify.
    let secret = t.keygen("ours", true);
    t.sign(&secret, &t.aot);
    let o = Command::new(signify)
        .args(["-V", "-p", s(&t.keys.join("ours.pub")), "-m", s(&t.aot)])
        .output()
        .unwrap();
    assert!(o.status.success(), "signify -V: {}", stderr(&o));
    // And a signify secret key used by wasi-hw sign, verified by signify.
    t.sign(&sig_sec, &t.aot);
    let o = Command::new(signify)
        .args(["-V", "-p", s(&sig_pub), "-m", s(&t.aot)])
        .output()
        .unwrap();
    assert!(o.status.success(), "signify -V: {}", stderr(&o));

    // A byte changed after signing: signify and wasi-hw both refuse.
    let mut bytes = std::fs::read(&t.aot).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&t.aot, &bytes).unwrap();
    let o = Command::new(signify)
        .args(["-V", "-p", s(&sig_pub), "-m", s(&t.aot)])
        .output()
        .unwrap();
    assert!(!o.status.success());
    refused(&t.run(&t.aot, &[]), &["bad signature"]);
}

#[test]
fn a_signed_aot_runs_and_every_refusal_is_one_line() {
    let t = setup();
    let aot = s(&t.aot);

    // Missing signature: says which file was expected, and the development way out.
    refused(
        &t.run(&t.aot, &[]),
        &[&format!("{aot}.sig is missing"), "--allow-unsigned"],
    );
    // --allow-unsigned runs it, with a warning.
    let o = t.run(&t.aot, &["--allow-unsigned"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("signature not checked"),
        "{}",
        stderr(&o)
    );

    let secret = t.keygen("dev", true);
    t.sign(&secret, &t.aot);
    let o = t.run(&t.aot, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = wasi_hw(&["verify", "--keys", s(&t.keys), aot]);
    assert!(o.status.success(), "{}", stderr(&o));

    // Signed by a key that is not in the keys directory: names the key and the directory.
    let stranger = t.keygen("stranger", false);
    t.sign(&stranger, &t.aot);
    let number = std::fs::read_to_string(format!("{aot}.sig")).unwrap();
    let number = number.lines().next().unwrap().rsplit(' ').next().unwrap();
    refused(
        &t.run(&t.aot, &[]),
        &[
            &format!("signed by key {number}"),
            "not trusted",
            s(&t.keys),
        ],
    );
    // The same from the default keys directory when --keys is not given.
    refused(
        &wasi_hw(&["run", aot]),
        &[&format!("signed by key {number}"), "/etc/wasi-hw/keys"],
    );

    // Tampered: one byte of the code changed after signing.
    t.sign(&secret, &t.aot);
    let good = std::fs::read(&t.aot).unwrap();
    let mut bytes = good.clone();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x80;
    std::fs::write(&t.aot, &bytes).unwrap();
    refused(&t.run(&t.aot, &[]), &["bad signature", "does not match"]);
    refused(
        &wasi_hw(&["verify", "--keys", s(&t.keys), aot]),
        &["bad signature"],
    );
    std::fs::write(&t.aot, &good).unwrap();

    // The signature of another file, put beside this one.
    let other = t.tmp.path().join("other.aot");
    let mut other_bytes = good.clone();
    other_bytes.push(0);
    std::fs::write(&other, &other_bytes).unwrap();
    t.sign(&secret, &other);
    std::fs::copy(format!("{}.sig", s(&other)), format!("{aot}.sig")).unwrap();
    refused(
        &t.run(&t.aot, &[]),
        &["bad signature", "made for another file, other.aot"],
    );

    // Malformed signature files.
    for (text, needle) in [
        (
            "",
            "the first line does not start with \"untrusted comment: \"",
        ),
        ("untrusted comment: x\n", "no base64 line"),
        ("untrusted comment: x\n%%%\n", "not base64"),
        (
            "untrusted comment: x\nRWQAAAAA\n",
            "not a signify/usign signature",
        ),
    ] {
        std::fs::write(format!("{aot}.sig"), text).unwrap();
        refused(&t.run(&t.aot, &[]), &[&format!("{aot}.sig: "), needle]);
    }

    // A malformed key in the keys directory is named, not skipped.
    t.sign(&secret, &t.aot);
    std::fs::write(t.keys.join("broken.pub"), "untrusted comment: x\nRWQ=\n").unwrap();
    refused(&t.run(&t.aot, &[]), &["broken.pub"]);
}

/// A directory whose every ancestor only root or this user can change (the home
/// directory's cache, usually; /tmp never is): only there is a verification remembered.
fn owner_only_base() -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata(tempfile::tempdir().unwrap().path())
        .unwrap()
        .uid();
    let home = PathBuf::from(std::env::var_os("HOME")?).join(".cache");
    std::fs::create_dir_all(&home).ok()?;
    let only_us = |d: &Path| {
        std::fs::metadata(d).is_ok_and(|m| (m.uid() == 0 || m.uid() == me) && m.mode() & 0o022 == 0)
    };
    let full = home.canonicalize().ok()?;
    full.ancestors().all(only_us).then_some(full)
}

#[test]
fn a_verified_aot_is_remembered_until_its_file_changes() {
    let t = setup();
    let Some(base) = owner_only_base() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "no directory only root or this user can change ($HOME/.cache)"
        );
        eprintln!("no directory only root or this user can change: cache not tested");
        return;
    };
    let dir = tempfile::tempdir_in(base).unwrap();
    let aot = dir.path().join("hello.aot");
    std::fs::copy(&t.aot, &aot).unwrap();
    let secret = t.keygen("dev", true);
    t.sign(&secret, &aot);
    let cache = dir.path().join("cache");
    let cached = ["--verify-cache", s(&cache)];
    let run = |cache_opts: &[&str]| {
        let args = [&["run", "--keys", s(&t.keys)], cache_opts, &[s(&aot)]].concat();
        let out = Command::new(env!("CARGO_BIN_EXE_wasi-hw"))
            .args(args)
            .env("RUST_LOG", "wasi_hw_trust=debug")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stderr(&out)
    };
    let entries = || std::fs::read_dir(&cache).map_or(0, |d| d.count());
    const REMEMBERED: &str = "verified earlier, unchanged since";

    // Written just now: verified in full and not remembered (a second write within the
    // same timestamp tick would not move the ctime).
    let err = run(&cached);
    assert!(!err.contains(REMEMBERED) && entries() == 0, "{err}");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let err = run(&cached);
    assert!(!err.contains(REMEMBERED) && entries() == 1, "{err}");
    assert!(run(&cached).contains(REMEMBERED));
    let no_cache = run(&["--no-verify-cache"]);
    assert!(!no_cache.contains(REMEMBERED), "{no_cache}");

    // Rewritten in place (same inode) with one byte changed: the ctime moved, so it is
    // checked in full and refused.
    let mut bytes = std::fs::read(&aot).unwrap();
    let n = bytes.len() - 100;
    bytes[n] ^= 1;
    std::fs::write(&aot, &bytes).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_wasi-hw"))
        .args([
            "run",
            "--keys",
            s(&t.keys),
            "--verify-cache",
            s(&cache),
            s(&aot),
        ])
        .output()
        .unwrap();
    refused(&o, &["bad signature"]);
}

#[test]
fn a_wasm_needs_a_signature_only_when_required() {
    let t = setup();
    let wasm = t.tmp.path().join("hello.wasm");
    std::fs::copy(common::guest_path("hello", "wasm"), &wasm).unwrap();
    let o = t.run(&wasm, &["--interp"]);
    assert!(o.status.success(), "{}", stderr(&o));
    refused(
        &t.run(&wasm, &["--interp", "--require-signature"]),
        &["hello.wasm.sig is missing"],
    );
    let secret = t.keygen("dev", true);
    t.sign(&secret, &wasm);
    let o = t.run(&wasm, &["--interp", "--require-signature"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // --require-signature and --allow-unsigned contradict each other.
    let o = t.run(&wasm, &["--allow-unsigned", "--require-signature"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn keys_are_not_overwritten_and_the_secret_key_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let t = setup();
    let secret = t.keygen("dev", true);
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let o = wasi_hw(&["keygen", "-p", s(&t.keys.join("dev.pub")), "-s", s(&secret)]);
    refused(&o, &["already exists"]);
    // A secret key with a passphrase (kdf rounds set) is refused with the reason.
    let text = std::fs::read_to_string(&secret).unwrap();
    let line = text.lines().nth(1).unwrap();
    let mut raw = base64_decode(line);
    raw[7] = 42;
    let locked = t.tmp.path().join("locked.sec");
    std::fs::write(
        &locked,
        format!("untrusted comment: x\n{}\n", base64_encode(&raw)),
    )
    .unwrap();
    refused(
        &wasi_hw(&["sign", "-s", s(&locked), s(&t.aot)]),
        &["locked.sec: protected by a passphrase"],
    );
}

// Minimal base64 for the test above (the crate under test is not used to build its input).
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_decode(s: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|&c| c != b'=') {
        bits = bits << 6 | B64.iter().position(|&b| b == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(v >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
