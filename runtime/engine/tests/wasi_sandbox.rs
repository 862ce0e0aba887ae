//! The WASI sandbox of the bundled libc-wasi, as a guest sees it through raw preview1 calls.

use std::path::Path;

use wasi_hw_engine::{Engine, Instance, InstanceConfig, Module, Val};

const EPERM: i32 = 63;
const ENOTCAPABLE: i32 = 76;

/// A guest with `symlink(target_ptr, target_len, link_ptr, link_len) -> errno` on fd 3 (the
/// first preopen), and `strings` in memory at 64-byte slots.
fn guest(strings: &[&str], dir: &Path, guest_name: &str) -> Instance {
    let data: String = strings
        .iter()
        .enumerate()
        .map(|(i, s)| format!("(data (i32.const {}) \"{s}\")\n", i * 64))
        .collect();
    let wat = format!(
        r#"(module
          (import "wasi_snapshot_preview1" "path_symlink"
            (func $symlink (param i32 i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          {data}
          (func (export "_start"))
          (func (export "symlink") (param i32 i32 i32 i32) (result i32)
            (call $symlink (local.get 0) (local.get 1) (i32.const 3) (local.get 2) (local.get 3))))"#
    );
    let engine = Engine::new().unwrap();
    let module = Module::new(&engine, wat::parse_str(&wat).unwrap()).unwrap();
    let mut config = InstanceConfig::default();
    config.wasi.preopens = vec![(dir.to_path_buf(), guest_name.to_string())];
    Instance::new(&module, &config).unwrap()
}

/// Makes the link `link` to `target` from the guest; the errno.
fn symlink(target: &str, link: &str, dir: &Path, guest_name: &str) -> i32 {
    let mut inst = guest(&[target, link], dir, guest_name);
    let len = |s: &str| Val::I32(s.len() as i32);
    match inst
        .call(
            "symlink",
            &[Val::I32(0), len(target), Val::I32(64), len(link)],
        )
        .unwrap()[..]
    {
        [Val::I32(errno)] => errno,
        ref other => panic!("symlink returned {other:?}"),
    }
}

/// wasi-testsuite's rust/symlink_create, and the ways out of the tree it does not try:
/// a link's target is read from the link's directory, so absolute targets and `..` above
/// the preopened directory are refused, and nothing is created on the host.
#[test]
fn symlinks_cannot_point_out_of_the_preopened_tree() {
    for guest_name in ["/", "/data", "."] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let refused = [
            ("/", "root", EPERM),
            ("/etc/passwd", "passwd", EPERM),
            ("..", "parent", ENOTCAPABLE),
            ("../outside", "up", ENOTCAPABLE),
            ("sub/../../x", "up2", ENOTCAPABLE),
            ("../../f", "sub/up3", ENOTCAPABLE),
            ("a/../../../b", "sub/up4", ENOTCAPABLE),
        ];
        for (target, link, errno) in refused {
            assert_eq!(
                symlink(target, link, dir.path(), guest_name),
                errno,
                "{target} <- {link} (preopen {guest_name})"
            );
            assert!(
                std::fs::symlink_metadata(dir.path().join(link)).is_err(),
                "{link} was created"
            );
        }
        let allowed = [
            ("f", "rel"),
            ("../f", "sub/back"),
            ("./a/./b/..", "dots"),
            ("sub//x/..//y", "slashes"),
            ("a/../../b", "sub/climbs-back"),
        ];
        for (target, link) in allowed {
            assert_eq!(
                symlink(target, link, dir.path(), guest_name),
                0,
                "{target} <- {link} (preopen {guest_name})"
            );
            let made = std::fs::read_link(dir.path().join(link)).unwrap();
            assert_eq!(made, Path::new(target));
        }
    }
}
