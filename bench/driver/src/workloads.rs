//! The benchmark run: starts the servers, runs each workload on each of them in
//! turn (download, metadata GET, publish, search at two scales, memory) and
//! prints the table. Failures of the other servers become `error` cells;
//! Shire's own failures also set the exit code.

use crate::fixtures;
use crate::install;
use crate::load::{self, Generator};
use crate::options::{Options, Scale};
use crate::procfs;
use crate::servers::{self, PidFile, Server};
use crate::shire::{self, Publisher};
use crate::table::{self, Figure, Row, Target};
use crate::verdaccio::{self, NpmUser};
use anyhow::{bail, Context, Result};
use semver::Version;
use std::future::Future;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod shared;

const MIB: f64 = 1024.0 * 1024.0;
/// Concurrent clients used to fill the servers before search is measured.
const FILL_CLIENTS: usize = 16;

/// Everything the workloads need.
struct Bench {
    scale: Scale,
    admin_token: String,
    http: reqwest::Client,
    generator: Generator,
    shire: Option<Server>,
    publisher: Publisher,
    nginx: Option<Result<Server>>,
    verdaccio: Option<Result<(Server, NpmUser)>>,
    rows: Vec<Row>,
    notes: Vec<String>,
}

/// Runs the whole benchmark and prints the table; the exit code is 2 when Shire
/// cannot be started or set up, 1 when one of Shire's measurements failed.
pub async fn run(opts: Options) -> Result<ExitCode> {
    let scale = Scale::for_options(&opts);
    let began = Instant::now();
    let work = tempfile::Builder::new()
        .prefix("shire-bench-")
        .tempdir()
        .context("creating the temporary folder")?;
    open_up(work.path())?;
    let pids = PidFile(opts.pid_file.clone());
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(256)
        // Idle connections are dropped well before the servers' keep-alive
        // (actix-web's 5 s) closes them: reusing one the server is closing
        // just then fails the request ("connection closed before message
        // completed"), and the gaps between runs are about that long.
        .pool_idle_timeout(Duration::from_secs(2))
        // A server that stops answering fails the run instead of hanging it.
        .timeout(Duration::from_secs(if opts.smoke { 20 } else { 300 }))
        .build()?;
    let generator = match (&opts.wrk, opts.smoke) {
        (Some(w), false) => Generator::Wrk(w.clone()),
        _ => Generator::Builtin(http.clone()),
    };
    eprintln!(
        "shire-bench: {} mode, data under {}",
        scale.mode,
        work.path().display()
    );

    let started = servers::start_shire(
        &opts.shire_bin,
        work.path(),
        // The default upload limit (50 MiB) is below the 200 MiB artifact of the
        // memory workload; smoke mode stays under it and passes no flag.
        (scale.big_bytes > 48 << 20).then_some(1 << 30),
        &pids,
    );
    let mut admin_token = String::new();
    let shire_setup = match started {
        Ok(s) => {
            admin_token = s.admin_token.clone();
            let p = shire::set_up(&http, &s.server.base, &s.admin_token).await;
            p.map(|p| (s.server, p))
        }
        Err(e) => Err(e),
    };
    // When Shire cannot be started the others are still measured (so the
    // table shows what there is), every Shire cell says why, and the exit code is 2.
    let (shire_server, publisher, shire_down) = match shire_setup {
        Ok((server, p)) => {
            eprintln!("shire-bench: shire-registry at {}", server.base);
            (Some(server), p, None)
        }
        Err(e) => {
            let msg = format!("{e:#}");
            eprintln!("shire-bench: Shire did not start: {msg}");
            (None, shire::Publisher::unreachable(&http), Some(msg))
        }
    };
    if opts.smoke && shire_down.is_some() {
        let row = Row {
            work: "Shire start and set-up".into(),
            shire: Figure::Failed(shire_down.unwrap_or_default()),
            other_name: "-",
            other: Figure::NotRun,
            target: Target::Info,
        };
        print!("{}", table::render(&[row]));
        return Ok(ExitCode::from(2));
    }

    let www = work.path().join("www");
    std::fs::create_dir_all(&www)?;
    open_up(&www)?;
    let nginx = match (&opts.nginx, opts.smoke) {
        (Some(bin), false) => Some(servers::start_nginx(bin, work.path(), &www, &pids)),
        _ => None,
    };
    let verdaccio = match (&opts.verdaccio, opts.smoke) {
        (Some(script), false) => {
            let started = servers::start_verdaccio(&opts.node, script, work.path(), &pids);
            Some(match started {
                Ok(server) => match verdaccio::add_user(&http, &server.base).await {
                    Ok(user) => Ok((server, user)),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            })
        }
        _ => None,
    };
    let mut bench = Bench {
        scale,
        admin_token,
        http,
        generator,
        shire: shire_server,
        publisher,
        nginx,
        verdaccio,
        rows: Vec::new(),
        notes: Vec::new(),
    };
    if bench.scale.mode == "smoke" {
        bench.notes.push(
            "smoke mode checks that the benchmark runs: with tiny counts (and the debug build \
             bench/smoke.sh uses) its figures are not comparable"
                .into(),
        );
    }
    if let Some(Ok((_, user))) = &bench.verdaccio {
        let kind = if user.token.split('.').count() == 3 {
            "JWT (security.api.jwt)"
        } else {
            "legacy (not JWT: each request re-checks the password)"
        };
        bench
            .notes
            .push(format!("Verdaccio API token kind: {kind}"));
    }
    let wanted = |w: &str| opts.only.is_empty() || opts.only.iter().any(|o| o == w);
    // First, on a node holding little else: the install itself.
    let mut install_sides = None;
    if wanted("install") {
        let sides = bench
            .install_setup(opts.client_bin.as_deref(), opts.npm.as_deref())
            .await;
        let deps = bench.scale.install_deps;
        bench.install_timed(
            &sides,
            format!("cold install, an application and {deps} dependencies (s)"),
            Target::RatioAtMost(0.5),
        );
        // Again after the fills, when other workloads ran.
        if opts.only.len() != 1 {
            install_sides = Some(sides);
        }
    }
    if wanted("download") {
        bench.download(&www).await?;
    }
    if wanted("metadata") {
        bench.metadata(&www).await?;
    }
    if wanted("publish") {
        bench.publish().await;
    }
    if wanted("search") {
        bench.search_and_memory().await;
    }
    if wanted("memory") {
        bench.big_artifact().await;
    }
    if wanted("mirror") {
        bench.mirror(&opts.shire_bin, work.path(), &pids).await;
    }
    if let (true, Some(config)) = (wanted("shared"), &opts.shared_config) {
        bench
            .shared(&opts.shire_bin, config, work.path(), &pids)
            .await;
    }
    if let Some(sides) = &install_sides {
        let entries = bench.shire_log_size().await.unwrap_or(0);
        bench.install_timed(
            sides,
            format!("cold install, same tree, the node's log at {entries} entries (s)"),
            Target::Info,
        );
        bench.notes.push(
            "a cold shire install replays the node's whole log (every signature and verdict, once per \
             SHIRE_HOME): its time grows with the log, npm's does not"
                .into(),
        );
    }

    let out = table::render(&bench.rows);
    println!();
    print!("{out}");
    println!();
    println!(
        "mode {} ({:.0} s); GET load: {}, {} connections, {} run(s) of {:?}, median; publish: {} \
         clients, {} run(s) of at most {:?}, median; loopback only",
        bench.scale.mode,
        began.elapsed().as_secs_f64(),
        bench.generator.name(),
        bench.scale.connections,
        bench.scale.runs,
        bench.scale.load_duration,
        bench.scale.publishers,
        bench.scale.runs,
        bench.scale.publish_duration,
    );
    for n in &bench.notes {
        println!("note: {n}");
    }
    if opts.hold_secs > 0 {
        eprintln!(
            "shire-bench: holding the servers for {} s (Shire at {})",
            opts.hold_secs, bench.publisher.base
        );
        tokio::time::sleep(Duration::from_secs(opts.hold_secs)).await;
    }
    if let Some(path) = &opts.json {
        std::fs::write(path, serde_json::to_vec_pretty(&bench.rows)?)?;
    }
    if let Some(e) = shire_down {
        println!("Shire did not start: {e}");
        return Ok(ExitCode::from(2));
    }
    let shire_failed = bench
        .rows
        .iter()
        .any(|r| matches!(r.shire, Figure::Failed(_)));
    Ok(if shire_failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The install workload's two sides, once set up: each absent (not asked
/// for), failed (with why) or ready.
struct InstallSides {
    shire: Option<Result<(std::path::PathBuf, install::ShireTree), String>>,
    npm: Option<Result<(std::path::PathBuf, String), String>>,
}

/// nginx workers run as another user: let them read the temporary folder.
fn open_up(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("chmod {}", dir.display()))
}

/// The state of another server: absent, failed to start, or its handle.
fn other_state<T>(server: &Option<Result<T>>) -> Option<Result<&T, String>> {
    match server {
        None => None,
        Some(Ok(s)) => Some(Ok(s)),
        Some(Err(e)) => Some(Err(format!("did not start: {e:#}"))),
    }
}

/// p50/p99 of word queries and of exact-name queries (every fourth).
fn by_kind(latencies: &[Duration]) -> String {
    let (mut words, mut names) = (Vec::new(), Vec::new());
    for (j, l) in latencies.iter().enumerate() {
        if fixtures::query(j, 1).1 {
            names.push(*l);
        } else {
            words.push(*l);
        }
    }
    let show = |v: &[Duration]| {
        format!(
            "{:.2}/{:.2} ms",
            load::percentile_ms(v, 50.0).unwrap_or(0.0),
            load::percentile_ms(v, 99.0).unwrap_or(0.0)
        )
    };
    format!(
        "word queries p50/p99 {} ({}), exact names {} ({})",
        show(&words),
        words.len(),
        show(&names),
        names.len()
    )
}

/// Runs the first few queries once and says which found nothing (a search that
/// finds nothing quickly is no benchmark).
async fn check_hits(http: &reqwest::Client, urls: &[String], field: &str) -> Option<String> {
    let mut empty = Vec::new();
    for url in urls.iter().take(4) {
        let hits = match http.get(url).send().await {
            Ok(r) => r
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| v[field].as_array().map(Vec::len)),
            Err(_) => None,
        };
        if hits.unwrap_or(0) == 0 {
            empty.push(url.rsplit('?').next().unwrap_or(url).to_string());
        }
    }
    (!empty.is_empty()).then(|| format!("no hits for {}", empty.join(", ")))
}

impl Bench {
    fn nginx_base(&self) -> Option<Result<String, String>> {
        other_state(&self.nginx).map(|r| r.map(|n| n.base.clone()))
    }

    /// The size of Shire's log, from its checkpoint.
    async fn shire_log_size(&self) -> Option<u64> {
        let note = self
            .get_text(&format!("{}/api/v1/log/checkpoint", self.publisher.base))
            .await?;
        note.lines().nth(1)?.trim().parse().ok()
    }

    /// The body `url` answers, as text (none when it cannot be read).
    async fn get_text(&self, url: &str) -> Option<String> {
        self.http.get(url).send().await.ok()?.text().await.ok()
    }

    fn npm_user(&self) -> Option<Result<NpmUser, String>> {
        other_state(&self.verdaccio).map(|r| r.map(|(_, u)| u.clone()))
    }

    /// Warms up on the first URLs, then times `urls` one at a time (30 s at
    /// most, 20 at least); their p99 in milliseconds. A note under `label`
    /// gives the spread, and where in the run the slowest requests fell
    /// (together: something else ran then; spread out: the requests).
    async fn p99_ms(&mut self, label: &str, urls: &[String]) -> Figure {
        let warm = &urls[..urls.len().min(50)];
        let _ = load::sequential_latencies(&self.http, warm, Duration::from_secs(5), 0).await;
        match load::sequential_latencies(
            &self.http,
            urls,
            Duration::from_secs(30),
            urls.len().min(20),
        )
        .await
        {
            Ok(l) => {
                self.notes.push(format!("{label}: {}", load::spread(&l)));
                Figure::Value(load::percentile_ms(&l, 99.0).unwrap_or(0.0))
            }
            Err(e) => Figure::Failed(format!("{e:#}")),
        }
    }

    /// Loads each URL in turn, run after run (Shire, other, Shire, other, ...),
    /// so that background load on a shared machine falls on all alike; returns
    /// the median of each URL's runs, in MiB/s when `bytes`, else requests/s.
    /// `None` targets are not run; `Err` targets keep their error.
    async fn interleaved(
        &self,
        targets: Vec<Option<Result<String, String>>>,
        bytes: bool,
    ) -> Vec<Figure> {
        let mut state: Vec<Option<Result<Vec<f64>, String>>> = Vec::new();
        for t in &targets {
            state.push(match t {
                None => None,
                Some(Err(e)) => Some(Err(e.clone())),
                Some(Ok(url)) => Some(self.warm_up(url).await.map(|()| Vec::new())),
            });
        }
        for _ in 0..self.scale.runs {
            for (t, st) in targets.iter().zip(state.iter_mut()) {
                let (Some(Ok(url)), Some(Ok(figures))) = (t, st.as_mut()) else {
                    continue;
                };
                let run = self
                    .generator
                    .get(url, self.scale.connections, self.scale.load_duration)
                    .await;
                match run {
                    Ok(t) => figures.push(if bytes {
                        t.bytes_per_s / MIB
                    } else {
                        t.requests_per_s
                    }),
                    Err(e) => *st = Some(Err(format!("{e:#}"))),
                }
            }
        }
        state
            .into_iter()
            .map(|st| match st {
                None => Figure::NotRun,
                Some(Err(e)) => Figure::Failed(e),
                Some(Ok(figures)) => load::median(figures)
                    .map(Figure::Value)
                    .unwrap_or_else(|| Figure::Failed("no run".into())),
            })
            .collect()
    }

    async fn warm_up(&self, url: &str) -> Result<(), String> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("GET {url}: {}", resp.status()));
        }
        resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
        Ok(())
    }

    /// Workload 1: download of a 10 MiB artifact, Shire vs nginx serving the same bytes.
    async fn download(&mut self, www: &Path) -> Result<()> {
        let size = self.scale.download_bytes;
        let payload = fixtures::random_bytes(size.saturating_sub(4096), 1);
        let manifest = shire::manifest(
            "download",
            Version::new(1, 0, 0),
            "The artifact the download benchmark fetches".into(),
            vec![],
        )?;
        let release = self.publisher.release(manifest, &payload, true)?;
        std::fs::write(www.join("artifact.tar.gz"), &release.archive)?;
        let mib = release.archive.len() as f64 / MIB;
        let shire = match self.publisher.publish(&release).await {
            Ok(()) => Ok(shire::artifact_url(&self.publisher.base, &release.digest)),
            Err(e) => Err(format!("{e:#}")),
        };
        let nginx = self
            .nginx_base()
            .map(|r| r.map(|b| format!("{b}/artifact.tar.gz")));
        let mut figures = self.interleaved(vec![Some(shire), nginx], true).await;
        let other = figures.pop().unwrap_or(Figure::NotRun);
        let shire = figures.pop().unwrap_or(Figure::NotRun);
        self.rows.push(Row {
            work: format!("download {mib:.0} MiB artifact (MiB/s)"),
            shire,
            other_name: "nginx",
            other,
            target: Target::RatioAtLeast(0.8),
        });
        Ok(())
    }

    /// Workload 2, small metadata GET: Shire package info vs nginx 4 KiB file and
    /// Verdaccio package document.
    async fn metadata(&mut self, www: &Path) -> Result<()> {
        let manifest = shire::manifest(
            "meta",
            Version::new(1, 2, 3),
            "A booking and payments service for council teams".into(),
            vec!["booking".into(), "payments".into()],
        )?;
        let payload = fixtures::random_bytes(10 * 1024, 2);
        let release = self.publisher.release(manifest, &payload, false)?;
        let shire = match self.publisher.publish(&release).await {
            Ok(()) => Ok(shire::package_url(&self.publisher.base, "meta")),
            Err(e) => Err(format!("{e:#}")),
        };
        let doc = serde_json::json!({ "pad": "x".repeat(4096 - 12) });
        std::fs::write(www.join("meta.json"), serde_json::to_vec(&doc)?)?;
        let nginx = self
            .nginx_base()
            .map(|r| r.map(|b| format!("{b}/meta.json")));
        let npm = match self.npm_user() {
            Some(Ok(user)) => {
                let doc = verdaccio::publish_doc(
                    "meta",
                    "1.2.3",
                    "A booking and payments service for council teams",
                    &["booking".into(), "payments".into()],
                    &payload,
                    &user.base,
                )?;
                match user.publish(&doc).await {
                    Ok(()) => Some(Ok(verdaccio::package_url(&user.base, "meta"))),
                    Err(e) => Some(Err(format!("{e:#}"))),
                }
            }
            Some(Err(e)) => Some(Err(e)),
            None => None,
        };
        let mut figures = self.interleaved(vec![Some(shire), nginx, npm], false).await;
        let verdaccio = figures.pop().unwrap_or(Figure::NotRun);
        let nginx = figures.pop().unwrap_or(Figure::NotRun);
        let shire = figures.pop().unwrap_or(Figure::NotRun);
        self.rows.push(Row {
            work: "package metadata GET (req/s)".into(),
            shire: shire.clone(),
            other_name: "nginx 4 KiB file",
            other: nginx,
            target: Target::RatioAtLeast(0.5),
        });
        self.rows.push(Row {
            work: "package metadata GET (req/s)".into(),
            shire,
            other_name: "Verdaccio package doc",
            other: verdaccio,
            target: Target::Info,
        });
        Ok(())
    }

    /// Workload 7: a new follower mirrors the whole log of the node under
    /// test (every release, verdict and artifact, each checked), timed from
    /// its start until it holds the node's checkpoint; releases per second.
    async fn mirror(&mut self, bin: &Path, work: &Path, pids: &PidFile) {
        let figure = match self.mirror_run(bin, work, pids).await {
            Ok((releases, secs)) => {
                self.notes.push(format!(
                    "mirror: {releases} releases in {secs:.1} s to a new follower (8 artifact fetches at once)"
                ));
                Figure::Value(releases as f64 / secs)
            }
            Err(e) => Figure::Failed(format!("{e:#}")),
        };
        self.rows.push(Row {
            work: "mirror the node's log to a new follower (releases/s)".into(),
            shire: figure,
            other_name: "-",
            other: Figure::NotRun,
            target: Target::Info,
        });
    }

    async fn mirror_run(&self, bin: &Path, work: &Path, pids: &PidFile) -> Result<(u64, f64)> {
        let base = &self.publisher.base;
        let node: serde_json::Value = self
            .http
            .get(format!("{base}/api/v1/node"))
            .send()
            .await?
            .json()
            .await?;
        let note_key = node["note_key"].as_str().context("no note_key")?;
        let origin = note_key
            .split('+')
            .next()
            .context("a note key names its origin")?;
        let size = self.shire_log_size().await.context("the node's log size")?;
        let metrics = self
            .http
            .get(format!("{base}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        let releases: u64 = metrics
            .lines()
            .filter(|l| l.starts_with("shire_releases{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64;
        let config = work.join("follower.toml");
        std::fs::write(
            &config,
            format!(
                "poll_interval_ms = 200\nbatch = 256\n\n[[peer]]\nname = \"origin\"\nurl = \"{base}\"\norigin = \"{origin}\"\nnode_key = \"{note_key}\"\nhome_of = [\"bench*\"]\n"
            ),
        )?;
        let began = Instant::now();
        let follower = servers::start_shire_as(
            bin,
            work,
            "follower",
            Some(1 << 30),
            &[
                "--config".into(),
                config.display().to_string(),
                "--origin".into(),
                "follower.bench".into(),
            ],
            pids,
        )?;
        let deadline = began + Duration::from_secs(900);
        loop {
            let peers: serde_json::Value = self
                .http
                .get(format!("{}/api/v1/peers", follower.server.base))
                .send()
                .await?
                .json()
                .await?;
            let row = &peers[0];
            if row["status"] == "stopped" {
                bail!("the follower stopped: {}", row["last_error"]);
            }
            if row["mirrored"].as_u64().is_some_and(|m| m >= size) {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "the follower mirrored {} of {size} entries in 900 s",
                    row["mirrored"]
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok((releases, began.elapsed().as_secs_f64()))
    }

    /// Workload 6, set-up: publishes and approves the install workload's
    /// tree on Shire, publishes it to Verdaccio (see `crate::install`).
    async fn install_setup(&mut self, client: Option<&Path>, npm: Option<&Path>) -> InstallSides {
        let deps = self.scale.install_deps;
        let payload = install::payload();
        let shire = match client {
            None => None,
            Some(bin) => Some(
                install::set_up_shire(&self.publisher, &self.admin_token, deps, &payload)
                    .await
                    .map(|tree| (bin.to_path_buf(), tree))
                    .map_err(|e| format!("{e:#}")),
            ),
        };
        let npm = match (npm, self.npm_user()) {
            (Some(npm), Some(Ok(user))) => Some(
                install::set_up_npm(&user, deps, &payload)
                    .await
                    .map(|()| (npm.to_path_buf(), user.base.clone()))
                    .map_err(|e| format!("{e:#}")),
            ),
            (_, Some(Err(e))) => Some(Err(e)),
            _ => None,
        };
        InstallSides { shire, npm }
    }

    /// Workload 6: a cold install of the tree (empty caches, a new
    /// SHIRE_HOME), `shire install` against `npm install`, runs alternating.
    fn install_timed(&mut self, sides: &InstallSides, work: String, target: Target) {
        let (mut shire_runs, mut npm_runs) = (Vec::new(), Vec::new());
        let (mut shire_error, mut npm_error) = (None, None);
        for _ in 0..self.scale.runs.max(1) {
            if let Some(Ok((client, tree))) = &sides.shire {
                let one = tempfile::tempdir()
                    .map_err(anyhow::Error::from)
                    .and_then(|w| {
                        install::time_shire(client, &self.publisher.base, tree, w.path())
                    });
                match one {
                    Ok(d) => shire_runs.push(d.as_secs_f64()),
                    Err(e) => shire_error = Some(format!("{e:#}")),
                }
            }
            if let Some(Ok((npm, base))) = &sides.npm {
                let one = tempfile::tempdir()
                    .map_err(anyhow::Error::from)
                    .and_then(|w| install::time_npm(npm, base, w.path()));
                match one {
                    Ok(d) => npm_runs.push(d.as_secs_f64()),
                    Err(e) => npm_error = Some(format!("{e:#}")),
                }
            }
        }
        let figure = |side_error: Option<&String>, runs: Vec<f64>, error: Option<String>| match (
            side_error,
            error,
            load::median(runs),
        ) {
            (Some(e), _, _) => Figure::Failed(e.clone()),
            (None, Some(e), _) => Figure::Failed(e),
            (None, None, Some(v)) => Figure::Value(v),
            (None, None, None) => Figure::NotRun,
        };
        let shire = match &sides.shire {
            None => Figure::NotRun,
            Some(side) => figure(side.as_ref().err(), shire_runs, shire_error),
        };
        let other = match &sides.npm {
            None => Figure::NotRun,
            Some(side) => figure(side.as_ref().err(), npm_runs, npm_error),
        };
        self.rows.push(Row {
            work,
            shire,
            other_name: "npm + Verdaccio",
            other,
            target,
        });
    }

    /// Workload 3: publishing 10 KiB signed artifacts from concurrent clients,
    /// Shire and Verdaccio runs alternating. Also notes the CPU time each
    /// publish cost the server and this driver.
    async fn publish(&mut self) {
        let scale = self.scale.clone();
        let payload = fixtures::random_bytes(10 * 1024, 3);
        let shire_pid = self.shire.as_ref().map(|s| s.pid()).unwrap_or(0);
        let npm = self.npm_user();
        let npm_pid = match &self.verdaccio {
            Some(Ok((v, _))) => v.pid(),
            _ => 0,
        };
        let mut shire: Result<Vec<f64>, String> = Ok(Vec::new());
        let mut other: Option<Result<Vec<f64>, String>> = npm
            .as_ref()
            .map(|r| r.as_ref().map(|_| Vec::new()).map_err(|e| e.clone()));
        let (mut shire_cpu, mut npm_cpu) = (CpuTotals::default(), CpuTotals::default());
        for run in 0..scale.runs.max(1) {
            if let Ok(rates) = &mut shire {
                let run =
                    shire_publish_run(&self.publisher, &scale, run, payload.clone(), shire_pid);
                match run.await {
                    Ok((rate, done, meter)) => {
                        rates.push(rate);
                        shire_cpu.add(&meter, done);
                    }
                    Err(e) => shire = Err(format!("{e:#}")),
                }
            }
            if let (Some(Ok(user)), Some(Ok(rates))) = (&npm, &mut other) {
                match npm_publish_run(user, &scale, run, payload.clone(), npm_pid).await {
                    Ok((rate, done, meter)) => {
                        rates.push(rate);
                        npm_cpu.add(&meter, done);
                    }
                    Err(e) => other = Some(Err(format!("{e:#}"))),
                }
            }
        }
        let figure = |r: Result<Vec<f64>, String>| match r {
            Ok(v) => load::median(v)
                .map(Figure::Value)
                .unwrap_or_else(|| Figure::Failed("no run".into())),
            Err(e) => Figure::Failed(e),
        };
        self.notes.extend(shire_cpu.note("Shire"));
        self.notes.extend(npm_cpu.note("Verdaccio"));
        self.rows.push(Row {
            work: format!(
                "publish 10 KiB signed, {} clients (publishes/s)",
                scale.publishers
            ),
            shire: figure(shire),
            other_name: "Verdaccio (JWT)",
            other: other.map(figure).unwrap_or(Figure::NotRun),
            target: Target::RatioAtLeast(10.0),
        });
    }

    /// Workloads 4 and 5: fills to each scale, times search, then reads resident memory.
    async fn search_and_memory(&mut self) {
        let scale = self.scale.clone();
        let mut shire_fill_time = Duration::ZERO;
        let mut shire_stored = Ok(0usize);
        let mut npm_stored: Result<usize> = Ok(0);
        for (level, &target) in scale.search_scales.iter().enumerate() {
            let mut fill_rates: (Option<f64>, Option<f64>) = (None, None);
            let shire_from = shire_stored.as_ref().map(|n| *n).unwrap_or(0);
            // Shire: fill with a budget for the whole fill.
            if let Ok(have) = shire_stored {
                let left = scale.shire_fill_budget.saturating_sub(shire_fill_time);
                let t = Instant::now();
                shire_stored = fill_shire(&self.publisher, have, target, left).await;
                shire_fill_time += t.elapsed();
                if let Ok(now) = shire_stored {
                    if now > have {
                        fill_rates.0 = Some((now - have) as f64 / t.elapsed().as_secs_f64());
                    }
                }
            }
            let (s50, s99, stored_label) = match &shire_stored {
                Ok(n) => {
                    let urls: Vec<String> = (0..scale.search_queries)
                        .map(|j| shire::search_url(&self.publisher.base, j, *n))
                        .collect();
                    if let Some(msg) = check_hits(&self.http, &urls, "results").await {
                        self.notes
                            .push(format!("Shire search at {n} packages: {msg}"));
                    }
                    settle_after_fill().await;
                    let warm = &urls[..urls.len().min(50)];
                    let _ = load::sequential_latencies(&self.http, warm, Duration::from_secs(5), 0)
                        .await;
                    let lat = load::sequential_latencies(
                        &self.http,
                        &urls,
                        Duration::from_secs(30),
                        urls.len().min(20),
                    )
                    .await;
                    if let Ok(l) = &lat {
                        self.notes
                            .push(format!("Shire search at {n} packages: {}", by_kind(l)));
                    }
                    match lat {
                        Ok(l) => (
                            Figure::Value(load::percentile_ms(&l, 50.0).unwrap_or(0.0)),
                            Figure::Value(load::percentile_ms(&l, 99.0).unwrap_or(0.0)),
                            format!("{n}"),
                        ),
                        Err(e) => (
                            Figure::Failed(format!("{e:#}")),
                            Figure::Failed(format!("{e:#}")),
                            format!("{n}"),
                        ),
                    }
                }
                Err(e) => (
                    Figure::Failed(format!("fill: {e:#}")),
                    Figure::Failed(format!("fill: {e:#}")),
                    format!("{target}"),
                ),
            };
            // Verdaccio is filled only once Shire's search is timed, so that its
            // background work after the fill does not fall on Shire's figures.
            if let (Some(Ok((_, user))), Ok(have)) = (&self.verdaccio, &npm_stored) {
                let want = target.min(scale.verdaccio_fill_max);
                if want > *have {
                    let t = Instant::now();
                    let have = *have;
                    npm_stored = fill_npm(user, have, want, scale.verdaccio_fill_budget).await;
                    if let Ok(now) = npm_stored {
                        if now > have {
                            fill_rates.1 = Some((now - have) as f64 / t.elapsed().as_secs_f64());
                        }
                    }
                }
            }
            self.rows.push(Row {
                work: format!(
                    "fill {shire_from}-{} pkgs, {FILL_CLIENTS} clients (publishes/s)",
                    shire_stored.as_ref().map(|n| *n).unwrap_or(target)
                ),
                shire: match &shire_stored {
                    Ok(_) => fill_rates.0.map(Figure::Value).unwrap_or(Figure::NotRun),
                    Err(e) => Figure::Failed(format!("{e:#}")),
                },
                other_name: "Verdaccio",
                other: match (&self.verdaccio, &npm_stored) {
                    (Some(Ok(_)), Ok(_)) => {
                        fill_rates.1.map(Figure::Value).unwrap_or(Figure::NotRun)
                    }
                    (Some(Ok(_)), Err(e)) => Figure::Failed(format!("{e:#}")),
                    _ => Figure::NotRun,
                },
                target: Target::Info,
            });
            let (o50, o99, other_label) = match (&self.verdaccio, &npm_stored) {
                (None, _) => (Figure::NotRun, Figure::NotRun, String::new()),
                (Some(Err(e)), _) => {
                    let f = Figure::Failed(format!("did not start: {e:#}"));
                    (f.clone(), f, String::new())
                }
                (Some(Ok(_)), Err(e)) => {
                    let f = Figure::Failed(format!("fill: {e:#}"));
                    (f.clone(), f, String::new())
                }
                (Some(Ok((v, _))), Ok(n)) => {
                    let urls: Vec<String> = (0..scale.search_queries)
                        .map(|j| verdaccio::search_url(&v.base, j, *n))
                        .collect();
                    if let Some(msg) = check_hits(&self.http, &urls, "objects").await {
                        self.notes
                            .push(format!("Verdaccio search at {n} packages: {msg}"));
                    }
                    let lat = load::sequential_latencies(
                        &self.http,
                        &urls,
                        scale.verdaccio_search_budget,
                        5,
                    )
                    .await;
                    let label = format!(" (Verdaccio {n})");
                    match lat {
                        Ok(l) => (
                            Figure::Value(load::percentile_ms(&l, 50.0).unwrap_or(0.0)),
                            Figure::Value(load::percentile_ms(&l, 99.0).unwrap_or(0.0)),
                            label,
                        ),
                        Err(e) => {
                            let f = Figure::Failed(format!("{e:#}"));
                            (f.clone(), f, label)
                        }
                    }
                }
            };
            let last = level + 1 == scale.search_scales.len();
            self.rows.push(Row {
                work: format!("search p50 @ {stored_label} pkgs{other_label} (ms)"),
                shire: s50,
                other_name: "Verdaccio",
                other: o50,
                target: Target::Info,
            });
            self.rows.push(Row {
                work: format!("search p99 @ {stored_label} pkgs{other_label} (ms)"),
                shire: s99,
                other_name: "Verdaccio",
                other: o99,
                target: if last {
                    Target::AtMost(2.0)
                } else {
                    Target::Info
                },
            });
            if let Ok(n) = shire_stored {
                if n < target {
                    self.notes.push(format!(
                        "Shire was filled to {n} packages, not {target}: the fill budget of \
                         {:?} ran out",
                        scale.shire_fill_budget
                    ));
                }
            }
        }
        if let (Some(Ok(_)), Ok(n)) = (&self.verdaccio, &npm_stored) {
            if *n < scale.search_scales[1] {
                self.notes.push(format!(
                    "Verdaccio was filled to {n} packages only ({} mode: its publishes are too \
                     slow to fill {} in the time)",
                    scale.mode, scale.search_scales[1]
                ));
            }
        }
        let shire_n = shire_stored.as_ref().ok().copied();
        let npm_n = npm_stored.as_ref().ok().copied();
        // 5a. Resident memory after the fill.
        let shire_rss = match &shire_stored {
            Ok(_) => self
                .shire
                .as_ref()
                .and_then(|s| procfs::rss_mib(s.pid()))
                .map(Figure::Value)
                .unwrap_or_else(|| Figure::Failed("no /proc reading".into())),
            Err(e) => Figure::Failed(format!("fill: {e:#}")),
        };
        let other_rss = match &self.verdaccio {
            None => Figure::NotRun,
            Some(Err(e)) => Figure::Failed(format!("did not start: {e:#}")),
            Some(Ok((v, _))) => procfs::rss_mib(v.pid())
                .map(Figure::Value)
                .unwrap_or_else(|| Figure::Failed("no /proc reading".into())),
        };
        let stored = shire_stored.as_ref().map(|n| *n).unwrap_or(0);
        self.rows.push(Row {
            work: format!("server RSS after {stored}-package fill (MiB)"),
            shire: shire_rss,
            other_name: "Verdaccio",
            other: other_rss,
            target: Target::AtMost(40.0),
        });
        self.catalogue(shire_n, npm_n).await;
    }

    /// Workload 4b: the web catalogue at the filled scale, after the memory
    /// reading: Shire's server-rendered search-results and package pages
    /// against the data Verdaccio's web UI fetches for the same views.
    async fn catalogue(&mut self, shire_n: Option<usize>, npm_n: Option<usize>) {
        let Some(n) = shire_n else {
            return;
        };
        let base = self.publisher.base.clone();
        let verdaccio = match (&self.verdaccio, npm_n) {
            (Some(Ok((v, _))), Some(m)) if m > 0 => Some((v.base.clone(), m)),
            _ => None,
        };
        let pick = |j: usize, stored: usize| fixtures::fill_name((j * 7919) % stored.max(1));
        // The package page: both under the same concurrent load.
        let mut figures = self
            .interleaved(
                vec![
                    Some(Ok(shire::catalogue_package_url(&base, &pick(1, n)))),
                    verdaccio
                        .as_ref()
                        .map(|(b, m)| Ok(verdaccio::web_package_url(b, &pick(1, *m)))),
                ],
                false,
            )
            .await;
        let other = figures.pop().unwrap_or(Figure::NotRun);
        let shire = figures.pop().unwrap_or(Figure::NotRun);
        self.rows.push(Row {
            work: format!("catalogue package page @ {n} pkgs (req/s)"),
            shire,
            other_name: "Verdaccio web UI data",
            other,
            target: Target::RatioAtLeast(10.0),
        });
        // The search page: Verdaccio's web search takes seconds at this
        // scale, so concurrent load completes nothing in a run; it is timed
        // one query at a time (it serves one at a time anyway).
        let mut figures = self
            .interleaved(
                vec![Some(Ok(shire::catalogue_search_url(&base, 0, n)))],
                false,
            )
            .await;
        let shire = figures.pop().unwrap_or(Figure::NotRun);
        let other = match &verdaccio {
            None => Figure::NotRun,
            Some((b, m)) => {
                let urls: Vec<String> = (0..20)
                    .map(|j| verdaccio::web_search_url(b, j, *m))
                    .collect();
                match load::sequential_latencies(&self.http, &urls, Duration::from_secs(20), 3)
                    .await
                {
                    Ok(l) if !l.is_empty() => {
                        let total: Duration = l.iter().sum();
                        Figure::Value(l.len() as f64 / total.as_secs_f64().max(1e-9))
                    }
                    Ok(_) => Figure::Failed("no query answered".into()),
                    Err(e) => Figure::Failed(format!("{e:#}")),
                }
            }
        };
        self.rows.push(Row {
            work: format!("catalogue search page @ {n} pkgs (req/s)"),
            shire,
            other_name: "Verdaccio web search, 1 at a time",
            other,
            target: Target::RatioAtLeast(10.0),
        });
        let queries = self.scale.search_queries;
        for (what, urls, target) in [
            (
                "search page",
                (0..queries)
                    .map(|j| shire::catalogue_search_url(&base, j, n))
                    .collect::<Vec<_>>(),
                Target::Info,
            ),
            (
                "package page",
                (0..queries)
                    .map(|j| shire::catalogue_package_url(&base, &pick(j, n)))
                    .collect(),
                Target::AtMost(5.0),
            ),
        ] {
            let shire = self.p99_ms(&format!("catalogue {what}"), &urls).await;
            self.rows.push(Row {
                work: format!("catalogue {what} p99 @ {n} pkgs (ms)"),
                shire,
                other_name: "-",
                other: Figure::NotRun,
                target,
            });
        }
        if let Some(rss) = self.shire.as_ref().and_then(|s| procfs::rss_mib(s.pid())) {
            self.notes.push(format!(
                "Shire's RSS after the catalogue rows (its snapshot and READMEs held): {rss:.1} MiB"
            ));
        }
    }

    /// Workload 5b: resident memory while a large artifact is uploaded and downloaded.
    async fn big_artifact(&mut self) {
        let size = self.scale.big_bytes;
        let mib = size as f64 / MIB;
        let pid = self.shire.as_ref().map(|s| s.pid()).unwrap_or(0);
        let before = procfs::rss_mib(pid);
        let result: Result<(f64, f64)> = async {
            let payload = fixtures::random_bytes(size, 5);
            let manifest = shire::manifest(
                "big",
                Version::new(1, 0, 0),
                "A large artifact for the memory benchmark".into(),
                vec![],
            )?;
            let release = self.publisher.release(manifest, &payload, true)?;
            drop(payload);
            let before = before.context("no /proc reading")?;
            let sampler = procfs::Sampler::start(pid, Duration::from_millis(20));
            let published = self.publisher.publish(&release).await;
            let got = match published {
                Ok(()) => self.publisher.download(&release.digest).await,
                Err(e) => Err(e),
            };
            let peak = sampler.finish().await.unwrap_or(before);
            let got = got?;
            if got != release.archive.len() as u64 {
                bail!("downloaded {got} bytes of {}", release.archive.len());
            }
            Ok((peak, peak - before))
        }
        .await;
        let (peak, growth) = match result {
            Ok((p, g)) => (Figure::Value(p), Figure::Value(g)),
            Err(e) => {
                let f = Figure::Failed(format!("{e:#}"));
                (f.clone(), f)
            }
        };
        self.rows.push(Row {
            work: format!("server RSS peak, {mib:.0} MiB up+down (MiB)"),
            shire: peak,
            other_name: "-",
            other: Figure::NotRun,
            target: Target::AtMost(40.0),
        });
        self.rows.push(Row {
            work: format!("server RSS growth, {mib:.0} MiB up+down (MiB)"),
            shire: growth,
            other_name: "-",
            other: Figure::NotRun,
            target: Target::AtMost(8.0),
        });
    }
}

/// CPU time used by a server and by this driver at the start of a run.
struct CpuMeter {
    pid: u32,
    server: Option<f64>,
    driver: Option<f64>,
}

impl CpuMeter {
    fn start(pid: u32) -> Self {
        Self {
            pid,
            server: procfs::cpu_seconds(pid),
            driver: procfs::cpu_seconds(std::process::id()),
        }
    }
}

/// CPU seconds summed over runs, and the publishes they covered.
#[derive(Default)]
struct CpuTotals {
    server: f64,
    driver: f64,
    count: usize,
}

impl CpuTotals {
    fn add(&mut self, start: &CpuMeter, count: usize) {
        let server = procfs::cpu_seconds(start.pid).zip(start.server);
        let driver = procfs::cpu_seconds(std::process::id()).zip(start.driver);
        if let (Some((s1, s0)), Some((d1, d0))) = (server, driver) {
            self.server += s1 - s0;
            self.driver += d1 - d0;
            self.count += count;
        }
    }

    /// `"<who>: N publishes timed; server CPU X ms per publish, ..."`.
    fn note(&self, who: &str) -> Option<String> {
        if self.count == 0 {
            return None;
        }
        let each = |s: f64| s * 1000.0 / self.count as f64;
        Some(format!(
            "{who}: {} publishes timed; server CPU {:.2} ms per publish, load-generator CPU \
             {:.2} ms",
            self.count,
            each(self.server),
            each(self.driver)
        ))
    }
}

/// One timed publish run on Shire: `publishers` clients, each publishing new
/// versions of its own package until its share is done or the time is up.
async fn shire_publish_run(
    publisher: &Publisher,
    scale: &Scale,
    run: usize,
    payload: Vec<u8>,
    pid: u32,
) -> Result<(f64, usize, CpuMeter)> {
    let sides = std::slice::from_ref(publisher);
    let queues = shire_side_queues(sides, scale, run, &payload)?;
    timed_publishes(sides, queues, scale.publish_duration, pid).await
}

/// The queues of one publish run from `sides` (one publisher per process),
/// for [`timed_publishes`]: `scale.publishers` clients for each side, every
/// client on a package of its own (side `s`'s from `pub{s * publishers}`).
fn shire_side_queues(
    sides: &[Publisher],
    scale: &Scale,
    run: usize,
    payload: &[u8],
) -> Result<Vec<Vec<(usize, shire::Release)>>> {
    let mut queues = Vec::new();
    for (side, publisher) in sides.iter().enumerate() {
        let first = side * scale.publishers;
        for q in shire_publish_queues(publisher, scale, run, first, payload)? {
            queues.push(q.into_iter().map(|r| (side, r)).collect());
        }
    }
    Ok(queues)
}

/// The releases of one publish run, built and signed before its clock
/// starts: one queue per client, client `c` publishing versions of
/// `pub{first + c}`.
fn shire_publish_queues(
    publisher: &Publisher,
    scale: &Scale,
    run: usize,
    first: usize,
    payload: &[u8],
) -> Result<Vec<Vec<shire::Release>>> {
    let per_client = (scale.publish_cap / scale.publishers).max(1);
    let mut queues = Vec::new();
    for c in (first..).take(scale.publishers) {
        let mut q = Vec::with_capacity(per_client);
        for i in 0..per_client {
            let mut p = payload.to_vec();
            p[..8].copy_from_slice(&((run * 1_000_000 + c * 100_000 + i) as u64).to_le_bytes());
            let m = shire::manifest(
                &format!("pub{c}"),
                Version::new(run as u64 + 1, 0, i as u64),
                format!("Publish benchmark package {c}"),
                vec![],
            )?;
            q.push(publisher.release(m, &p, false)?);
        }
        queues.push(q);
    }
    Ok(queues)
}

/// Sends each queue's releases, in order, to the publisher (of `sides`) its
/// items name, under one clock: [`timed_clients`] for publishers that may
/// serve different processes of one node.
async fn timed_publishes(
    sides: &[Publisher],
    queues: Vec<Vec<(usize, shire::Release)>>,
    limit: Duration,
    pid: u32,
) -> Result<(f64, usize, CpuMeter)> {
    let sides: Arc<[Publisher]> = sides.into();
    timed_clients(
        queues,
        limit,
        pid,
        move |(side, r): (usize, shire::Release)| {
            let sides = sides.clone();
            async move {
                let publisher = sides
                    .get(side)
                    .with_context(|| format!("no publisher {side}"))?;
                publisher.publish(&r).await
            }
        },
    )
    .await
}

/// The same on Verdaccio, through npm's publish call.
async fn npm_publish_run(
    user: &NpmUser,
    scale: &Scale,
    run: usize,
    payload: Vec<u8>,
    pid: u32,
) -> Result<(f64, usize, CpuMeter)> {
    let per_client = (scale.publish_cap / scale.publishers).max(1);
    let mut queues = Vec::new();
    for c in 0..scale.publishers {
        let mut q = Vec::with_capacity(per_client);
        for i in 0..per_client {
            let mut p = payload.clone();
            p[..8].copy_from_slice(&((run * 1_000_000 + c * 100_000 + i) as u64).to_le_bytes());
            q.push(verdaccio::publish_doc(
                &format!("pub{c}"),
                &format!("{}.0.{i}", run + 1),
                &format!("Publish benchmark package {c}"),
                &[],
                &p,
                &user.base,
            )?);
        }
        queues.push(q);
    }
    timed_clients(queues, scale.publish_duration, pid, {
        let user = user.clone();
        move |d| {
            let user = user.clone();
            async move { user.publish(&d).await }
        }
    })
    .await
}

/// Runs one task per queue, each sending its items in order until done or the
/// deadline passes; returns completed items per second, how many, and the CPU
/// readings of server `pid` and this driver taken when the clock started.
async fn timed_clients<T, F, Fut>(
    queues: Vec<Vec<T>>,
    limit: Duration,
    pid: u32,
    send: F,
) -> Result<(f64, usize, CpuMeter)>
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<()>> + Send,
{
    let meter = CpuMeter::start(pid);
    let start = Instant::now();
    let deadline = start + limit;
    let mut tasks = Vec::new();
    for q in queues {
        let send = send.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0usize;
            for item in q {
                if Instant::now() >= deadline {
                    break;
                }
                send(item).await?;
                done += 1;
            }
            Ok::<_, anyhow::Error>(done)
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await.context("publish task")??;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok((done as f64 / secs, done, meter))
}

/// Publishes fill packages `from..to` on Shire from [`FILL_CLIENTS`] clients;
/// returns how many packages are stored when done or when `budget` ran out.
async fn fill_shire(
    publisher: &Publisher,
    from: usize,
    to: usize,
    budget: Duration,
) -> Result<usize> {
    let payload = Arc::new(fixtures::random_bytes(256, 4));
    let publisher = publisher.clone();
    fill(from, to, budget, move |i| {
        let publisher = publisher.clone();
        let payload = payload.clone();
        async move {
            let m = shire::manifest(
                &fixtures::fill_name(i),
                Version::new(1, 0, 0),
                fixtures::description(i),
                fixtures::keywords(i),
            )?;
            let mut p = payload.to_vec();
            p[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let r = publisher.release(m, &p, false)?;
            publisher.publish(&r).await
        }
    })
    .await
}

/// The same fill on Verdaccio.
async fn fill_npm(user: &NpmUser, from: usize, to: usize, budget: Duration) -> Result<usize> {
    let payload = Arc::new(fixtures::random_bytes(256, 4));
    let user = user.clone();
    fill(from, to, budget, move |i| {
        let user = user.clone();
        let payload = payload.clone();
        async move {
            let mut p = payload.to_vec();
            p[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let d = verdaccio::publish_doc(
                &fixtures::fill_name(i),
                "1.0.0",
                &fixtures::description(i),
                &fixtures::keywords(i),
                &p,
                &user.base,
            )?;
            user.publish(&d).await
        }
    })
    .await
}

async fn fill<F, Fut>(from: usize, to: usize, budget: Duration, one: F) -> Result<usize>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(from));
    let done = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + budget;
    let mut tasks = Vec::new();
    for _ in 0..FILL_CLIENTS {
        let next = next.clone();
        let done = done.clone();
        let one = one.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= to {
                    break;
                }
                one(i).await.with_context(|| format!("fill package {i}"))?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await.context("fill task")??;
    }
    // Packages are numbered from..; a stop on the deadline leaves gaps only
    // at the end, so the count stored is from + done.
    Ok(from + done.load(Ordering::Relaxed))
}

/// Lets a fill's background writes settle before latencies are timed: the
/// kernel's write-back of what the fill left dirty (the servers' files, and
/// the S3 API's, on these same two cores) otherwise lands in the middle of
/// the timing, 30 s after the pages were written. Then a pause.
pub async fn settle_after_fill() {
    let _ = tokio::process::Command::new("sync").status().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
}
