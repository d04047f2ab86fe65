//! Which files of a project go into its archive, and which never may.
//!
//! Without `include` in `Shire.toml`, every file is packaged except what the
//! project's `.gitignore` files and `.shireignore` files (same syntax, read
//! with ripgrep's `ignore` crate; `.shireignore` wins over `.gitignore`)
//! leave out, what `exclude` names, VCS folders and `node_modules` anywhere,
//! and the top-level `target/` and `shire-packages/` folders. With `include`,
//! only the files it matches are packaged (ignore files are not read, as in
//! cargo), less what `exclude` names. `Shire.toml` is always packaged.
//!
//! Files that are almost always secrets ([`secret_kind`]: by name, or any
//! file holding a private key) are refused unless `include` names the file
//! itself by its path from the project's root: a published artifact can
//! never be withdrawn from everyone who downloaded it.
//!
//! Folders are packaged as the parents of what is packaged; an empty folder
//! is not.

use super::MANIFEST_FILE;
use crate::home::is_executable;
use anyhow::{bail, Context, Result};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::WalkBuilder;
use shire_core::manifest::PackageSection;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The project's own ignore file, read beside `.gitignore` in every folder.
pub const SHIREIGNORE: &str = ".shireignore";
/// Folders never packaged, wherever they are.
const SKIPPED_EVERYWHERE: &[&str] = &[".git", ".hg", ".svn", "node_modules"];
/// Top-level folders never packaged: build output (the archive itself is
/// written to `target/shire/`) and the default install folder.
const SKIPPED_AT_TOP: &[&str] = &["target", "shire-packages"];

/// One thing to put in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A folder.
    Dir,
    /// A regular file on disk.
    File {
        /// Where it is.
        path: PathBuf,
        /// Whether any execute bit is set.
        executable: bool,
    },
    /// A symbolic link, with its target as written.
    Symlink(PathBuf),
}

/// A project's content in archive order: `(path inside the archive, source)`,
/// sorted by path components (a depth-first walk with names sorted).
pub type Selection = Vec<(String, Source)>;

/// Selects the files of the project at `root` under `package`'s `include`
/// and `exclude`, refusing files that look like secrets (see the module doc).
pub fn select(root: &Path, package: &PackageSection) -> Result<Selection> {
    let include = matcher(root, "include", &package.include)?;
    let exclude = matcher(root, "exclude", &package.exclude)?;
    let mut walk = WalkBuilder::new(root);
    walk.standard_filters(false)
        .hidden(false)
        .parents(false)
        .ignore(false)
        .git_global(false)
        .git_exclude(false)
        .follow_links(false)
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            !(is_dir
                && (SKIPPED_EVERYWHERE.contains(&name.as_ref())
                    || (e.depth() == 1 && SKIPPED_AT_TOP.contains(&name.as_ref()))))
        });
    if package.include.is_empty() {
        walk.git_ignore(true)
            .require_git(false)
            .add_custom_ignore_filename(SHIREIGNORE);
    } else {
        walk.git_ignore(false);
    }

    let mut picked: BTreeMap<Vec<String>, Source> = BTreeMap::new();
    let mut secrets = Vec::new();
    for entry in walk.build() {
        let entry = entry.with_context(|| format!("listing {}", root.display()))?;
        if entry.depth() == 0 {
            continue;
        }
        let rel = relative(root, entry.path())?;
        let meta = std::fs::symlink_metadata(entry.path())
            .with_context(|| format!("reading {}", entry.path().display()))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            continue;
        }
        let source = if ft.is_symlink() {
            let target = std::fs::read_link(entry.path())
                .with_context(|| format!("reading link {}", entry.path().display()))?;
            Source::Symlink(target)
        } else if ft.is_file() {
            Source::File {
                path: entry.path().to_path_buf(),
                executable: is_executable(&meta),
            }
        } else {
            bail!("{rel} is not a file, folder or link and cannot be packaged");
        };
        if rel != MANIFEST_FILE {
            if !package.include.is_empty()
                && !include.matched_path_or_any_parents(&rel, false).is_ignore()
            {
                continue;
            }
            if exclude.matched_path_or_any_parents(&rel, false).is_ignore() {
                continue;
            }
            if let Some(kind) = secret_kind(&rel, entry.path())? {
                if !named_in(&package.include, &rel) {
                    secrets.push(format!("{rel} ({kind})"));
                    continue;
                }
            }
        }
        let parts: Vec<String> = rel.split('/').map(str::to_string).collect();
        for depth in 1..parts.len() {
            picked.entry(parts[..depth].to_vec()).or_insert(Source::Dir);
        }
        picked.insert(parts, source);
    }
    // The manifest goes in whatever an ignore file says.
    let manifest = root.join(MANIFEST_FILE);
    if !picked.contains_key(&vec![MANIFEST_FILE.to_string()]) && manifest.is_file() {
        let meta = std::fs::symlink_metadata(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        picked.insert(
            vec![MANIFEST_FILE.to_string()],
            Source::File {
                executable: is_executable(&meta),
                path: manifest,
            },
        );
    }
    if !secrets.is_empty() {
        bail!(
            "refusing to package what looks like secrets: {}. Anyone can download a published artifact for good: leave them out with .gitignore, {SHIREIGNORE} or `exclude` in {MANIFEST_FILE}, or, to publish one on purpose, name the file itself under `include`",
            secrets.join(", ")
        );
    }
    Ok(picked
        .into_iter()
        .map(|(parts, source)| (parts.join("/"), source))
        .collect())
}

/// A gitignore-syntax matcher of `patterns`, rooted at the project.
fn matcher(root: &Path, field: &str, patterns: &[String]) -> Result<Gitignore> {
    let mut b = GitignoreBuilder::new(root);
    for p in patterns {
        b.add_line(None, p)
            .with_context(|| format!("package.{field} in {MANIFEST_FILE}: {p:?}"))?;
    }
    b.build()
        .with_context(|| format!("package.{field} in {MANIFEST_FILE}"))
}

/// `path` relative to `root`, with `/` separators; refuses names that are
/// not UTF-8 (an archive path must be text).
fn relative(root: &Path, path: &Path) -> Result<String> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut parts = Vec::new();
    for c in rel.components() {
        let Some(s) = c.as_os_str().to_str() else {
            bail!("{} has a file name that is not UTF-8", path.display());
        };
        parts.push(s);
    }
    Ok(parts.join("/"))
}

/// Whether `include` names the file at `rel` itself, by its whole path from
/// the project's root, rather than matching it with a wildcard, a folder or
/// a bare file name that other folders' files share.
fn named_in(include: &[String], rel: &str) -> bool {
    include
        .iter()
        .any(|p| p.trim().trim_start_matches('/') == rel)
}

/// File names (lower-cased) that hold credentials for common tools.
const SECRET_NAMES: &[(&str, &str)] = &[
    (".npmrc", "an npm credentials file"),
    (".pypirc", "a PyPI credentials file"),
    (".netrc", "a netrc credentials file"),
    (".pgpass", "a PostgreSQL password file"),
    (".git-credentials", "a git credentials file"),
    (".htpasswd", "a password file"),
    ("id_rsa", "an SSH private key"),
    ("id_dsa", "an SSH private key"),
    ("id_ecdsa", "an SSH private key"),
    ("id_ed25519", "an SSH private key"),
];

/// File name endings (lower-cased) of keys, keystores and state files.
const SECRET_SUFFIXES: &[(&str, &str)] = &[
    (".env", "an environment file"),
    (".key", "a key file"),
    (".ppk", "a PuTTY private key"),
    (".p12", "a keystore"),
    (".pfx", "a keystore"),
    (".jks", "a keystore"),
    (".keystore", "a keystore"),
    (".tfstate", "a Terraform state file"),
    (".tfstate.backup", "a Terraform state file"),
];

/// Markers of a private key in a file's first MiB.
const KEY_MARKERS: &[&str] = &["PRIVATE KEY-----", "PuTTY-User-Key-File"];

/// Why the file at `rel` (on disk at `path`) looks like a secret, if it
/// does: by name (`.env*`, `*.env`, `*credentials*`, SSH keys, `*.key`,
/// keystores, tool credential files, Terraform state, `.docker/config.json`)
/// or by content (a private key block in its first MiB, whatever its name).
pub fn secret_kind(rel: &str, path: &Path) -> Result<Option<&'static str>> {
    let lower = rel.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    let by_name = if name.starts_with(".env") {
        Some("an environment file")
    } else if name.contains("credentials") {
        Some("a credentials file")
    } else if lower == ".docker/config.json" || lower.ends_with("/.docker/config.json") {
        Some("a Docker credentials file")
    } else {
        SECRET_NAMES
            .iter()
            .find(|(n, _)| name == *n)
            .or_else(|| SECRET_SUFFIXES.iter().find(|(s, _)| name.ends_with(s)))
            .map(|(_, kind)| *kind)
    };
    if by_name.is_some() {
        return Ok(by_name);
    }
    Ok(holds_private_key(path)?.then_some("a private key"))
}

/// Whether a file holds a private key block (only its first 1 MiB is read).
fn holds_private_key(path: &Path) -> Result<bool> {
    let meta =
        std::fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !meta.is_file() {
        return Ok(false);
    }
    let mut text = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(1 << 20).read_to_end(&mut text))
        .with_context(|| format!("reading {}", path.display()))?;
    let text = String::from_utf8_lossy(&text);
    Ok(KEY_MARKERS.iter().any(|m| text.contains(m)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shire_core::{Manifest, PackageName};

    fn section(include: &[&str], exclude: &[&str]) -> PackageSection {
        let mut m = Manifest::skeleton(PackageName::parse("braintree/crm").unwrap());
        m.package.include = include.iter().map(|s| s.to_string()).collect();
        m.package.exclude = exclude.iter().map(|s| s.to_string()).collect();
        m.package
    }

    fn write(root: &Path, files: &[(&str, &str)]) {
        for (rel, text) in files {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
    }

    fn paths(sel: &Selection) -> Vec<&str> {
        sel.iter().map(|(p, _)| p.as_str()).collect()
    }

    #[test]
    fn honours_gitignore_shireignore_and_exclude() {
        let t = tempfile::tempdir().unwrap();
        write(
            t.path(),
            &[
                (MANIFEST_FILE, ""),
                (".gitignore", "build/\n*.log\n"),
                (SHIREIGNORE, "docs/draft*\n!keep.log\n"),
                ("src/main.py", "x"),
                ("src/debug.log", "x"),
                ("keep.log", "x"),
                ("build/out.bin", "x"),
                ("docs/draft-1.md", "x"),
                ("docs/final.md", "x"),
                ("node_modules/left/index.js", "x"),
                ("web/node_modules/left/index.js", "x"),
                ("tests/big.bin", "x"),
                ("target/debug/x", "x"),
                (".git/HEAD", "x"),
                ("sub/.gitignore", "secret-notes.txt\n"),
                ("sub/secret-notes.txt", "x"),
                ("sub/ok.txt", "x"),
            ],
        );
        let sel = select(t.path(), &section(&[], &["tests/"])).unwrap();
        assert_eq!(
            paths(&sel),
            vec![
                ".gitignore",
                SHIREIGNORE,
                MANIFEST_FILE,
                "docs",
                "docs/final.md",
                "keep.log",
                "src",
                "src/main.py",
                "sub",
                "sub/.gitignore",
                "sub/ok.txt",
            ]
        );
    }

    #[test]
    fn finds_secrets_by_many_names_and_by_content() {
        let t = tempfile::tempdir().unwrap();
        let cases = [
            ("production.env", "X=1", true),
            ("config/app.env", "X=1", true),
            ("my-credentials", "x", true),
            (".npmrc", "//registry/:_authToken=x", true),
            (".netrc", "machine x", true),
            (".git-credentials", "https://u:p@h", true),
            ("server.ppk", "x", true),
            ("app.keystore", "x", true),
            ("infra/terraform.tfstate", "{}", true),
            (".docker/config.json", "{}", true),
            ("deploy_key", "-----BEGIN OPENSSH PRIVATE KEY-----\n", true),
            ("server.crt", "-----BEGIN RSA PRIVATE KEY-----\n", true),
            ("putty.txt", "PuTTY-User-Key-File-3: ssh-ed25519\n", true),
            ("README.md", "how to make a private key", false),
            ("environment.py", "x", false),
            ("docs/config.json", "{}", false),
        ];
        for (rel, text, secret) in cases {
            write(t.path(), &[(rel, text)]);
            let got = secret_kind(rel, &t.path().join(rel)).unwrap();
            assert_eq!(got.is_some(), secret, "{rel}: {got:?}");
        }
    }

    #[test]
    fn the_manifest_goes_in_whatever_the_ignore_files_say() {
        let t = tempfile::tempdir().unwrap();
        write(
            t.path(),
            &[
                (MANIFEST_FILE, ""),
                (".gitignore", "Shire.toml\n"),
                ("a.py", "x"),
            ],
        );
        let sel = select(t.path(), &section(&[], &[MANIFEST_FILE])).unwrap();
        assert_eq!(paths(&sel), vec![".gitignore", MANIFEST_FILE, "a.py"]);
    }

    #[test]
    fn include_packages_only_what_it_names() {
        let t = tempfile::tempdir().unwrap();
        write(
            t.path(),
            &[
                (MANIFEST_FILE, ""),
                (".gitignore", "src/generated.py\n"),
                ("src/main.py", "x"),
                ("src/generated.py", "x"),
                ("src/test_main.py", "x"),
                ("README.md", "x"),
                ("notes.txt", "x"),
            ],
        );
        let sel = select(t.path(), &section(&["src/", "README.md"], &["test_*"])).unwrap();
        assert_eq!(
            paths(&sel),
            vec![
                "README.md",
                MANIFEST_FILE,
                "src",
                "src/generated.py",
                "src/main.py"
            ]
        );
    }

    #[test]
    fn refuses_secrets_naming_each_unless_included_by_name() {
        let t = tempfile::tempdir().unwrap();
        write(
            t.path(),
            &[
                (MANIFEST_FILE, ""),
                ("main.py", "x"),
                (".env", "DB_PASSWORD=hunter2"),
                ("config/.env.production", "X=1"),
                ("deploy/id_rsa", "key"),
                ("certs/server.pem", "-----BEGIN PRIVATE KEY-----\nabc\n"),
                ("certs/ca.pem", "-----BEGIN CERTIFICATE-----\nabc\n"),
                ("tls.key", "k"),
                ("aws/credentials.json", "{}"),
            ],
        );
        let err = format!("{:#}", select(t.path(), &section(&[], &[])).unwrap_err());
        for named in [
            ".env (an environment file)",
            "config/.env.production",
            "deploy/id_rsa (an SSH private key)",
            "certs/server.pem (a private key)",
            "tls.key",
            "aws/credentials.json",
        ] {
            assert!(err.contains(named), "{named} missing from {err}");
        }
        assert!(!err.contains("ca.pem"), "{err}");
        // A wildcard or a folder under include does not let a secret through...
        let err = select(
            t.path(),
            &section(&["*", "certs/"], &[".env*", "deploy/", "aws/"]),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("certs/server.pem"), "{err:#}");
        assert!(!format!("{err:#}").contains(".env"), "{err:#}");
        // ...naming the file does; ignoring the others leaves them out.
        let sel = select(
            t.path(),
            &section(&["main.py", "certs/", "certs/server.pem"], &["tls.key"]),
        )
        .unwrap();
        assert_eq!(
            paths(&sel),
            vec![
                MANIFEST_FILE,
                "certs",
                "certs/ca.pem",
                "certs/server.pem",
                "main.py"
            ]
        );
    }
}
