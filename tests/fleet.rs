//! Drivers through a real OCI registry: Debian's `docker-registry` (the CNCF distribution
//! server) started on loopback by each test, `wasi-hw push`/`pull` against it, and
//! `skopeo` as the independent client both ways. Installed by scripts/setup.sh.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::mqtt::{free_port, Broker, Subscriber};
use common::serve::Serve;

fn wasi_hw(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasi-hw"))
        .args(args)
        .env("RUST_LOG", "warn")
        .env("HOME", "/nonexistent") // no login of the machine's user leaks in
        .env_remove("WASI_HW_REGISTRY_CREDS")
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(o: Output) -> String {
    assert!(!o.status.success(), "expected a failure: {}", text(&o));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn guest(name: &str) -> PathBuf {
    common::guest_path(name, "wasm")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A distribution registry on a free loopback port, storage in a temporary directory.
struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    host: String,
}

impl Registry {
    fn start() -> Registry {
        Registry::start_with("")
    }

    /// `extra` is appended to the registry's YAML config (an `auth:` section, say).
    fn start_with(extra: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {host}\n{extra}",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .args(["serve", s(&config)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (Debian package docker-registry; scripts/setup.sh)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry { child, dir, host }
    }

    fn reference(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.host)
    }

    /// The file holding blob `digest` in the registry's filesystem storage.
    fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir.path().join(format!(
            "data/docker/registry/v2/blobs/sha256/{}/{hex}/data",
            &hex[..2]
        ))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A key pair made by `wasi-hw keygen`, the public key trusted in `keys/`.
struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    fn new(name: &str) -> Keys {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        let public = dir.path().join(format!("keys/{name}.pub"));
        let secret = dir.path().join(format!("{name}.sec"));
        ok(wasi_hw(&[
            "keygen",
            "-p",
            s(&public),
            "-s",
            s(&secret),
            "-c",
            name,
        ]));
        Keys { dir }
    }

    fn secret(&self) -> PathBuf {
        let entry = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "sec"))
            .unwrap();
        entry
    }

    fn keys(&self) -> PathBuf {
        self.dir.path().join("keys")
    }
}

/// Pushes the temperature driver: its x86_64 build from target/guests (taken, not
/// compiled again) and builds for `targets`.
fn push(reg: &Registry, repo_tag: &str, keys: &Keys, targets: &[&str]) -> String {
    let x86_64 = common::guest_path("temp-sensor", "aot");
    let targets = targets.join(",");
    let mut args = vec!["--aot", s(&x86_64)];
    if !targets.is_empty() {
        args.extend(["--target", &targets]);
    }
    push_args(reg, repo_tag, keys, &guest("temp-sensor"), &args)
}

fn push_file(reg: &Registry, repo_tag: &str, keys: &Keys, module: &Path, targets: &str) -> String {
    push_args(reg, repo_tag, keys, module, &["--target", targets])
}

fn push_args(reg: &Registry, repo_tag: &str, keys: &Keys, module: &Path, extra: &[&str]) -> String {
    ok(push_output(reg, repo_tag, keys, module, extra))
}

/// `wasi-hw push` of `module` to `repo_tag`, signed with the key of `keys`, as it ended.
fn push_output(
    reg: &Registry,
    repo_tag: &str,
    keys: &Keys,
    module: &Path,
    extra: &[&str],
) -> Output {
    let reference = reg.reference(repo_tag);
    let secret = keys.secret();
    let args = [
        &[
            "push",
            "--plain-http",
            &reference,
            s(module),
            "-s",
            s(&secret),
        ][..],
        extra,
    ]
    .concat();
    wasi_hw(&args)
}

fn pull(reg: &Registry, repo_tag: &str, keys: &Keys, out: &Path, extra: &[&str]) -> Output {
    let reference = reg.reference(repo_tag);
    let mut args = vec!["pull", "--plain-http", &reference, "-o", s(out)];
    let keys_dir = keys.keys();
    args.extend(["--keys", s(&keys_dir)]);
    args.extend(extra);
    wasi_hw(&args)
}

/// Runs the temperature driver on the simulated sensor; its stdout.
fn run_sensor(module: &Path, keys: &Keys) -> String {
    let keys_dir = keys.keys();
    ok(wasi_hw(&[
        "run",
        "--keys",
        s(&keys_dir),
        "--require-signature",
        "--i2c",
        "sim:0x48",
        s(module),
        "--bus",
        "sim",
        "--addr",
        "0x48",
    ]))
}

fn inspect_target(module: &Path) -> String {
    let out = ok(wasi_hw(&["inspect", "--allow-unsigned", s(module)]));
    out.lines()
        .find_map(|l| l.strip_prefix("target: "))
        .unwrap_or("none")
        .to_string()
}

#[test]
fn a_pushed_driver_is_pulled_for_two_platforms_and_runs() {
    let reg = Registry::start();
    let keys = Keys::new("fleet");
    let pushed = push(&reg, "drivers/temp-sensor:1", &keys, &["armv7"]);
    assert!(
        pushed.contains("linux/amd64, linux/arm/v7, wasip1/wasm"),
        "{pushed}"
    );
    let out = tempfile::tempdir().unwrap();

    // This machine's platform: the x86_64 build, with its .sig, runs verified.
    let said = ok(pull(&reg, "drivers/temp-sensor:1", &keys, out.path(), &[]));
    assert!(said.contains("(linux/amd64), signature verified"), "{said}");
    let aot = out.path().join("temp-sensor.aot");
    assert_eq!(inspect_target(&aot), "x86_64");
    assert!(out.path().join("temp-sensor.aot.sig").exists());
    let reading = run_sensor(&aot, &keys);
    assert!(reading.starts_with("temperature: "), "{reading}");

    // A router's platform, pulled here for it.
    let arm = out.path().join("router.aot");
    ok(pull(
        &reg,
        "drivers/temp-sensor:1",
        &keys,
        &arm,
        &["--platform", "linux/arm/v7"],
    ));
    assert_eq!(inspect_target(&arm), "armv7");

    // No build for mipsel in this index: the portable module, which runs anywhere.
    let mips = out.path().join("mips");
    std::fs::create_dir(&mips).unwrap();
    ok(pull(
        &reg,
        "drivers/temp-sensor:1",
        &keys,
        &mips,
        &["--platform", "linux/mipsle"],
    ));
    let wasm = mips.join("temp-sensor.wasm");
    assert_eq!(run_sensor(&wasm, &keys), reading);

    // No temporaries are left beside what was installed.
    let left: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn tampered_layers_untrusted_keys_and_missing_signatures_are_refused() {
    let reg = Registry::start();
    let keys = Keys::new("fleet");
    push(&reg, "drivers/temp-sensor:1", &keys, &[]);
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("sensor.aot");

    // A key the gateway does not trust: refused before anything is written.
    let stranger = Keys::new("stranger");
    let e = fails(pull(&reg, "drivers/temp-sensor:1", &stranger, &dest, &[]));
    assert!(e.contains("key"), "{e}");
    assert!(!dest.exists());

    // The good version installed; then the registry's copy of the .aot is altered.
    ok(pull(&reg, "drivers/temp-sensor:1", &keys, &dest, &[]));
    let good = std::fs::read(&dest).unwrap();
    let layer = manifest_layer(
        &reg,
        "drivers/temp-sensor:1",
        "linux/amd64",
        "application/vnd.wasi-hw.aot.v1",
    );
    let blob = reg.blob_file(&layer);
    let mut bytes = std::fs::read(&blob).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x40;
    std::fs::write(&blob, &bytes).unwrap();
    let e = fails(pull(&reg, "drivers/temp-sensor:1", &keys, &dest, &[]));
    assert!(e.contains("does not match its digest"), "{e}");
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        good,
        "the installed module was kept"
    );

    // A layout without signature layers, made and pushed by skopeo.
    let layout = tempfile::tempdir().unwrap();
    make_layout(layout.path(), &keys, &["--no-signatures"]);
    skopeo_copy(
        &format!("oci:{}:1", layout.path().display()),
        &format!("docker://{}", reg.reference("unsigned/temp-sensor:1")),
    );
    let e = fails(pull(&reg, "unsigned/temp-sensor:1", &keys, &dest, &[]));
    assert!(e.contains("has no signature layer"), "{e}");
    assert_eq!(std::fs::read(&dest).unwrap(), good);
}

#[test]
fn skopeo_copies_what_push_wrote_and_pull_reads_what_skopeo_pushed() {
    let reg = Registry::start();
    let keys = Keys::new("fleet");
    push(&reg, "drivers/temp-sensor:2", &keys, &["aarch64"]);

    // skopeo lists the index with every platform and copies it intact (it checks each
    // blob's digest) to a layout on disk and on to another repository.
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{}", reg.reference("drivers/temp-sensor:2")),
    ]);
    let index: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let p = &m["platform"];
            format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64", "wasip1/wasm"]);
    let copy = tempfile::tempdir().unwrap();
    skopeo_copy(
        &format!("docker://{}", reg.reference("drivers/temp-sensor:2")),
        &format!("oci:{}:2", copy.path().display()),
    );
    skopeo_copy(
        &format!("oci:{}:2", copy.path().display()),
        &format!("docker://{}", reg.reference("mirror/temp-sensor:2")),
    );
    let out = tempfile::tempdir().unwrap();
    let arm64 = out.path().join("arm64.aot");
    ok(pull(
        &reg,
        "mirror/temp-sensor:2",
        &keys,
        &arm64,
        &["--platform", "linux/arm64"],
    ));
    assert_eq!(inspect_target(&arm64), "aarch64v8");

    // A layout written without wasi-hw (Python, modules signed by signify-openbsd) and
    // pushed by skopeo: pulled, verified, and run.
    let layout = tempfile::tempdir().unwrap();
    make_layout(layout.path(), &keys, &[]);
    skopeo_copy(
        &format!("oci:{}:1", layout.path().display()),
        &format!("docker://{}", reg.reference("theirs/temp-sensor:1")),
    );
    let said = ok(pull(&reg, "theirs/temp-sensor:1", &keys, out.path(), &[]));
    assert!(said.contains("signature verified"), "{said}");
    let reading = run_sensor(&out.path().join("temp-sensor.aot"), &keys);
    assert!(reading.starts_with("temperature: "), "{reading}");

    // Its arm64 entry holds the x86_64 build: a mislabelled layer is refused.
    let e = fails(pull(
        &reg,
        "theirs/temp-sensor:1",
        &keys,
        &arm64,
        &["--platform", "linux/arm64"],
    ));
    assert!(e.contains("built for x86_64"), "{e}");
    assert_eq!(
        inspect_target(&arm64),
        "aarch64v8",
        "the installed module was kept"
    );
}

#[test]
fn a_registry_with_a_login_takes_the_credentials_of_the_flag_env_or_docker_config() {
    let auth = tempfile::tempdir().unwrap();
    let htpasswd = auth.path().join("htpasswd");
    let o = Command::new("htpasswd")
        .args(["-Bbc", s(&htpasswd), "fleet", "s3cret"])
        .output()
        .expect("htpasswd (Debian package apache2-utils; scripts/setup.sh)");
    assert!(o.status.success(), "{}", text(&o));
    let reg = Registry::start_with(&format!(
        "auth:\n  htpasswd:\n    realm: wasi-hw-test\n    path: {}\n",
        htpasswd.display()
    ));
    let keys = Keys::new("fleet");
    let reference = reg.reference("drivers/temp-sensor:1");
    let x86_64 = common::guest_path("temp-sensor", "aot");
    let push_with = |extra: &[&str]| {
        let args = [&["--aot", s(&x86_64)][..], extra].concat();
        push_output(
            &reg,
            "drivers/temp-sensor:1",
            &keys,
            &guest("temp-sensor"),
            &args,
        )
    };
    let e = fails(push_with(&[]));
    assert!(e.contains("wants a login"), "{e}");
    let e = fails(push_with(&["--creds", "fleet:wrong"]));
    assert!(e.contains("authentication failed"), "{e}");
    ok(push_with(&["--creds", "fleet:s3cret"]));

    // Pull with the login in the environment, then from a docker config.json.
    let out = tempfile::tempdir().unwrap();
    let keys_dir = keys.keys();
    let pull_args = [
        "pull",
        "--plain-http",
        &reference,
        "-o",
        s(out.path()),
        "--keys",
        s(&keys_dir),
    ];
    let o = Command::new(env!("CARGO_BIN_EXE_wasi-hw"))
        .args(pull_args)
        .env("HOME", "/nonexistent")
        .env("WASI_HW_REGISTRY_CREDS", "fleet:s3cret")
        .output()
        .unwrap();
    ok(o);
    let docker = auth.path().join("docker");
    std::fs::create_dir(&docker).unwrap();
    std::fs::write(
        docker.join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"auth":"ZmxlZXQ6czNjcmV0"}}}}}}"#,
            reg.host
        ),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_wasi-hw"))
        .args(pull_args)
        .env("HOME", "/nonexistent")
        .env("DOCKER_CONFIG", &docker)
        .output()
        .unwrap();
    let said = ok(o);
    assert!(said.contains("signature verified"), "{said}");
}

#[test]
fn a_registry_with_token_auth_is_logged_into_through_its_token_server() {
    let auth = tempfile::tempdir().unwrap();
    let (key, cert) = (auth.path().join("key.pem"), auth.path().join("cert.pem"));
    let o = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=wasi-hw-test-token",
        ])
        .args(["-keyout", s(&key), "-out", s(&cert)])
        .output()
        .expect("openssl");
    assert!(o.status.success(), "{}", text(&o));
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fleet/token_server.py");
    let mut tokens = Command::new("/usr/bin/python3")
        .arg(script)
        .args([
            &port.to_string(),
            s(&key),
            s(&cert),
            "fleet",
            "s3cret",
            "wasi-hw-test-issuer",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 (with Debian's python3-jwt; scripts/setup.sh)");
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(tokens.stdout.as_mut().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready.trim(), "ready");
    let reg = Registry::start_with(&format!(
        "auth:\n  token:\n    realm: {}://127.0.0.1:{port}/token\n    service: wasi-hw-test\n    issuer: wasi-hw-test-issuer\n    rootcertbundle: {}\n",
        "http", // the files of the repository hold no URLs
        cert.display()
    ));
    let keys = Keys::new("fleet");
    let reference = reg.reference("drivers/temp-sensor:1");
    let x86_64 = common::guest_path("temp-sensor", "aot");
    let push_with = |extra: &[&str]| {
        let args = [&["--aot", s(&x86_64)][..], extra].concat();
        push_output(
            &reg,
            "drivers/temp-sensor:1",
            &keys,
            &guest("temp-sensor"),
            &args,
        )
    };
    let e = fails(push_with(&["--creds", "fleet:wrong"]));
    assert!(e.contains("token request") && e.contains("401"), "{e}");
    ok(push_with(&["--creds", "fleet:s3cret"]));
    let out = tempfile::tempdir().unwrap();
    let keys_dir = keys.keys();
    let said = ok(wasi_hw(&[
        "pull",
        "--plain-http",
        &reference,
        "-o",
        s(out.path()),
        "--keys",
        s(&keys_dir),
        "--creds",
        "fleet:s3cret",
    ]));
    assert!(said.contains("signature verified"), "{said}");
    let _ = tokens.kill();
    let _ = tokens.wait();
}

/// The digest of the layer of `media_type` in the manifest for `platform`, read with skopeo.
fn manifest_layer(reg: &Registry, repo_tag: &str, platform: &str, media_type: &str) -> String {
    let image = format!("docker://{}", reg.reference(repo_tag));
    let index: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", "--raw", "--tls-verify=false", &image])).unwrap();
    let entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            let p = &m["platform"];
            format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            ) == platform
        })
        .unwrap();
    let by_digest = format!(
        "docker://{}@{}",
        reg.reference(repo_tag.split(':').next().unwrap()),
        entry["digest"].as_str().unwrap()
    );
    let manifest: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &by_digest,
    ]))
    .unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["mediaType"] == media_type)
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The temperature driver as a layout made by tests/fleet/make_layout.py: its x86_64 build
/// under linux/amd64 and, mislabelled, under linux/arm64; modules signed by signify-openbsd.
fn make_layout(dir: &Path, keys: &Keys, extra: &[&str]) {
    let files = tempfile::tempdir().unwrap();
    let wasm = files.path().join("temp-sensor.wasm");
    std::fs::copy(guest("temp-sensor"), &wasm).unwrap();
    let aot = files.path().join("temp-sensor.aot");
    std::fs::copy(common::guest_path("temp-sensor", "aot"), &aot).unwrap();
    for module in [&wasm, &aot] {
        let o = Command::new("signify-openbsd")
            .args(["-S", "-s", s(&keys.secret()), "-m", s(module), "-x"])
            .arg(format!("{}.sig", module.display()))
            .output()
            .expect("signify-openbsd (scripts/setup.sh)");
        assert!(o.status.success(), "{}", text(&o));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fleet/make_layout.py");
    let amd64 = format!("linux/amd64={}", aot.display());
    let arm64 = format!("linux/arm64={}", aot.display());
    let o = Command::new("python3")
        .arg(script)
        .args([
            s(dir),
            "1",
            "--wasm",
            s(&wasm),
            "--aot",
            &amd64,
            "--aot",
            &arm64,
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

fn skopeo(args: &[&str]) -> String {
    let o = Command::new("skopeo")
        .args(args)
        .output()
        .expect("skopeo (scripts/setup.sh)");
    assert!(o.status.success(), "skopeo {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn skopeo_copy(from: &str, to: &str) {
    skopeo(&[
        "copy",
        "--all",
        "--quiet",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        from,
        to,
    ]);
}

#[test]
fn a_host_following_a_tag_rolls_out_a_good_update_and_rolls_back_a_broken_one() {
    let reg = Registry::start();
    let keys = Keys::new("fleet");
    let work = tempfile::tempdir().unwrap();
    let wat = |name: &str, text: &str| {
        let p = work.path().join(name);
        std::fs::write(&p, wat::parse_str(text).unwrap()).unwrap();
        p
    };
    let sleeper = wat("sleeper.wasm", common::SLEEPS_60S);
    let broken = wat("broken.wasm", common::EXITS_3);

    // First deployment: the sensor driver pulled into the drivers' directory.
    push(&reg, "drivers/temp:stable", &keys, &[]);
    let drivers = work.path().join("drivers");
    std::fs::create_dir(&drivers).unwrap();
    let module = drivers.join("temp.aot");
    ok(pull(&reg, "drivers/temp:stable", &keys, &module, &[]));
    // The outcomes also go to an MQTT broker, as a fleet's dashboard would see them.
    let broker = Broker::start();
    let sub = Subscriber::start(&broker, "wasi-hw/rollout");
    let serve = Serve::start(&format!(
        "keys = {:?}\n\n[host.mqtt]\nbroker = \"{}\"\ntopic = \"wasi-hw/rollout\"\n\n\
         [[driver]]\nname = \"temp\"\nmodule = {:?}\n\
         args = [\"--bus\", \"sim\", \"--count\", \"100000000\", \"--interval-ms\", \"5\"]\n\
         i2c = [\"sim:0x48\"]\nhealth_window_ms = 1500\n\
         follow = {:?}\nfollow_every_s = 1\nfollow_plain_http = true\n",
        s(&keys.keys()),
        broker.broker(),
        s(&module),
        reg.reference("drivers/temp:stable")
    ));
    serve.wait_for("the sensor to run", |s| {
        s.status("temp")["state"] == "running"
    });
    let first = serve.status("temp")["digest"].as_str().unwrap().to_string();
    let events = |serve: &Serve| -> Vec<String> {
        serve.status("temp")["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap().to_string())
            .collect()
    };

    // A new version on the tag: pulled, swapped in, healthy, installed as the module.
    push_file(&reg, "drivers/temp:stable", &keys, &sleeper, "x86_64");
    serve.wait_for("the roll-out", |s| {
        events(s).iter().any(|e| e.starts_with("rolled out "))
    });
    let st = serve.status("temp");
    let second = st["digest"].as_str().unwrap().to_string();
    assert_ne!(second, first, "{st}");
    assert_eq!(st["state"], "running", "{st}");
    let on_disk = std::fs::read(&module).unwrap();
    assert_eq!(
        hex_sha256(&on_disk),
        second,
        "the installed file is what runs"
    );
    let keys_dir = keys.keys();
    ok(wasi_hw(&["verify", "--keys", s(&keys_dir), s(&module)]));

    // A broken version: it fails in the health window, is rolled back, and the file stays.
    push_file(&reg, "drivers/temp:stable", &keys, &broken, "x86_64");
    serve.wait_for("the rollback", |s| {
        events(s).iter().any(|e| {
            e.starts_with("roll-out of ")
                && e.ends_with("rolled back: it failed within the health window")
        })
    });
    serve.wait_for("the old module to run again", |s| {
        s.status("temp")["state"] == "running"
    });
    assert_eq!(serve.status("temp")["digest"], second.as_str());
    assert_eq!(std::fs::read(&module).unwrap(), on_disk);
    // Not tried again while the tag stays on the broken digest; nothing left staged.
    let before = events(&serve).len();
    std::thread::sleep(Duration::from_millis(2500));
    let after = events(&serve);
    assert_eq!(after.len(), before, "{after:?}");
    let names: Vec<String> = std::fs::read_dir(&drivers)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // The subscriber saw the same events, in order.
    sub.wait_for("the events over MQTT", |sub| {
        sub.by_seq("wasi-hw/rollout/temp/event").len() >= after.len()
    });
    let published: Vec<String> = sub
        .by_seq("wasi-hw/rollout/temp/event")
        .into_values()
        .map(|p| p["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(published, after);
    serve.stop();
}

#[test]
fn following_a_tag_inside_the_seccomp_filter_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("drivers.toml");
    std::fs::write(
        &config,
        format!(
            "[host]\nseccomp = true\n\n[[driver]]\nname = \"t\"\nmodule = {:?}\nfollow = \"127.0.0.1:5000/d/t:1\"\n",
            s(&guest("temp-sensor"))
        ),
    )
    .unwrap();
    let e = fails(wasi_hw(&["serve", "--check", "--config", s(&config)]));
    assert!(e.contains("follow needs network sockets"), "{e}");
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
