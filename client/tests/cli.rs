//! The `shire` binary's command line, run as a user runs it: usage errors,
//! help, and errors that need no registry. (Scenarios against a real node live
//! in the workspace's `tests/` crate; this test target also makes
//! `cargo test --workspace` build the `shire` binary those scenarios drive.)

use std::process::Command;

fn shire(args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_shire"))
        .args(args)
        .env("SHIRE_HOME", home.path())
        // Nothing listens here: a command that reached the network would fail.
        .env("SHIRE_REGISTRY", "http://127.0.0.1:9")
        .env_remove("SHIRE_TOKEN")
        .output()
        .unwrap()
}

#[test]
fn version_and_help() {
    let out = shire(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("shire "));
    let out = shire(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["publish", "install", "approve", "audit", "trust", "log"] {
        assert!(text.contains(cmd), "help lists {cmd}: {text}");
    }
}

#[test]
fn usage_errors_exit_non_zero_with_one_clear_line() {
    let out = shire(&["install", "Not/A Name"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Not/A Name") || err.contains("lowercase"),
        "{err}"
    );

    let out = shire(&["approve", "braintree/crm"]);
    assert!(!out.status.success(), "a verdict needs an exact version");

    let out = shire(&["trust", "add", "ed25519:not-a-key"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error:"), "{err}");
}

#[test]
fn an_unreachable_registry_is_a_clear_error() {
    let out = shire(&["search", "crm"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("127.0.0.1:9"), "names the registry: {err}");
}
