//! The federation configuration file (`serve --config FILE`, `sync --config
//! FILE`): node-level options and the `[[peer]]` list, parsed from TOML and
//! checked before anything starts. See `docs/federation.md`.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use shire_core::OrgName;
use shire_tlog::{parse_note_verifier_key, Origin};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole file: every `serve` setting, and the peers. Layered by
/// `crate::cli` (figment): the file, then `SHIRE_<NAME>` environment
/// variables, then flags; what none sets takes its default.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Data folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// Listen address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Origin name (first start only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Approval threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    /// Largest artifact upload, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_upload: Option<u64>,
    /// Cap of the database's page cache, in MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_mib: Option<u64>,
    /// Free space kept on the data folder's disk, in MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_free_mib: Option<u64>,
    /// `text` or `json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
    /// HTTP worker threads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<u64>,
    /// How often an up-to-date peer is polled, in milliseconds (default 10 000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_interval_ms: Option<u64>,
    /// First retry delay after a peer is unreachable, in milliseconds (default 1 000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_min_ms: Option<u64>,
    /// Longest retry delay, in milliseconds (default 300 000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_max_ms: Option<u64>,
    /// Entries fetched and applied per transaction (default 256).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<u64>,
    /// The first wait after a failed webhook delivery, in milliseconds
    /// (default 10 000; doubled each time, at most an hour).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_retry_ms: Option<u64>,
    /// Whether webhooks may go to private and loopback addresses (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_allow_private: Option<bool>,
    /// Where the node keeps its data (`[storage]`; absent: embedded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<crate::store::shared::StorageSection>,
    /// The peers followed.
    #[serde(default, rename = "peer", skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<PeerFileEntry>,
}

/// One `[[peer]]` table as written.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PeerFileEntry {
    /// A short name, unique in the file.
    pub name: String,
    /// Base URL of the node to fetch from.
    pub url: String,
    /// The origin whose log is followed.
    pub origin: String,
    /// The origin node's C2SP note verifier key (its `GET /api/v1/node` `note_key`).
    pub node_key: String,
    /// Organisation-name patterns (`*` matches any run of characters) the origin is home of.
    pub home_of: Vec<String>,
    /// Set when `url` is a relay (another node) re-serving `origin`'s log;
    /// names the relay, for display.
    pub via: Option<String>,
    /// Cosign the origin's checkpoints once verified.
    #[serde(default)]
    pub witness: bool,
}

/// A checked peer.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// Name.
    pub name: String,
    /// Base URL without a trailing slash.
    pub url: String,
    /// Origin.
    pub origin: Origin,
    /// The origin's checkpoint key.
    pub key: ed25519_dalek::VerifyingKey,
    /// Home patterns.
    pub home_of: Vec<OrgPattern>,
    /// Relay name, if fetched through a relay.
    pub via: Option<String>,
    /// Cosign its checkpoints.
    pub witness: bool,
}

/// Timing and batching of the followers.
#[derive(Debug, Clone, Copy)]
pub struct FollowOptions {
    /// Poll period when up to date.
    pub poll_interval: Duration,
    /// First retry delay.
    pub retry_min: Duration,
    /// Retry delay cap.
    pub retry_max: Duration,
    /// Entries per batch (one transaction each).
    pub batch: u64,
}

impl Default for FollowOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(10),
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            batch: 256,
        }
    }
}

/// The federation part of a node's settings.
#[derive(Debug, Clone, Default)]
pub struct FederationConfig {
    /// Peers followed.
    pub peers: Vec<PeerConfig>,
    /// Timing.
    pub options: FollowOptions,
}

impl PeerConfig {
    /// Base URL of the log this peer serves for its origin: the node's own log,
    /// or a relay's mirror of it.
    pub fn log_base(&self) -> String {
        match &self.via {
            None => format!("{}/api/v1/log", self.url),
            Some(_) => format!("{}/api/v1/mirrors/{}/log", self.url, self.origin.as_str()),
        }
    }

    /// The name of the origin's log, which its statements are signed for:
    /// its note verifier key.
    pub fn log_name(&self) -> String {
        shire_tlog::note_verifier_key(&self.origin, &self.key)
    }

    /// Whether the origin is home of `org` by this peer's patterns.
    pub fn is_home_of(&self, org: &OrgName) -> bool {
        self.home_of.iter().any(|p| p.matches(org.as_str()))
    }
}

/// A pattern on organisation names: literal characters and `*` (any run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgPattern(String);

impl OrgPattern {
    /// Parses a pattern: lowercase letters, digits, `-` and `*`.
    pub fn parse(p: &str) -> Result<Self> {
        if p.is_empty()
            || !p
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '*')
        {
            bail!("home_of pattern {p:?} may hold only a-z, 0-9, '-' and '*'");
        }
        Ok(Self(p.to_string()))
    }

    /// Whether `name` matches (the whole name).
    pub fn matches(&self, name: &str) -> bool {
        glob_match(self.0.as_bytes(), name.as_bytes())
    }
}

/// `*`-only wildcard matching, linear with backtracking to the last star.
fn glob_match(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

impl FileConfig {
    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self> {
        Ok(toml::from_str(text)?)
    }

    /// Checks the peers and timing.
    pub fn federation(&self) -> Result<FederationConfig> {
        let mut peers: Vec<PeerConfig> = Vec::new();
        for p in &self.peers {
            let peer = p.check().with_context(|| format!("peer {:?}", p.name))?;
            if peers.iter().any(|q| q.name == peer.name) {
                bail!("two peers are named {:?}", peer.name);
            }
            if let Some(q) = peers
                .iter()
                .find(|q| q.origin == peer.origin && q.key != peer.key)
            {
                bail!(
                    "peers {:?} and {:?} follow origin {} with different keys",
                    q.name,
                    peer.name,
                    peer.origin
                );
            }
            peers.push(peer);
        }
        let d = FollowOptions::default();
        let ms = |v: Option<u64>, def: Duration| v.map(Duration::from_millis).unwrap_or(def);
        let options = FollowOptions {
            poll_interval: ms(self.poll_interval_ms, d.poll_interval),
            retry_min: ms(self.retry_min_ms, d.retry_min).max(Duration::from_millis(1)),
            retry_max: ms(self.retry_max_ms, d.retry_max),
            batch: self.batch.unwrap_or(d.batch).clamp(1, 10_000),
        };
        if options.retry_max < options.retry_min {
            bail!("retry_max_ms is below retry_min_ms");
        }
        Ok(FederationConfig { peers, options })
    }
}

impl PeerFileEntry {
    fn check(&self) -> Result<PeerConfig> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            bail!("a peer name may hold only letters, digits, '-', '_' and '.'");
        }
        let url = self.url.trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("url {:?} is not http(s)", self.url);
        }
        let origin = Origin::parse(&self.origin)
            .map_err(|e| anyhow::anyhow!("origin {:?}: {e}", self.origin))?;
        let (key_origin, key) = parse_note_verifier_key(self.node_key.trim())
            .map_err(|e| anyhow::anyhow!("node_key: {e}"))?;
        if key_origin != origin {
            bail!(
                "node_key is the key of {key_origin}, not of origin {}",
                self.origin
            );
        }
        if self.home_of.is_empty() {
            bail!("home_of is empty: the peer would be home of no organisation");
        }
        let home_of = self
            .home_of
            .iter()
            .map(|p| OrgPattern::parse(p))
            .collect::<Result<_>>()?;
        Ok(PeerConfig {
            name: self.name.clone(),
            url,
            origin,
            key,
            home_of,
            via: self.via.clone(),
            witness: self.witness,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shire_core::KeyPair;

    fn vkey(origin: &str) -> String {
        signed_note::new_ed25519_verifier_key(origin, KeyPair::generate().public().dalek())
    }

    #[test]
    fn patterns_match_whole_names_only() {
        let p = OrgPattern::parse("a-*").unwrap();
        assert!(p.matches("a-council"));
        assert!(p.matches("a-"));
        assert!(!p.matches("ba-council"));
        assert!(!p.matches("a"));
        let q = OrgPattern::parse("*-kent-*").unwrap();
        assert!(q.matches("x-kent-y"));
        assert!(!q.matches("kent-y"));
        assert!(OrgPattern::parse("exact").unwrap().matches("exact"));
        assert!(!OrgPattern::parse("exact").unwrap().matches("exactly"));
        assert!(OrgPattern::parse("*").unwrap().matches("anything"));
        assert!(OrgPattern::parse("a?").is_err());
        assert!(OrgPattern::parse("").is_err());
        assert!(OrgPattern::parse("A-*").is_err());
    }

    #[test]
    fn a_full_file_parses_and_checks() {
        let k = vkey("a.example");
        let text = format!(
            r#"
data = "/srv/shire"
threshold = 2
poll_interval_ms = 500
[[peer]]
name = "a"
url = "http://127.0.0.1:9/"
origin = "a.example"
node_key = "{k}"
home_of = ["a-*", "alpha"]
witness = true
[[peer]]
name = "a-via-b"
url = "http://127.0.0.1:10"
origin = "a.example"
node_key = "SECOND"
home_of = ["a-*"]
via = "b"
"#
        );
        // The same origin with another key: refused.
        let bad = text.replace("SECOND", &vkey("a.example"));
        assert!(FileConfig::parse(&bad).unwrap().federation().is_err());
        let f = FileConfig::parse(&text.replace("SECOND", &k)).unwrap();
        assert_eq!(f.threshold, Some(2));
        let fed = f.federation().unwrap();
        assert_eq!(fed.peers.len(), 2);
        assert_eq!(fed.peers[0].url, "http://127.0.0.1:9");
        assert_eq!(fed.peers[0].log_base(), "http://127.0.0.1:9/api/v1/log");
        assert_eq!(
            fed.peers[1].log_base(),
            "http://127.0.0.1:10/api/v1/mirrors/a.example/log"
        );
        assert!(fed.peers[0].witness && !fed.peers[1].witness);
        assert!(fed.peers[0].is_home_of(&OrgName::parse("alpha").unwrap()));
        assert!(!fed.peers[1].is_home_of(&OrgName::parse("alpha").unwrap()));
        assert_eq!(fed.options.poll_interval, Duration::from_millis(500));
    }

    #[test]
    fn bad_peers_are_refused_with_a_reason() {
        let k = vkey("a.example");
        let peer = |extra: &str| {
            format!(
                "[[peer]]\nname = \"a\"\nurl = \"http://x\"\norigin = \"a.example\"\nnode_key = \"{k}\"\n{extra}"
            )
        };
        let err = |t: String| {
            format!(
                "{:#}",
                FileConfig::parse(&t)
                    .and_then(|f| f.federation())
                    .unwrap_err()
            )
        };
        assert!(err(peer("home_of = []")).contains("home_of is empty"));
        assert!(
            err(peer("home_of = [\"a-*\"]").replace("a.example\"\nnode", "b.example\"\nnode"))
                .contains("not of origin")
        );
        assert!(err(peer("home_of = [\"a-*\"]\nsurprise = 1")).contains("surprise"));
        assert!(
            err(peer("home_of = [\"a-*\"]").replace("http://x", "ftp://x")).contains("not http")
        );
        let two = format!(
            "{}\n{}",
            peer("home_of = [\"a-*\"]"),
            peer("home_of = [\"a-*\"]")
        );
        assert!(err(two).contains("two peers"));
    }
}
