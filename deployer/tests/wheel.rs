//! The pip-installable wheel (`make wheel`), installed as a user installs it: into a fresh venv,
//! with no Rust toolchain on PATH, then `deployer init` and `enable` against moto server with only
//! the layer zips inside it. Run by `make wheel-check` (part of `make test`) once the wheel is
//! built; plain `cargo test` skips it (it needs the wheel and the layer zips).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::Env;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The wheel for this machine's architecture in dist/wheels.
fn wheel() -> PathBuf {
    let arch = std::env::consts::ARCH; // x86_64 or aarch64, as in wheel tags
    let dir = root().join("dist/wheels");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}; run `make wheel`", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            name.starts_with("faultline-") && name.ends_with(&format!("_{arch}.whl"))
        })
        .unwrap_or_else(|| panic!("no faultline wheel for {arch} in {}", dir.display()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("run");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs `make wheel`; run by `make wheel-check`"]
async fn the_wheel_installs_without_rust_and_publishes_exactly_the_built_layer() {
    let wheel = wheel();
    let dist = root().join("dist");
    let zips: Vec<(String, Vec<u8>)> = ["x86_64", "arm64"]
        .iter()
        .map(|arch| {
            let bytes = std::fs::read(dist.join(format!("faultline-layer-{arch}.zip")))
                .expect("make layer's zip");
            (arch.to_string(), bytes)
        })
        .collect();

    // Size: at most twice the two zips plus the deployer, compressed (as it sits in the wheel).
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&wheel).unwrap()).unwrap();
    let name = archive
        .file_names()
        .filter_map(Result::ok)
        .find(|name| name.ends_with("/scripts/deployer"))
        .map(|name| name.into_owned())
        .expect("no deployer script in the wheel");
    let mut entry = archive.by_name(&name).unwrap();
    let binary_compressed = entry.compressed_size();
    let mut elf = Vec::new();
    entry.read_to_end(&mut elf).unwrap();
    drop(entry);
    assert!(binary_compressed > 0, "no deployer script in the wheel");
    let wheel_size = std::fs::metadata(&wheel).unwrap().len();
    let zips_size: u64 = zips.iter().map(|(_, z)| z.len() as u64).sum();
    assert!(
        wheel_size <= 2 * (zips_size + binary_compressed),
        "wheel {wheel_size} bytes, zips {zips_size}, deployer compressed {binary_compressed}"
    );
    // The binary inside is static: it names no interpreter (runs on glibc and musl systems).
    assert!(
        !elf.windows(14).any(|w| w == b"/lib64/ld-linu"),
        "the deployer in the wheel is dynamically linked"
    );

    // A fresh venv, the wheel installed offline, no Rust on PATH.
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv");
    run(Command::new(faultline_testkit::venv_bin("python"))
        .args(["-m", "venv"])
        .arg(&venv));
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--no-index", "--no-deps"])
        .arg(&wheel));
    let path = format!("{}:/usr/bin:/bin", venv.join("bin").display());
    for tool in ["cargo", "rustc"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(!found.status.success(), "{tool} is on the test's PATH");
    }
    let deployer = |args: &[&str], env: &Env| {
        Command::new("deployer")
            .args(args)
            .current_dir(dir.path()) // no dist/ here: only the embedded zips
            .env_clear()
            .env("PATH", &path)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &env.moto.endpoint)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("run the installed deployer")
    };

    let env = Env::start().await;
    let version = deployer(&["--version"], &env);
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    assert!(
        version.starts_with(&format!("deployer {}", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    for (arch, bytes) in &zips {
        let short = &sha256_hex(bytes)[..12];
        assert!(
            version.contains(&format!("{arch} sha256:{short}")),
            "--version names the embedded {arch} layer: {version}"
        );
    }

    let output = deployer(&["init"], &env);
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("embedded in this deployer"), "{text}");
    let role = env.role("wheel-role").await;
    env.function("wheel-fn", &role, &[], &[]).await;
    let output = deployer(&["enable", "wheel-fn"], &env);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The layer versions in moto hold exactly make layer's bytes: moto's CodeSha256 is computed
    // from what it received, and the description carries the deployer's SHA-256.
    for (arch, bytes) in &zips {
        let listed = env
            .lambda
            .list_layer_versions()
            .layer_name(format!("faultline-{arch}"))
            .send()
            .await
            .unwrap();
        let version = listed.layer_versions()[0].version();
        let got = env
            .lambda
            .get_layer_version()
            .layer_name(format!("faultline-{arch}"))
            .version_number(version)
            .send()
            .await
            .unwrap();
        let content = got.content().unwrap();
        assert_eq!(
            content.code_sha256().unwrap(),
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes)),
            "{arch}: moto holds other bytes than make layer's zip"
        );
        assert_eq!(content.code_size(), bytes.len() as i64);
        assert!(
            got.description()
                .unwrap_or_default()
                .contains(&format!("sha256:{}", sha256_hex(bytes)))
        );
    }
    // The function (x86_64, Lambda's default architecture) got the x86_64 layer.
    let (layers, _) = env.state("wheel-fn").await;
    assert_eq!(layers.len(), 1);
    assert!(layers[0].contains(":layer:faultline-x86_64:"), "{layers:?}");
}
