//! Issue 13: the `shire` client as cargo and npm users expect it: nothing
//! leaks at publish, nothing of the user's is lost at install, the
//! lifecycle commands, and errors of one clear line.

use shire_e2e::{binary, Club, Project, User};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every file under `dir` with its bytes, `.shire` (the tool's own state) left out.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn go(base: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            if rel == ".shire" {
                continue;
            }
            if p.is_dir() {
                go(base, &p, out);
            } else {
                out.insert(rel, fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    if dir.exists() {
        go(dir, dir, &mut out);
    }
    out
}

fn status(url: &str) -> u16 {
    reqwest::blocking::get(url).unwrap().status().as_u16()
}

#[test]
fn publish_leaves_out_ignored_files_and_refuses_secrets() {
    let club = Club::new();
    let dir = Project::new("braintree/crm-lite", "1.0.0")
        .file(".gitignore", "node_modules/\n*.log\n")
        .file(".shireignore", "notes/\n")
        .file(".env", "DB_PASSWORD=hunter2\n")
        .file("node_modules/left-pad/index.js", "module.exports = 1\n")
        .file("debug.log", "noise\n")
        .file("notes/todo.md", "private\n")
        .file(
            "deploy/server.pem",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n",
        )
        .write(club.publisher.cwd.path());
    let d = dir.to_str().unwrap();
    let package_url = format!("{}/api/v1/packages/braintree/crm-lite", club.node.url);

    // Publishing refuses, naming each secret; nothing reaches the node.
    let err = club.publisher.fails(&["publish", d]);
    assert!(err.contains(".env (an environment file)"), "{err}");
    assert!(err.contains("deploy/server.pem (a private key)"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(status(&package_url), 404);
    assert!(!dir.join("target/shire").exists() || files(&dir.join("target/shire")).is_empty());

    // Excluded in Shire.toml, they are left out; --list shows what goes.
    let manifest = fs::read_to_string(dir.join("Shire.toml")).unwrap();
    fs::write(
        dir.join("Shire.toml"),
        manifest.replace(
            "authors = [\"Test Council\"]\n",
            "authors = [\"Test Council\"]\nexclude = [\".env\", \"deploy/\"]\n",
        ),
    )
    .unwrap();
    let listed = club.publisher.ok(&["package", "--list", d]);
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        vec![".gitignore", ".shireignore", "Shire.toml", "src/main.py"]
    );

    // A dry run does everything but the upload.
    let dry = club.publisher.json(&["publish", "--dry-run", d]);
    assert_eq!(dry["name"], "braintree/crm-lite");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(status(&package_url), 404);

    // The real publish carries exactly the listed files, and says its name.
    let published = club.publisher.json(&["publish", d]);
    assert_eq!(published["name"], "braintree/crm-lite");
    assert_eq!(published["digest"], dry["digest"]);
    let files_url = format!("{package_url}/1.0.0/files");
    let listing: serde_json::Value = reqwest::blocking::get(&files_url).unwrap().json().unwrap();
    let text = listing.to_string();
    for leaked in [".env", "node_modules", "debug.log", "notes", "server.pem"] {
        assert!(!text.contains(leaked), "{leaked} was published: {text}");
    }
    assert!(text.contains("src/main.py"), "{text}");

    // Naming a secret file under include is the way to publish it on purpose.
    let dir2 = Project::new("braintree/certs", "1.0.0")
        .file("tls.key", "not really a key\n")
        .write(club.publisher.cwd.path());
    let d2 = dir2.to_str().unwrap();
    assert!(club
        .publisher
        .fails(&["package", d2])
        .contains("tls.key (a key file)"));
    let manifest = fs::read_to_string(dir2.join("Shire.toml")).unwrap();
    fs::write(
        dir2.join("Shire.toml"),
        manifest.replace(
            "authors = [\"Test Council\"]\n",
            "authors = [\"Test Council\"]\ninclude = [\"src/\", \"tls.key\"]\n",
        ),
    )
    .unwrap();
    let listed = club.publisher.ok(&["package", "--list", d2]);
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        vec!["Shire.toml", "src/main.py", "tls.key"]
    );
}

#[test]
fn init_maps_publiccode_and_publish_refuses_the_placeholder() {
    let club = Club::new();
    let p = &club.publisher;
    let bare = p.path("bare");
    fs::create_dir_all(bare.join("src")).unwrap();
    fs::write(bare.join("src/app.py"), "print(1)\n").unwrap();
    let b = bare.to_str().unwrap();
    p.ok(&["init", "--name", "braintree/bare", "--dir", b]);
    let err = p.fails(&["publish", b]);
    assert!(
        err.contains("package.description") && err.contains("placeholder"),
        "{err}"
    );
    assert_eq!(
        status(&format!("{}/api/v1/packages/braintree/bare", club.node.url)),
        404
    );

    let flagged = p.path("flagged");
    fs::create_dir_all(&flagged).unwrap();
    fs::write(flagged.join("app.py"), "print(1)\n").unwrap();
    let f = flagged.to_str().unwrap();
    p.ok(&[
        "init",
        "--name",
        "braintree/flagged",
        "--dir",
        f,
        "--description",
        "Bin collection days for residents",
        "--license",
        "MIT",
        "--version",
        "2.1.0",
    ]);
    let published = p.json(&["publish", f]);
    assert_eq!(published["version"], "2.1.0");

    let pc = p.path("pc");
    fs::create_dir_all(&pc).unwrap();
    fs::write(pc.join("app.py"), "print(1)\n").unwrap();
    fs::write(
        pc.join("publiccode.yml"),
        r#"publiccodeYmlVersion: "0.4"
name: Parking
url: "https://git.example.org/braintree/parking"
landingURL: "https://parking.example.org"
softwareVersion: "2.3"
softwareType: standalone/web
releaseDate: "2026-10-01"
description:
  en:
    shortDescription: "Parking permits for residents"
    longDescription: "Apply for and renew **parking permits** online."
    features: [permits, renewals]
legal:
  license: EUPL-1.2
  mainCopyrightOwner: Braintree District Council
dependsOn:
  open:
    - name: PostgreSQL
      versionMin: "13"
"#,
    )
    .unwrap();
    let out = p.run(&[
        "init",
        "--name",
        "braintree/parking",
        "--dir",
        pc.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\"2.3\" is not a semver version"),
        "{stderr}"
    );
    let toml = fs::read_to_string(pc.join("Shire.toml")).unwrap();
    for expected in [
        "version = \"0.1.0\"",
        "authors = [\"Braintree District Council\"]",
        "features = [",
        "long-description = ",
        "software-type = \"standalone/web\"",
        "release-date = \"2026-10-01\"",
        "landing-url = \"https://parking.example.org\"",
        "name = \"PostgreSQL\"",
    ] {
        assert!(toml.contains(expected), "{expected} missing from {toml}");
    }
    assert!(!toml.contains("keywords = [\"permits\""), "{toml}");
}

#[test]
fn installs_never_lose_the_users_files_and_audit_checks_them() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm-lite", "1.0.0").file("conf/base.toml", "a = 1\n"));
    club.approve("braintree/crm-lite@1.0.0");
    let u = &club.installer;
    let dir = u.path("pk");
    let d = dir.to_str().unwrap();
    u.ok(&["install", "braintree/crm-lite", "--dir", d]);
    let audit = u.ok(&["audit", "--dir", d]);
    assert!(audit.contains("audit passed"), "{audit}");

    // The user adds a file; a newer version appears.
    let pkg = dir.join("braintree/crm-lite");
    fs::write(pkg.join("conf/local.conf"), "site = colchester\n").unwrap();
    club.publish(&Project::new("braintree/crm-lite", "1.1.0").file("conf/base.toml", "a = 2\n"));
    club.approve("braintree/crm-lite@1.1.0");

    // The audit names the added file and fails.
    let out = u.run(&["audit", "--dir", d]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("files_added") && text.contains("conf/local.conf"),
        "{text}"
    );

    // Installing again would replace the folder: refused, naming the file, nothing changed.
    let before = files(&dir);
    let err = u.fails(&["install", "braintree/crm-lite", "--dir", d]);
    assert!(
        err.contains("local.conf") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(files(&dir), before);

    // With --force it upgrades, and says what it did and what it discarded.
    let out = u.run(&["install", "braintree/crm-lite", "--dir", d, "--force"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("upgraded braintree/crm-lite from 1.0.0 to 1.1.0"),
        "{stdout}"
    );
    assert!(
        stderr.contains("discarded") && stderr.contains("local.conf"),
        "{stderr}"
    );
    assert!(!pkg.join("conf/local.conf").exists());
    assert_eq!(
        fs::read_to_string(pkg.join("conf/base.toml")).unwrap(),
        "a = 2\n"
    );

    // Edited and deleted files fail the audit too, each named.
    fs::write(pkg.join("src/main.py"), "print('patched')\n").unwrap();
    fs::remove_file(pkg.join("conf/base.toml")).unwrap();
    let out = u.run(&["audit", "--dir", d, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        kinds
            .iter()
            .any(|(k, d)| k == "files_edited" && d.contains("src/main.py")),
        "{kinds:?}"
    );
    assert!(
        kinds
            .iter()
            .any(|(k, d)| k == "files_deleted" && d.contains("conf/base.toml")),
        "{kinds:?}"
    );
    let list = u.json(&["list", "--dir", d]);
    assert_eq!(list[0]["files"], "changed");

    // Files beside the locked packages fail it too.
    fs::write(dir.join("braintree/backdoor.py"), "import os\n").unwrap();
    let out = u.run(&["audit", "--dir", d]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("files_stray") && text.contains("braintree/backdoor.py"),
        "{text}"
    );

    // A lock edited to pin another release than the folder holds is caught.
    let lock = fs::read_to_string(dir.join("shire.lock")).unwrap();
    let v1 = club.digest("braintree/crm-lite", "1.0.0");
    let v2 = club.digest("braintree/crm-lite", "1.1.0");
    fs::write(
        dir.join("shire.lock"),
        lock.replace("1.1.0", "1.0.0").replace(&v2, &v1),
    )
    .unwrap();
    let out = u.run(&["audit", "--dir", d]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("files_other_release"), "{text}");
}

#[test]
fn list_outdated_update_and_uninstall() {
    let club = Club::new();
    for (name, v) in [
        ("braintree/lib", "1.0.0"),
        ("braintree/lib", "1.1.0"),
        ("braintree/lib", "2.0.0"),
    ] {
        club.publish(&Project::new(name, v));
        club.approve(&format!("{name}@{v}"));
    }
    club.publish(&Project::new("braintree/app", "1.0.0").dep("braintree/lib", "^1"));
    club.approve("braintree/app@1.0.0");
    let u = &club.installer;
    let dir = u.path("pk");
    let d = dir.to_str().unwrap();
    u.ok(&["install", "braintree/app", "--dir", d]);
    u.ok(&["update", "braintree/lib", "--precise", "1.0.0", "--dir", d]);

    let list = u.json(&["list", "--dir", d]);
    let rows: Vec<(String, String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().into(),
                r["version"].as_str().unwrap().into(),
                r["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("braintree/app".into(), "1.0.0".into(), "approved".into()),
            ("braintree/lib".into(), "1.0.0".into(), "approved".into())
        ]
    );
    assert!(u.ok(&["ls", "--dir", d]).contains("braintree/lib"));

    // lib: 1.1.0 within app's ^1, 2.0.0 beyond it.
    let out = u.json(&["outdated", "--dir", d]);
    assert_eq!(out[0]["name"], "braintree/lib");
    assert_eq!(out[0]["compatible"], "1.1.0");
    assert_eq!(out[0]["latest"], "2.0.0");
    assert_eq!(out.as_array().unwrap().len(), 1);

    // update stays within the ranges; --precise outside them is refused.
    let err = u.fails(&["update", "braintree/lib", "--precise", "2.0.0", "--dir", d]);
    assert!(
        err.contains("cannot update braintree/lib to 2.0.0"),
        "{err}"
    );
    let updated = u.ok(&["update", "--dir", d]);
    assert!(
        updated.contains("upgraded braintree/lib from 1.0.0 to 1.1.0"),
        "{updated}"
    );
    assert!(u.ok(&["update", "--dir", d]).contains("already up to date"));
    assert!(fs::read_to_string(dir.join("shire.lock"))
        .unwrap()
        .contains("version = \"1.1.0\""));

    // uninstall refuses while app needs lib; removing app takes lib with it.
    let err = u.fails(&["uninstall", "braintree/lib", "--dir", d]);
    assert!(err.contains("braintree/app@1.0.0 depend(s) on it"), "{err}");
    let err = u.fails(&["uninstall", "braintree/ap", "--dir", d]);
    assert!(err.contains("did you mean braintree/app?"), "{err}");
    let out = u.ok(&["uninstall", "braintree/app", "--dir", d]);
    assert!(
        out.contains("removed braintree/lib (no longer needed)"),
        "{out}"
    );
    assert_eq!(files(&dir).keys().collect::<Vec<_>>(), vec!["shire.lock"]);
    assert!(u.ok(&["list", "--dir", d]).contains("nothing is installed"));
}

/// Kills `shire install` with SIGKILL at random moments while it replaces
/// three packages of many files: after each kill, the next command finds
/// the old install or the new one, whole, with a lock that agrees.
#[test]
fn an_install_killed_at_a_random_moment_leaves_the_old_or_the_new_install() {
    let club = Club::new();
    let names = ["braintree/a", "braintree/b", "braintree/c"];
    for v in ["1.0.0", "2.0.0"] {
        for n in names {
            let mut p = Project::new(n, v);
            for i in 0..150 {
                p = p.file(&format!("data/f{i:03}.txt"), &format!("{n} {v} {i}\n"));
            }
            club.publish(&p);
            club.approve(&format!("{n}@{v}"));
        }
    }
    let u = &club.installer;
    let dir = u.path("pk");
    let d = dir.to_str().unwrap();
    let pinned = |v: &str| -> Vec<String> { names.iter().map(|n| format!("{n}@={v}")).collect() };
    let args = |v: &str| -> Vec<String> {
        let mut a = vec!["install".to_string()];
        a.extend(pinned(v));
        a.extend(["--dir".to_string(), d.to_string()]);
        a
    };
    let start = Instant::now();
    u.ok(&args("1.0.0").iter().map(String::as_str).collect::<Vec<_>>());
    let full = start.elapsed();
    // What each version's install looks like on disk.
    let tree_of = |v: &str| -> BTreeMap<String, Vec<u8>> {
        let t = tempfile::tempdir().unwrap();
        let other = User::new(&club.node.url, None);
        other.ok(&["trust", "add", &club.verifier_key]);
        let mut a: Vec<String> = vec!["install".into()];
        a.extend(pinned(v));
        a.extend(["--dir".into(), t.path().to_str().unwrap().to_string()]);
        other.ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
        files(t.path())
            .into_iter()
            .filter(|(p, _)| p != "shire.lock")
            .collect()
    };
    let (v1, v2) = (tree_of("1.0.0"), tree_of("2.0.0"));
    assert_ne!(v1, v2);

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut next = seed | 1;
    let mut current = "1.0.0";
    for round in 0..8 {
        let target = if current == "1.0.0" { "2.0.0" } else { "1.0.0" };
        // xorshift: a different moment each round, reported for reruns.
        next ^= next << 13;
        next ^= next >> 7;
        next ^= next << 17;
        let wait = Duration::from_micros(next % (full.as_micros() as u64 + 1));
        let mut child = Command::new(binary("shire"))
            .args(args(target))
            .current_dir(u.cwd.path())
            .env("SHIRE_HOME", u.home.path())
            .env("SHIRE_REGISTRY", &u.registry)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(wait);
        let _ = child.kill();
        let _ = child.wait();
        // The next command settles the folder first.
        let list = u.json(&["list", "--dir", d]);
        let on_disk: BTreeMap<String, Vec<u8>> = files(&dir)
            .into_iter()
            .filter(|(p, _)| p != "shire.lock")
            .collect();
        let locked: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["version"].as_str().unwrap())
            .collect();
        let ctx = format!("round {round}, seed {seed}, killed after {wait:?} of {full:?}");
        if on_disk == v1 {
            assert_eq!(locked, vec!["1.0.0"; 3], "{ctx}");
            current = "1.0.0";
        } else if on_disk == v2 {
            assert_eq!(locked, vec!["2.0.0"; 3], "{ctx}");
            current = "2.0.0";
        } else {
            panic!("{ctx}: the install folder holds neither install");
        }
        assert!(
            list.as_array()
                .unwrap()
                .iter()
                .all(|r| r["files"] == "unchanged"),
            "{ctx}: {list}"
        );
    }
}

#[test]
fn errors_are_one_clear_line() {
    let club = Club::new();
    club.publish(&Project::new("braintree/crm-lite", "1.0.0"));
    let u = &club.installer;

    // The error is one line (notes such as a first-use key pin may precede it).
    let one_line = |s: &str| {
        let errors: Vec<&str> = s.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(errors.len(), 1, "{s}");
        assert_eq!(s.trim_end().lines().last(), Some(errors[0]), "{s}");
        errors[0].to_string()
    };
    // A node that is down.
    let down = User::new("http://127.0.0.1:9", None);
    let err = one_line(&down.fails(&["search", "crm"]));
    assert_eq!(
        err,
        "error: the registry at http://127.0.0.1:9 cannot be reached: connection refused (is the node running?)"
    );
    // A URL without its scheme.
    let bare = User::new(club.node.url.trim_start_matches("http://"), None);
    let err = one_line(&bare.fails(&["info", "braintree/crm-lite"]));
    assert!(
        err.contains("is not a registry URL: give it with its scheme, such as http://"),
        "{err}"
    );
    // A mistyped name.
    let err = one_line(&u.fails(&["info", "braintree/crm-lyte"]));
    assert!(err.contains("did you mean braintree/crm-lite?"), "{err}");
    let err = one_line(&u.fails(&["install", "braintree/crm-lyte", "--dir", "pk"]));
    assert!(err.contains("did you mean braintree/crm-lite?"), "{err}");
    // A key that is not registered.
    let token = club.admin.json(&[
        "admin",
        "user",
        "create",
        "new-dev",
        "--org",
        "braintree",
        "--role",
        "publisher",
    ])["token"]
        .as_str()
        .unwrap()
        .to_string();
    let dev = club.node.user(Some(&token));
    dev.ok(&["key", "generate"]);
    let dir = Project::new("braintree/other", "1.0.0").write(dev.cwd.path());
    let err = one_line(&dev.fails(&["publish", dir.to_str().unwrap()]));
    assert!(err.contains("shire key register"), "{err}");
    // With --json, the error is JSON on stdout.
    let out = down.run(&["search", "crm", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "unreachable");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cannot be reached"));
    // Who approved: account and organisation, with the note.
    club.verifier.ok(&[
        "approve",
        "braintree/crm-lite@1.0.0",
        "--note",
        "reviewed the GDPR notice",
    ]);
    let info = u.ok(&["info", "braintree/crm-lite"]);
    assert!(info.contains("socitm-rev (socitm)"), "{info}");
    assert!(info.contains("reviewed the GDPR notice"), "{info}");
    let hits = u.ok(&["search", "crm"]);
    assert!(hits.contains("socitm-rev (socitm)"), "{hits}");
}

#[test]
fn logout_forgets_the_token_and_key_revoke_stops_the_key() {
    let club = Club::new();
    let p = &club.publisher;
    let key_id = p.json(&["key", "show"])["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = p.json(&["key", "revoke"]);
    assert_eq!(revoked["key_id"], key_id.as_str());
    assert!(!revoked["revoked_at"].is_null(), "{revoked}");
    let dir = Project::new("braintree/late", "1.0.0").write(p.cwd.path());
    let err = p.fails(&["publish", dir.to_str().unwrap()]);
    assert!(err.contains("key_revoked"), "{err}");
    assert!(p.ok(&["logout"]).contains("logged out"));
    let err = p.fails(&["whoami"]);
    assert!(err.contains("needs a token"), "{err}");
}

#[test]
fn scoped_expiring_and_revoked_tokens_are_refused() {
    let club = Club::new();
    let p = &club.publisher;
    let package_url = |n: &str| format!("{}/api/v1/packages/braintree/{n}", club.node.url);

    // A token that may publish one package, for a CI job.
    let made = p.json(&[
        "token",
        "create",
        "--name",
        "ci",
        "--scope",
        "publish:braintree/crm-lite",
        "--expires",
        "30d",
    ]);
    let ci_token = made["token"].as_str().unwrap().to_string();
    let ci_id = made["id"].as_str().unwrap().to_string();
    assert_eq!(made["scopes"][0], "publish:braintree/crm-lite");
    let listed = p.json(&["token", "list"]);
    assert!(listed.to_string().contains(&ci_id));
    assert!(
        !listed.to_string().contains(&ci_token),
        "a token is shown once only"
    );

    // The CI user has the publisher's key but only the scoped token.
    let ci = club.node.user(Some(&ci_token));
    fs::create_dir_all(ci.home.path().join("keys")).unwrap();
    fs::copy(
        p.home.path().join("keys/default.json"),
        ci.home.path().join("keys/default.json"),
    )
    .unwrap();
    let crm = Project::new("braintree/crm-lite", "1.0.0").write(ci.cwd.path());
    ci.ok(&["publish", crm.to_str().unwrap()]);
    let other = Project::new("braintree/payroll", "1.0.0").write(ci.cwd.path());
    let err = ci.fails(&["publish", other.to_str().unwrap()]);
    assert!(err.contains("out_of_scope"), "{err}");
    assert_eq!(status(&package_url("payroll")), 404);
    // ...nor can it mint a wider token or register keys.
    let err = ci.fails(&["token", "create", "--name", "wider"]);
    assert!(err.contains("out_of_scope"), "{err}");
    assert!(!p.json(&["token", "list"]).to_string().contains("wider"));
    // A scope beyond the account's role is refused at creation.
    let err = p.fails(&["token", "create", "--name", "x", "--scope", "verify"]);
    assert!(err.contains("beyond what account bt-dev"), "{err}");
    let err = p.fails(&["token", "create", "--name", "x", "--scope", "publish:kent"]);
    assert!(err.contains("beyond what account bt-dev"), "{err}");

    // Revoked: refused at once, and nothing it tries lands.
    p.ok(&["token", "revoke", &ci_id]);
    let v2 = Project::new("braintree/crm-lite", "1.1.0").write(ci.cwd.path());
    let err = ci.fails(&["publish", v2.to_str().unwrap()]);
    assert!(err.contains("unauthorized"), "{err}");
    let versions = club.node.get_json("/api/v1/packages/braintree/crm-lite")["versions"].clone();
    assert_eq!(versions.as_array().unwrap().len(), 1, "{versions}");

    // Expired: refused once its time has passed.
    let soon = time_in(3);
    let made = p.json(&["token", "create", "--name", "short", "--expires", &soon]);
    let short = club.node.user(Some(made["token"].as_str().unwrap()));
    short.ok(&["whoami"]);
    std::thread::sleep(Duration::from_secs(4));
    let err = short.fails(&["whoami"]);
    assert!(
        err.contains("unauthorized") && err.contains("expired"),
        "{err}"
    );
    // An admin-scoped token cannot mint an account (whose token is unscoped).
    let admin_scoped = club
        .admin
        .json(&["token", "create", "--name", "ops", "--scope", "admin"]);
    let ops = club
        .node
        .user(Some(admin_scoped["token"].as_str().unwrap()));
    ops.ok(&["admin", "org", "create", "kent"]);
    let err = ops.fails(&[
        "admin", "user", "create", "shadow", "--org", "kent", "--role", "admin",
    ]);
    assert!(err.contains("out_of_scope"), "{err}");
    // Past expiries are refused at creation.
    let err = p.fails(&[
        "token",
        "create",
        "--name",
        "old",
        "--expires",
        "2020-01-01",
    ]);
    assert!(err.contains("in the past"), "{err}");
}

/// An RFC 3339 time `secs` seconds from now.
fn time_in(secs: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::seconds(secs))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[test]
fn a_takedown_stops_installs_and_stays_verifiable() {
    let club = Club::new();
    let dir = Project::new("braintree/crm-lite", "1.0.0")
        .file("config/.env", "DB_PASSWORD=hunter2\n")
        .write(club.publisher.cwd.path());
    let manifest = fs::read_to_string(dir.join("Shire.toml")).unwrap();
    fs::write(
        dir.join("Shire.toml"),
        manifest.replace(
            "authors = [\"Test Council\"]\n",
            "authors = [\"Test Council\"]\ninclude = [\"src/\", \"config/.env\"]\n",
        ),
    )
    .unwrap();
    club.publisher.ok(&["publish", dir.to_str().unwrap()]);
    club.approve("braintree/crm-lite@1.0.0");
    let u = &club.installer;
    u.ok(&["install", "braintree/crm-lite", "--dir", "pk"]);
    let digest = club.digest("braintree/crm-lite", "1.0.0");

    // Only the admin may take it down.
    let err = club.publisher.fails(&[
        "admin",
        "takedown",
        "braintree/crm-lite@1.0.0",
        "--reason",
        "x",
    ]);
    assert!(err.contains("not_admin"), "{err}");
    club.admin.ok(&[
        "admin",
        "takedown",
        "braintree/crm-lite@1.0.0",
        "--reason",
        "leaked a database password",
    ]);
    assert_eq!(
        status(&format!("{}/api/v1/artifacts/{digest}", club.node.url)),
        410
    );

    // A new install refuses, naming the reason; info shows it.
    let err = u.fails(&["install", "braintree/crm-lite@=1.0.0", "--dir", "fresh"]);
    assert!(
        err.contains("taken down") && err.contains("leaked a database password"),
        "{err}"
    );
    assert!(!u.path("fresh").exists());
    let info = u.ok(&["info", "braintree/crm-lite"]);
    assert!(
        info.contains("TAKEN DOWN: leaked a database password"),
        "{info}"
    );
    // The council that installed it is told by audit.
    let audit = u.ok(&["audit", "--dir", "pk"]);
    assert!(
        audit.contains("taken_down") && audit.contains("leaked a database password"),
        "{audit}"
    );
    // The log stays verifiable, takedown included.
    let verified = u.ok(&["log", "verify"]);
    assert!(verified.contains("verified"), "{verified}");
    let shown = u.ok(&["log", "show"]);
    assert!(
        shown.contains("take down braintree/crm-lite@1.0.0: leaked a database password"),
        "{shown}"
    );
}

/// Rewrites the bundle at `path` with `edit` applied to each member's bytes.
fn edit_bundle(path: &Path, edit: impl Fn(&str, Vec<u8>) -> Vec<u8>) {
    let mut members = Vec::new();
    let mut archive = tar::Archive::new(fs::File::open(path).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        members.push((name.clone(), edit(&name, bytes)));
    }
    let mut b = tar::Builder::new(fs::File::create(path).unwrap());
    for (name, bytes) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, &name, &bytes[..]).unwrap();
    }
    b.finish().unwrap();
}

#[test]
fn bundles_and_the_cache_install_with_no_registry_running() {
    let mut club = Club::new();
    club.publish(&Project::new("braintree/lib", "1.0.0"));
    club.publish(&Project::new("braintree/app", "1.0.0").dep("braintree/lib", "^1"));
    club.approve("braintree/lib@1.0.0");
    club.approve("braintree/app@1.0.0");
    let maker = &club.installer;
    let node_key = club.node.get_json("/api/v1/node")["note_key"]
        .as_str()
        .unwrap()
        .to_string();
    let bundle = maker.path("app.bundle");
    let b = bundle.to_str().unwrap();
    let made = maker.ok(&["bundle", "braintree/app", "-o", b]);
    assert!(made.contains("bundled braintree/lib@1.0.0"), "{made}");
    maker.ok(&["install", "braintree/app", "--dir", "online"]);

    // A second bundle made after a revocation: its log holds the revocation.
    club.verifier
        .ok(&["revoke", "braintree/lib@1.0.0", "--reason", "CVE-2026-1234"]);
    club.publish(&Project::new("braintree/lib", "1.0.1"));
    club.approve("braintree/lib@1.0.1");
    let later = maker.path("later.bundle");
    maker.ok(&["bundle", "braintree/app", "-o", later.to_str().unwrap()]);

    // The air-gapped council trusts the verifier and was given the node key.
    let council = User::new(&club.node.url, None);
    council.ok(&["trust", "add", &club.verifier_key]);
    club.node.kill9();

    // No key pinned and none given: refused.
    let err = council.fails(&["install", "--from", b, "--dir", "pk"]);
    assert!(err.contains("--node-key"), "{err}");
    // With the key: installs what the bundle was made for, with no registry.
    let out = council.ok(&[
        "install",
        "--from",
        b,
        "--dir",
        "pk",
        "--node-key",
        &node_key,
    ]);
    assert!(out.contains("installed braintree/app@1.0.0"), "{out}");
    assert!(council.path("pk/braintree/lib/src/main.py").exists());
    let lock = fs::read_to_string(council.path("pk/shire.lock")).unwrap();
    assert!(lock.contains(&club.node.url), "{lock}");
    // The first bundle is now older than what this machine verified: refused.
    let later_s = later.to_str().unwrap();
    council.ok(&["install", "--from", later_s, "--dir", "pk2"]);
    let err = council.fails(&["install", "--from", b, "--dir", "pk3"]);
    assert!(
        err.contains("older than the one this machine verified"),
        "{err}"
    );

    // Tampering is refused: an artifact's bytes...
    let tampered = council.path("tampered.bundle");
    fs::copy(&bundle, &tampered).unwrap();
    edit_bundle(&tampered, |name, mut bytes| {
        if name.starts_with("artifacts/") {
            let n = bytes.len();
            bytes[n / 2] ^= 0xff;
        }
        bytes
    });
    let fresh = User::new(&club.node.url, None);
    fresh.ok(&["trust", "add", &club.verifier_key]);
    let t = tampered.to_str().unwrap();
    let err = fresh.fails(&[
        "install",
        "--from",
        t,
        "--dir",
        "pk",
        "--node-key",
        &node_key,
    ]);
    assert!(err.contains("digest mismatch"), "{err}");
    // ...and a revocation left out of the log.
    let hidden = council.path("hidden.bundle");
    fs::copy(&later, &hidden).unwrap();
    edit_bundle(&hidden, |name, bytes| {
        if name != "log.json" {
            return bytes;
        }
        let mut log: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let entries = log["entries"].as_array_mut().unwrap();
        let revocation = entries
            .iter()
            .position(|e| {
                let data = e["data"].as_str().unwrap();
                let text = String::from_utf8(
                    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data)
                        .unwrap(),
                )
                .unwrap();
                text.contains("\"verdict\"") && {
                    let ev: serde_json::Value = serde_json::from_str(&text).unwrap();
                    let payload = ev["envelope"]["payload"].as_str().unwrap();
                    String::from_utf8(
                        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, payload)
                            .unwrap(),
                    )
                    .unwrap()
                    .contains("revoke")
                }
            })
            .unwrap();
        entries.remove(revocation);
        for (i, e) in entries.iter_mut().enumerate() {
            e["index"] = serde_json::json!(i);
        }
        serde_json::to_vec(&log).unwrap()
    });
    let other = User::new(&club.node.url, None);
    other.ok(&["trust", "add", &club.verifier_key]);
    let h = hidden.to_str().unwrap();
    let err = other.fails(&[
        "install",
        "--from",
        h,
        "--dir",
        "pk",
        "--node-key",
        &node_key,
    ]);
    assert!(err.contains("verifying the bundle"), "{err}");
    assert!(!other.path("pk").exists());

    // The maker installs again from its cache, offline.
    let out = maker.ok(&[
        "install",
        "--offline",
        "braintree/app@=1.0.0",
        "--dir",
        "again",
    ]);
    assert!(out.contains("installed braintree/app@1.0.0"), "{out}");
    assert!(maker.path("again/braintree/lib/src/main.py").exists());
}
