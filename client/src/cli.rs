//! The command line, as clap derive types: every command, its arguments and the
//! global options (`--registry`, `--json`).
//!
//! Arguments that name things are parsed here into `shire_core` newtypes
//! (`PackageName`, `OrgName`, `Version`, `VersionReq`, `KeyId`), so commands never
//! see a raw string where a checked name belongs.

use crate::transparency::NodeKey;
use clap::{Args, Parser, Subcommand};
use shire_core::wire::Role;
use shire_core::{KeyId, OrgName, PackageName, Version, VersionReq};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// The registry a client talks to when none is given.
pub const DEFAULT_REGISTRY: &str = "http://127.0.0.1:7878";

/// `shire`: publish, verify, search, install and audit council software.
#[derive(Debug, Parser)]
#[command(name = "shire", version, about, propagate_version = true)]
pub struct Cli {
    /// Registry URL.
    #[arg(long, global = true, env = "SHIRE_REGISTRY", default_value = DEFAULT_REGISTRY)]
    pub registry: String,
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// The registry node's key, as a C2SP note verifier key
    /// (`origin+<key id>+<base64>`, as `shire-registry key` prints it). Without
    /// it the key the node presents is pinned on first use.
    #[arg(long, global = true, env = "SHIRE_NODE_KEY", value_name = "KEY")]
    pub node_key: Option<NodeKey>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Every `shire` command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Registry operator commands (need an admin token).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Check a token with the registry and remember it for this registry.
    Login {
        /// The API token (from `shire admin user create`).
        #[arg(long)]
        token: String,
    },
    /// Forget the token stored for this registry.
    Logout,
    /// Show the account the current token belongs to.
    Whoami,
    /// The account's API tokens: list, create (with scopes and expiry), revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Support statements: a supplier offers to support a package until a
    /// date; the package's organisation accepts the offer.
    #[command(subcommand)]
    Support(SupportCommand),
    /// Your organisation's webhooks: signed notifications of releases
    /// awaiting review, verdicts, yanks and takedowns.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Manage this machine's signing key.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Write a Shire.toml for a new package (mapping a publiccode.yml beside it).
    #[command(disable_version_flag = true)]
    Init(InitArgs),
    /// Build the package archive of a project and print its digest.
    Package {
        /// The project folder holding Shire.toml.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Print the files that would be packaged, and build nothing.
        #[arg(long, short = 'l')]
        list: bool,
    },
    /// Package, upload and sign a release.
    Publish {
        /// The project folder holding Shire.toml.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Package and sign, but upload nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Search the catalogue by name, description, keywords and categories.
    Search {
        /// Words to look for.
        query: String,
        /// Most results to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Rank by how many organisations run each package (then relevance).
        #[arg(long)]
        by_adoption: bool,
    },
    /// Show a package with every version, its state and its approvers.
    Info {
        /// `org/name`.
        name: PackageName,
    },
    /// Yank a release (it stays installable from lockfiles) or undo a yank.
    Yank {
        /// `org/name@version`.
        release: ReleaseRef,
        /// Why it is yanked (shown to everyone who resolves it).
        #[arg(long, required_unless_present = "undo", conflicts_with = "undo")]
        reason: Option<String>,
        /// Un-yank instead.
        #[arg(long)]
        undo: bool,
    },
    /// Resolve, download, verify and extract packages, and write shire.lock.
    Install(InstallArgs),
    /// Write one file holding releases, their statements, the log and its
    /// signed checkpoint, for `shire install --from` on a machine with no network.
    Bundle {
        /// `org/name` or `org/name@REQ`, as for install.
        #[arg(required = true)]
        packages: Vec<PackageRequest>,
        /// The bundle file to write.
        #[arg(long, short = 'o')]
        output: PathBuf,
        /// Also bundle releases without enough trusted approvals (never revoked ones).
        #[arg(long)]
        allow_unverified: bool,
    },
    /// Sign and submit an approval of a release (verifiers).
    Approve {
        /// `org/name@version`.
        release: ReleaseRef,
        /// An optional note kept with the approval.
        #[arg(long)]
        note: Option<String>,
    },
    /// Sign and submit a rejection of a release (verifiers).
    Reject {
        /// `org/name@version`.
        release: ReleaseRef,
        /// Why it is rejected.
        #[arg(long)]
        reason: String,
    },
    /// Sign and submit a revocation of an approved release (verifiers),
    /// optionally with an advisory that `shire audit` shows its users.
    Revoke {
        /// `org/name@version`.
        release: ReleaseRef,
        /// Why it is revoked.
        #[arg(long)]
        reason: String,
        /// Attach an advisory of this severity: low, medium, high or critical.
        #[arg(long)]
        severity: Option<shire_core::statement::Severity>,
        /// The advisory's text (default: the reason).
        #[arg(long, requires = "severity")]
        advisory: Option<String>,
        /// The version that fixes it.
        #[arg(long, requires = "severity")]
        fixed_in: Option<Version>,
    },
    /// List the releases awaiting review, oldest first, with what changed.
    Review,
    /// Declare, in a signed and logged statement, that your organisation
    /// runs a release ("used by"), or withdraw that with --withdraw.
    Adopt {
        /// `org/name` or `org/name@version` (default: the version installed
        /// in --dir, else the newest approved one).
        package: AdoptTarget,
        /// Withdraw your organisation's adoption of the package instead.
        #[arg(long)]
        withdraw: bool,
        /// The install folder whose shire.lock names the installed version.
        #[arg(long, default_value = "shire-packages")]
        dir: PathBuf,
    },
    /// Manage the verifier keys this client trusts.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// The peers the registry follows (federation) and how each is doing.
    Peers,
    /// List the installed packages with version, state and origin.
    #[command(visible_alias = "ls")]
    List {
        /// The install folder holding shire.lock.
        #[arg(long, default_value = "shire-packages")]
        dir: PathBuf,
    },
    /// Show newer approved versions of installed packages, within and beyond
    /// their requirements.
    Outdated {
        /// The install folder holding shire.lock.
        #[arg(long, default_value = "shire-packages")]
        dir: PathBuf,
    },
    /// Resolve again within every requirement, install, and rewrite the lock.
    Update {
        /// Only this package (the rest keep their locked versions).
        name: Option<PackageName>,
        /// Move NAME to exactly this version.
        #[arg(long, requires = "name", value_name = "VERSION")]
        precise: Option<Version>,
        /// The install folder holding shire.lock.
        #[arg(long, default_value = "shire-packages")]
        dir: PathBuf,
        /// Also install releases without enough trusted approvals (never revoked ones).
        #[arg(long)]
        allow_unverified: bool,
        /// Replace package folders even when they hold files the install did not put there.
        #[arg(long)]
        force: bool,
    },
    /// Remove an installed package (and dependencies nothing else needs).
    #[command(visible_alias = "remove")]
    Uninstall {
        /// `org/name`.
        name: PackageName,
        /// The install folder holding shire.lock.
        #[arg(long, default_value = "shire-packages")]
        dir: PathBuf,
        /// Remove its folder even when it holds files the install did not put there.
        #[arg(long)]
        force: bool,
    },
    /// Check every locked package against the registry's current statements.
    Audit {
        /// The install folder holding shire.lock.
        #[arg(long, default_value = "shire-packages")]
        dir: PathBuf,
    },
    /// The registry's transparency log.
    #[command(subcommand)]
    Log(LogCommand),
}

/// `shire log ...`.
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Download the whole log, recompute its tree, check every statement, and
    /// report the first bad entry (exit code 1) or the verified size and root.
    Verify,
    /// List log entries readably.
    Show {
        /// The first entry to show.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Most entries to show.
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
}

/// `shire admin ...`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Take a release's artifact down for good (a leaked secret): its bytes
    /// are erased, the takedown is logged, installs answer with the reason.
    Takedown {
        /// `org/name@version`.
        release: ReleaseRef,
        /// Why (shown to everyone who asks for it).
        #[arg(long)]
        reason: String,
    },
}

/// `shire admin org ...`.
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organisation.
    Create {
        /// Its name.
        org: OrgName,
    },
}

/// `shire admin user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account and print its token (shown once).
    Create {
        /// The login name.
        user: OrgName,
        /// Its organisation.
        #[arg(long)]
        org: OrgName,
        /// publisher, verifier or admin.
        #[arg(long)]
        role: Role,
    },
    /// Disable an account: its tokens stop working at once (what it signed
    /// stays in the log).
    Disable {
        /// The login name.
        user: OrgName,
    },
    /// Enable a disabled account again.
    Enable {
        /// The login name.
        user: OrgName,
    },
}

/// `shire key ...`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Make a new Ed25519 key pair in SHIRE_HOME/keys/default.json.
    Generate {
        /// Replace an existing key.
        #[arg(long)]
        force: bool,
    },
    /// Print the public key and its key id.
    Show,
    /// Register the public key with the registry for the current account.
    Register,
    /// Revoke a registered key for good (default: this machine's key). Past
    /// statements it signed stay valid in the log; it can sign nothing new.
    Revoke {
        /// The key id (default: this machine's key).
        key_id: Option<KeyId>,
    },
}

/// `shire support ...`.
#[derive(Debug, Subcommand)]
pub enum SupportCommand {
    /// Offer, as your organisation, to support a package's versions until
    /// a date (it counts once the package's organisation accepts it).
    Offer {
        /// `org/name`.
        package: PackageName,
        /// The versions covered (a semver requirement, e.g. `^1`).
        #[arg(long)]
        versions: shire_core::VersionReq,
        /// The last day of support, YYYY-MM-DD.
        #[arg(long)]
        until: String,
    },
    /// Accept, as the package's organisation, a supporter's current offer:
    /// only when its terms are the ones given here.
    Accept {
        /// `org/name`.
        package: PackageName,
        /// The supporting organisation.
        #[arg(long)]
        supporter: shire_core::OrgName,
        /// The versions the offer must cover (as offered, e.g. `^1`).
        #[arg(long)]
        versions: shire_core::VersionReq,
        /// The last day the offer must run to, YYYY-MM-DD.
        #[arg(long)]
        until: String,
    },
}

/// `shire webhook ...`.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Register an endpoint; prints its id and secret (shown once).
    Add {
        /// `https://...` (`http://` only to a loopback address).
        url: String,
        /// An event wanted: pending, approved, rejected, revoked, yanked or
        /// taken_down (repeatable; none: all).
        #[arg(long = "event", value_name = "EVENT")]
        events: Vec<String>,
    },
    /// List your organisation's webhooks.
    List,
    /// Remove a webhook by id.
    Remove {
        /// Its id.
        id: String,
    },
    /// A webhook's delivery log, newest first.
    Deliveries {
        /// Its id.
        id: String,
    },
}

/// `shire token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// List the account's tokens (never the tokens themselves).
    List,
    /// Make a token, shown once.
    Create {
        /// A name for people (`ci-publish`).
        #[arg(long)]
        name: String,
        /// What it may do: publish, publish:ORG, publish:ORG/NAME, verify or
        /// admin (repeatable; none: everything the account may do).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<shire_core::token::Scope>,
        /// When it stops working: 30d, 12h, a date (2027-03-31) or an RFC 3339 time.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Revoke a token by id: it stops working at once.
    Revoke {
        /// The token's id (from `shire token list`).
        id: String,
    },
    /// Replace the token in use by a new one (same scopes and expiry); the
    /// old one stops working at once.
    Rotate,
}

/// `shire trust ...`.
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust a verifier key: `ed25519:...` text or a file holding it.
    Add {
        /// The key text, or a path to a file holding it.
        key: String,
        /// Who the key belongs to, for humans.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List the trusted keys and the threshold.
    List,
    /// Stop trusting a key.
    Remove {
        /// The key id.
        key_id: KeyId,
    },
    /// Set how many distinct trusted approvals a release needs.
    Threshold {
        /// At least 1.
        n: u32,
    },
    /// Show the verifier keys the registry advertises (never trusted automatically).
    ListRemote,
    /// Pin an origin node's key, to install its packages from a mirror
    /// (the key must come from the origin itself, e.g. its `GET /api/v1/node`).
    Node {
        /// The origin (first line of its checkpoints).
        origin: String,
        /// Its C2SP note verifier key (`origin+id+base64`).
        key: String,
    },
    /// Witnesses whose cosignatures checkpoints of mirrored origins need.
    #[command(subcommand)]
    Witness(WitnessCommand),
}

/// `shire trust witness ...`.
#[derive(Debug, Subcommand)]
pub enum WitnessCommand {
    /// Name a witness: its witness key, or its node's note key.
    Add {
        /// The witness name (the witness node's origin).
        name: String,
        /// Its C2SP witness key, or its node's note key.
        key: String,
        /// The witness node's URL, to fetch its cosigned checkpoints from.
        #[arg(long)]
        url: Option<String>,
    },
    /// How many named witnesses must cosign a mirrored origin's checkpoint (0: none).
    Threshold {
        /// Number of distinct witnesses.
        n: u32,
    },
}

/// `shire init ...`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The package name, `org/name`.
    #[arg(long)]
    pub name: PackageName,
    /// The project folder (default: the current folder).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// One paragraph saying what the software does (publish refuses the
    /// placeholder written without it or a publiccode.yml).
    #[arg(long)]
    pub description: Option<String>,
    /// The SPDX licence expression (default: publiccode.yml's, else EUPL-1.2).
    #[arg(long)]
    pub license: Option<String>,
    /// The first version (default: publiccode.yml's softwareVersion, else 0.1.0).
    #[arg(long)]
    pub version: Option<Version>,
}

/// `shire install ...`.
#[derive(Debug, Clone, Args)]
pub struct InstallArgs {
    /// `org/name` or `org/name@REQ` (a semver requirement; `1.2` means `^1.2`).
    /// With none, installs exactly what `DIR/shire.lock` pins.
    pub packages: Vec<PackageRequest>,
    /// Where packages are installed, one folder per package.
    #[arg(long, default_value = "shire-packages")]
    pub dir: PathBuf,
    /// Also install releases without enough trusted approvals (never revoked ones).
    #[arg(long)]
    pub allow_unverified: bool,
    /// Replace package folders even when they hold files the install did not
    /// put there, or that changed since (those files are discarded).
    #[arg(long)]
    pub force: bool,
    /// Install with no network, from the cache of earlier installs and the
    /// log replica verified then.
    #[arg(long, conflicts_with = "from")]
    pub offline: bool,
    /// Install with no network from a bundle (`shire bundle`), verified
    /// against the pinned node key and the trust file.
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Then declare, in statements signed with this machine's key and logged
    /// by the registry, that your organisation runs what was installed
    /// (`shire adopt` for each package; needs a logged-in account). Nothing
    /// is reported without this flag.
    #[arg(long, conflicts_with_all = ["offline", "from"])]
    pub report: bool,
}

/// `org/name@version`: one exact release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRef {
    /// The package.
    pub name: PackageName,
    /// The exact version.
    pub version: Version,
}

impl FromStr for ReleaseRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, version) = s
            .split_once('@')
            .ok_or_else(|| format!("{s:?} is not of the form org/name@version"))?;
        let name = PackageName::parse(name).map_err(|e| e.to_string())?;
        let version = Version::parse(version)
            .map_err(|e| format!("{version:?} is not a semver version: {e}"))?;
        Ok(Self { name, version })
    }
}

impl fmt::Display for ReleaseRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// `org/name` or `org/name@REQ`: a package and the versions acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRequest {
    /// The package.
    pub name: PackageName,
    /// The acceptable versions (`*` when none given).
    pub req: VersionReq,
}

impl FromStr for PackageRequest {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, req) = match s.split_once('@') {
            Some((n, r)) => {
                let req = VersionReq::parse(r)
                    .map_err(|e| format!("{r:?} is not a semver requirement: {e}"))?;
                (n, req)
            }
            None => (s, VersionReq::STAR),
        };
        let name = PackageName::parse(name).map_err(|e| e.to_string())?;
        Ok(Self { name, req })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_references() {
        let r: ReleaseRef = "braintree/crm@1.2.3".parse().unwrap();
        assert_eq!(r.to_string(), "braintree/crm@1.2.3");
        assert!("braintree/crm".parse::<ReleaseRef>().is_err());
        assert!("braintree/crm@^1".parse::<ReleaseRef>().is_err());
        assert!("../x@1.0.0".parse::<ReleaseRef>().is_err());
        let p: PackageRequest = "braintree/crm@^1.2".parse().unwrap();
        assert!(p.req.matches(&Version::new(1, 9, 0)));
        assert!(!p.req.matches(&Version::new(2, 0, 0)));
        let any: PackageRequest = "braintree/crm".parse().unwrap();
        assert_eq!(any.req, VersionReq::STAR);
        assert!("braintree/crm@banana".parse::<PackageRequest>().is_err());
    }

    #[test]
    fn json_flag_is_accepted_after_subcommands() {
        let cli = Cli::try_parse_from([
            "shire", "admin", "user", "create", "ann", "--org", "kent", "--role", "verifier",
            "--json",
        ])
        .unwrap();
        assert!(cli.json);
        assert!(Cli::try_parse_from(["shire", "yank", "a/b@1.0.0"]).is_err());
        assert!(Cli::try_parse_from(["shire", "yank", "a/b@1.0.0", "--undo"]).is_ok());
    }
}

/// `org/name` or `org/name@version`: what `shire adopt` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdoptTarget {
    /// The package.
    pub name: PackageName,
    /// The exact version, when given.
    pub version: Option<Version>,
}

impl FromStr for AdoptTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('@') {
            Some(_) => ReleaseRef::from_str(s).map(|r| Self {
                name: r.name,
                version: Some(r.version),
            }),
            None => Ok(Self {
                name: PackageName::parse(s).map_err(|e| e.to_string())?,
                version: None,
            }),
        }
    }
}
