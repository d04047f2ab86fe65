//! The shared backend's services for tests: a real PostgreSQL and a real S3
//! API (moto) on loopback, started by `tests/services/up.sh` unless
//! `SHIRE_TEST_POSTGRES` and `SHIRE_TEST_S3` already name running ones (as
//! `.ci/run` sets them). Each [`SharedStorage::fresh`] is a new, empty
//! database and a new prefix in the test bucket: one node's storage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where the services listen.
#[derive(Debug, Clone)]
struct Services {
    /// `postgres://...` of the server's maintenance database.
    postgres: String,
    /// The S3 API's endpoint (`http://127.0.0.1:PORT`).
    s3: String,
}

fn services() -> &'static Services {
    static SERVICES: OnceLock<Services> = OnceLock::new();
    SERVICES.get_or_init(|| {
        if let (Ok(postgres), Ok(s3)) = (
            std::env::var("SHIRE_TEST_POSTGRES"),
            std::env::var("SHIRE_TEST_S3"),
        ) {
            return Services { postgres, s3 };
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("services/up.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let var = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap_or_else(|| panic!("{} printed no {name}", script.display()))
                .to_string()
        };
        Services {
            postgres: var("SHIRE_TEST_POSTGRES"),
            s3: var("SHIRE_TEST_S3"),
        }
    })
}

fn psql() -> PathBuf {
    if let Ok(out) = Command::new("sh").args(["-c", "command -v psql"]).output() {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !p.is_empty() {
            return PathBuf::from(p);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin/psql"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop().expect("psql is not installed")
}

/// Runs SQL against the services' maintenance database.
pub fn sql(statement: &str) {
    rows(statement);
}

/// Runs SQL against the services' maintenance database; the rows it
/// answered, one line each (columns separated by `|`).
fn rows(statement: &str) -> Vec<String> {
    let out = Command::new(psql())
        .arg(&services().postgres)
        .args(["-v", "ON_ERROR_STOP=1", "-qXAtc", statement])
        .output()
        .expect("running psql");
    assert!(
        out.status.success(),
        "psql {statement:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The prefix of every database [`SharedStorage::fresh`] creates on this
/// machine: `shire_t`, the host's name (its letters and digits, at most
/// 12), and `_`; the creating process's id follows, then `_`. Only this
/// machine's processes can be told to have ended, so only its databases
/// are ever swept.
fn database_prefix() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host: String = host
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(12)
        .collect();
    format!("shire_t{host}_")
}

/// Drops the databases that test processes of this machine no longer
/// running created (their id names no process here), once per process:
/// the services outlive a test run, and each run creates a database per
/// node.
fn sweep_databases(prefix: &str) {
    static SWEPT: OnceLock<()> = OnceLock::new();
    SWEPT.get_or_init(|| sweep_databases_now(prefix));
}

/// [`sweep_databases`], every time it is called.
fn sweep_databases_now(prefix: &str) {
    let listed = rows(&format!(
        "SELECT datname FROM pg_database WHERE starts_with(datname, '{prefix}')"
    ));
    for name in listed {
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('_'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// One node's shared storage: its own database and bucket prefix.
#[derive(Debug, Clone)]
pub struct SharedStorage {
    /// The node's PostgreSQL database.
    pub postgres: String,
    /// The node's artifacts (`s3://shire-test/<prefix>`).
    pub objects: String,
    /// `object_store` options reaching the test S3 API.
    pub options: BTreeMap<String, String>,
}

impl SharedStorage {
    /// A new, empty database and bucket prefix. The databases of earlier
    /// test processes that have ended are dropped first.
    pub fn fresh() -> SharedStorage {
        let s = services();
        let prefix = database_prefix();
        sweep_databases(&prefix);
        let name = format!(
            "{prefix}{}_{}",
            std::process::id(),
            hex::encode(rand::random::<[u8; 8]>())
        );
        sql(&format!("CREATE DATABASE {name}"));
        let base = s
            .postgres
            .rsplit_once('/')
            .map(|(b, _)| b)
            .unwrap_or(&s.postgres);
        let options = [
            ("aws_endpoint", s.s3.as_str()),
            ("aws_allow_http", "true"),
            ("aws_region", "eu-west-2"),
            ("aws_access_key_id", "test"),
            ("aws_secret_access_key", "test"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        SharedStorage {
            postgres: format!("{base}/{name}"),
            objects: format!("s3://shire-test/{name}"),
            options,
        }
    }

    /// The `[storage]` table of a configuration file for it.
    pub fn toml(&self) -> String {
        let mut out = format!(
            "[storage]\nbackend = \"shared\"\npostgres = {:?}\nobjects = {:?}\n\n[storage.options]\n",
            self.postgres, self.objects
        );
        for (k, v) in &self.options {
            out.push_str(&format!("{k} = {v:?}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the services hold a database named `name`.
    fn exists(name: &str) -> bool {
        !rows(&format!(
            "SELECT 1 FROM pg_database WHERE datname = '{name}'"
        ))
        .is_empty()
    }

    #[test]
    fn only_the_databases_of_ended_processes_are_swept() {
        let prefix = database_prefix();
        // u32::MAX is past any process id Linux hands out.
        let ended = format!("{prefix}{}_sweeptest", u32::MAX);
        let running = format!("{prefix}{}_sweeptest", std::process::id());
        let elsewhere = format!("shire_tothermachine_{}_sweeptest", u32::MAX);
        for name in [&ended, &running, &elsewhere] {
            sql(&format!("CREATE DATABASE {name}"));
        }
        sweep_databases_now(&prefix);
        assert!(!exists(&ended), "an ended process's database is dropped");
        assert!(exists(&running), "a running process's database stays");
        assert!(exists(&elsewhere), "another machine's database stays");
        for name in [&running, &elsewhere] {
            sql(&format!("DROP DATABASE {name}"));
        }
    }
}
