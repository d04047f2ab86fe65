//! The `shire` client: publish, verify, search, install and audit council
//! software against a Shire registry.
//!
//! [`run`] takes the parsed command line and dispatches to one function per
//! command (`commands::*`). The client trusts no registry: it replays each
//! log it relies on through the same rules the node applies
//! (`shire_core::ledger`), up to a checkpoint it verified (`transparency`),
//! and takes every fact an install or audit acts on from that replay — which
//! releases exist, which key signed each, every verdict, every yank — under
//! its own trust policy (`checks`). Every artifact is re-hashed and re-checked
//! against the archive rules before it is extracted (`install`), and every
//! answer from a registry is read with a bound (`api`).
//!
//! Module map: `cli` (arguments), `home` (SHIRE_HOME files), `api` (typed HTTP
//! client, bounded reads), `checks` (pure checks of registry data against the
//! logged release), `resolve` (semver resolution), `lockfile` (`shire.lock`),
//! `install` (candidates, download, verify, extract), `package`
//! (deterministic archives), `transparency` (node key pin, checkpoints, log
//! replicas, mirrors, `log verify`), `trust` (trust file), `output` (tables,
//! JSON, progress), `commands` (one module per command group).
#![deny(missing_docs)]

pub mod api;
pub mod bundle;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod home;
pub mod install;
pub mod lockfile;
pub mod output;
pub mod package;
pub mod resolve;
pub mod support;
pub mod transparency;
pub mod trust;

use cli::{
    AdminCommand, Cli, Command, KeyCommand, LogCommand, OrgCommand, TrustCommand, UserCommand,
};
use commands::{
    account, admin, audit, browse, club, install as install_cmd, key, lifecycle, log, offline,
    peers, project, token, trust as trust_cmd, verdict, webhook, yank, Ctx,
};

/// How a successful run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything went as asked (exit code 0).
    Success,
    /// The command ran but found problems, e.g. `audit` found a revocation (exit code 1).
    Findings,
}

/// Exit code for an error (`error: ...` on stderr); clap's usage errors use it too.
pub const EXIT_ERROR: u8 = 2;

impl Outcome {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Findings => 1,
        }
    }
}

/// Runs one command.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let ctx = Ctx::new(&cli.registry, cli.json)?.with_node_key(cli.node_key.clone());
    match cli.command {
        Command::Admin(AdminCommand::Org(OrgCommand::Create { org })) => {
            admin::org_create(&ctx, org)
        }
        Command::Admin(AdminCommand::User(UserCommand::Create { user, org, role })) => {
            admin::user_create(&ctx, user, org, role)
        }
        Command::Admin(AdminCommand::Takedown { release, reason }) => {
            admin::takedown(&ctx, &release, &reason)
        }
        Command::Login { token } => account::login(&ctx, &token),
        Command::Whoami => account::whoami(&ctx),
        Command::Logout => account::logout(&ctx),
        Command::Webhook(cli::WebhookCommand::Add { url, events }) => {
            webhook::add(&ctx, &url, events)
        }
        Command::Webhook(cli::WebhookCommand::List) => webhook::list(&ctx),
        Command::Support(cli::SupportCommand::Offer {
            package,
            versions,
            until,
        }) => club::offer_support(&ctx, &package, versions, &until),
        Command::Support(cli::SupportCommand::Accept {
            package,
            supporter,
            versions,
            until,
        }) => club::accept_support(&ctx, &package, &supporter, &versions, &until),
        Command::Webhook(cli::WebhookCommand::Remove { id }) => webhook::remove(&ctx, &id),
        Command::Webhook(cli::WebhookCommand::Deliveries { id }) => webhook::deliveries(&ctx, &id),
        Command::Token(cli::TokenCommand::List) => token::list(&ctx),
        Command::Token(cli::TokenCommand::Create {
            name,
            scopes,
            expires,
        }) => token::create(&ctx, &name, scopes, expires.as_deref()),
        Command::Token(cli::TokenCommand::Revoke { id }) => token::revoke(&ctx, &id),
        Command::Token(cli::TokenCommand::Rotate) => token::rotate(&ctx),
        Command::Admin(AdminCommand::User(UserCommand::Disable { user })) => {
            admin::user_set_enabled(&ctx, &user, false)
        }
        Command::Admin(AdminCommand::User(UserCommand::Enable { user })) => {
            admin::user_set_enabled(&ctx, &user, true)
        }
        Command::Key(KeyCommand::Generate { force }) => key::generate(&ctx, force),
        Command::Key(KeyCommand::Show) => key::show(&ctx),
        Command::Key(KeyCommand::Register) => key::register(&ctx),
        Command::Key(KeyCommand::Revoke { key_id }) => key::revoke(&ctx, key_id),
        Command::Init(args) => project::init(&ctx, args),
        Command::Package { path, list } => project::package(&ctx, &path, list),
        Command::Publish { path, dry_run } => project::publish(&ctx, &path, dry_run),
        Command::Search {
            query,
            limit,
            by_adoption,
        } => browse::search(&ctx, &query, limit, by_adoption),
        Command::Info { name } => browse::info(&ctx, &name),
        Command::Yank {
            release,
            reason,
            undo,
        } => yank::yank(&ctx, &release, reason.as_deref(), undo),
        Command::Install(args) => {
            let outcome = install_cmd::install(&ctx, &args)?;
            if args.report {
                club::report_installed(&ctx, &args.dir)?;
            }
            Ok(outcome)
        }
        Command::Bundle {
            packages,
            output,
            allow_unverified,
        } => offline::bundle(&ctx, &packages, &output, allow_unverified),
        Command::Approve { release, note } => verdict::approve(&ctx, &release, note),
        Command::Reject { release, reason } => verdict::reject(&ctx, &release, reason),
        Command::Revoke {
            release,
            reason,
            severity,
            advisory,
            fixed_in,
        } => {
            let advisory = severity.map(|severity| shire_core::statement::Advisory {
                severity,
                description: advisory.unwrap_or_else(|| reason.clone()),
                fixed_in,
            });
            verdict::revoke(&ctx, &release, reason, advisory)
        }
        Command::Review => verdict::review(&ctx),
        Command::Adopt {
            package,
            withdraw,
            dir,
        } => club::adopt(&ctx, &package, withdraw, &dir),
        Command::Trust(TrustCommand::Add { key, label }) => trust_cmd::add(&ctx, &key, &label),
        Command::Trust(TrustCommand::List) => trust_cmd::list(&ctx),
        Command::Trust(TrustCommand::Remove { key_id }) => trust_cmd::remove(&ctx, &key_id),
        Command::Trust(TrustCommand::Threshold { n }) => trust_cmd::threshold(&ctx, n),
        Command::Trust(TrustCommand::ListRemote) => trust_cmd::list_remote(&ctx),
        Command::Trust(TrustCommand::Node { origin, key }) => {
            peers::trust_node(&ctx, &origin, &key)
        }
        Command::Trust(TrustCommand::Witness(cli::WitnessCommand::Add { name, key, url })) => {
            peers::witness_add(&ctx, &name, &key, url)
        }
        Command::Trust(TrustCommand::Witness(cli::WitnessCommand::Threshold { n })) => {
            peers::witness_threshold(&ctx, n)
        }
        Command::Peers => peers::peers(&ctx),
        Command::Audit { dir } => audit::audit(&ctx, &dir),
        Command::List { dir } => lifecycle::list(&ctx, &dir),
        Command::Outdated { dir } => lifecycle::outdated_cmd(&ctx, &dir),
        Command::Update {
            name,
            precise,
            dir,
            allow_unverified,
            force,
        } => lifecycle::update(
            &ctx,
            &dir,
            name.as_ref(),
            precise.as_ref(),
            allow_unverified,
            force,
        ),
        Command::Uninstall { name, dir, force } => lifecycle::uninstall(&ctx, &dir, &name, force),
        Command::Log(LogCommand::Verify) => log::verify(&ctx),
        Command::Log(LogCommand::Show { from, limit }) => log::show(&ctx, from, limit),
    }
}
