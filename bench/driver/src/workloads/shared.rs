//! Workload 8, the shared backend: a node on PostgreSQL and S3 (`--shared-config`,
//! a file with its `[storage]` table) beside the embedded node under test:
//! publish, download and metadata side by side, search at the larger fill, and
//! two processes of the shared node against one.

use super::{fill_shire, shire_publish_run, shire_side_queues, timed_publishes, Bench};
use crate::fixtures;
use crate::options::Scale;
use crate::procfs::{self, Usage};
use crate::servers::{self, PidFile, Shire};
use crate::shire::{self, Publisher};
use crate::table::{Figure, Row, Target};
use anyhow::{Context, Result};
use semver::Version;
use std::path::Path;
use std::time::Instant;

/// The shared node's processes and its publisher.
struct SharedNode {
    first: Shire,
    publisher: Publisher,
}

impl Bench {
    /// Runs the shared-backend rows; a node that does not start fails them.
    pub(super) async fn shared(&mut self, bin: &Path, config: &Path, work: &Path, pids: &PidFile) {
        let node = match self.start_shared(bin, config, work, pids).await {
            Ok(n) => n,
            Err(e) => {
                self.rows.push(Row {
                    work: "shared backend: start and set-up".into(),
                    shire: Figure::Failed(format!("{e:#}")),
                    other_name: "-",
                    other: Figure::NotRun,
                    target: Target::Info,
                });
                return;
            }
        };
        self.shared_publish(&node).await;
        self.shared_reads(&node).await;
        self.shared_search(&node).await;
        self.shared_two_processes(bin, config, work, pids, &node)
            .await;
    }

    async fn start_shared(
        &self,
        bin: &Path,
        config: &Path,
        work: &Path,
        pids: &PidFile,
    ) -> Result<SharedNode> {
        let extra = vec!["--config".to_string(), config.display().to_string()];
        let first = servers::start_shire_as(bin, work, "shared-1", None, &extra, pids)?;
        let publisher = shire::set_up(&self.http, &first.server.base, &first.admin_token).await?;
        Ok(SharedNode { first, publisher })
    }

    /// Publish throughput, shared against embedded, run after run.
    async fn shared_publish(&mut self, node: &SharedNode) {
        let payload = fixtures::random_bytes(16 * 1024, 7);
        let (mut shared, mut embedded) = (Vec::new(), Vec::new());
        let mut failure = None;
        for run in 0..self.scale.runs {
            // Versions no earlier workload used on either node.
            let r = 200 + run;
            match shire_publish_run(
                &node.publisher,
                &self.scale,
                r,
                payload.clone(),
                node.first.server.pid(),
            )
            .await
            {
                Ok((rate, _, _)) => shared.push(rate),
                Err(e) => failure = Some(format!("{e:#}")),
            }
            if let Some(server) = &self.shire {
                if let Ok((rate, _, _)) = shire_publish_run(
                    &self.publisher,
                    &self.scale,
                    r,
                    payload.clone(),
                    server.pid(),
                )
                .await
                {
                    embedded.push(rate);
                }
            }
        }
        self.notes.push(format!(
            "shared backend: publish runs, shared {}; embedded {} (publishes/s, in run order)",
            rates(&shared),
            rates(&embedded)
        ));
        self.rows.push(Row {
            work: format!(
                "shared backend: publish 16 KiB, {} clients (publishes/s)",
                self.scale.publishers
            ),
            shire: median_figure(&mut shared, failure),
            other_name: "embedded",
            other: median(&mut embedded)
                .map(Figure::Value)
                .unwrap_or(Figure::NotRun),
            target: Target::RatioAtLeast(1.0 / 3.0),
        });
    }

    /// Artifact download and package metadata GETs, shared against embedded.
    async fn shared_reads(&mut self, node: &SharedNode) {
        let payload = fixtures::random_bytes(self.scale.download_bytes, 8);
        let manifest = |name: &str| {
            shire::manifest(
                name,
                Version::new(1, 0, 0),
                "A benchmark package read from either backend".into(),
                vec!["bench".into()],
            )
        };
        let mut urls: Vec<Option<Result<(String, String), String>>> = Vec::new();
        for publisher in [&node.publisher, &self.publisher] {
            let published = async {
                let r = publisher.release(manifest("shared-read")?, &payload, false)?;
                publisher.publish(&r).await?;
                Ok::<_, anyhow::Error>((
                    shire::artifact_url(&publisher.base, &r.digest),
                    shire::package_url(&publisher.base, "shared-read"),
                ))
            };
            urls.push(Some(published.await.map_err(|e| format!("{e:#}"))));
        }
        let pick = |i: usize| -> Vec<Option<Result<String, String>>> {
            urls.iter()
                .map(|u| {
                    u.as_ref().map(|r| {
                        r.as_ref()
                            .map(|(a, m)| if i == 0 { a.clone() } else { m.clone() })
                            .map_err(Clone::clone)
                    })
                })
                .collect()
        };
        let kib = self.scale.download_bytes / 1024;
        for (i, work, bytes) in [
            (
                0,
                format!("shared backend: artifact download {kib} KiB (req/s)"),
                true,
            ),
            (
                1,
                "shared backend: package metadata GET (req/s)".to_string(),
                false,
            ),
        ] {
            let mut figures = self.interleaved(pick(i), bytes).await;
            let embedded = figures.pop().unwrap_or(Figure::NotRun);
            let shared = figures.pop().unwrap_or(Figure::NotRun);
            self.rows.push(Row {
                work,
                shire: shared,
                other_name: "embedded",
                other: embedded,
                target: Target::Info,
            });
        }
    }

    /// Search latency once the shared node holds the larger fill.
    async fn shared_search(&mut self, node: &SharedNode) {
        let target = self.scale.search_scales[1];
        let t = Instant::now();
        let filled = fill_shire(&node.publisher, 0, target, self.scale.shire_fill_budget).await;
        let fill_secs = t.elapsed().as_secs_f64();
        let held = *filled.as_ref().unwrap_or(&target);
        let figure = match filled {
            Ok(n) => {
                self.notes.push(format!(
                    "shared backend: filled {n} packages in {fill_secs:.1} s ({:.0} publishes/s)",
                    n as f64 / fill_secs
                ));
                let urls: Vec<String> = (0..self.scale.search_queries)
                    .map(|j| shire::search_url(&node.publisher.base, j, n))
                    .collect();
                super::settle_after_fill().await;
                self.p99_ms("shared backend: search", &urls).await
            }
            Err(e) => Figure::Failed(format!("fill: {e:#}")),
        };
        self.rows.push(Row {
            work: format!("shared backend: search p99 at {held} packages (ms)"),
            shire: figure,
            other_name: "-",
            other: Figure::NotRun,
            target: Target::AtMost(5.0),
        });
    }

    /// Publish throughput with a second process of the shared node, the
    /// clients split between the two, against the first process alone.
    ///
    /// Both figures are taken here, run after run on the same filled node
    /// (the order alternating), with the same clients each publishing its
    /// own package: the two sides differ only in how many processes serve
    /// them. The first process's figure from [`Bench::shared_publish`] was
    /// taken on a nearly empty node, so it is not the one compared.
    async fn shared_two_processes(
        &mut self,
        bin: &Path,
        config: &Path,
        work: &Path,
        pids: &PidFile,
        node: &SharedNode,
    ) {
        let work_name = format!(
            "shared backend: publish, two processes, {} clients (publishes/s)",
            self.scale.publishers
        );
        let second = match self.start_second(bin, config, work, pids, node) {
            Ok(s) => s,
            Err(e) => {
                self.rows.push(Row {
                    work: work_name,
                    shire: Figure::Failed(format!("{e:#}")),
                    other_name: "one process",
                    other: Figure::NotRun,
                    target: Target::RatioAtLeast(1.0),
                });
                return;
            }
        };
        let second_publisher = Publisher {
            base: second.server.base.clone(),
            ..node.publisher.clone()
        };
        let payload = fixtures::random_bytes(16 * 1024, 7);
        // Each process serves half the clients, and half the publishes.
        let mut half = self.scale.clone();
        half.publishers = (half.publishers / 2).max(1);
        half.publish_cap = (half.publish_cap / 2).max(1);
        let (mut ones, mut twos) = (Vec::new(), Vec::new());
        let (mut one_batches, mut two_batches) = (Vec::new(), Vec::new());
        let (mut one_failure, mut two_failure) = (None, None);
        let bases = [node.first.server.base.clone(), second.server.base.clone()];
        let (mut one_cpu, mut two_cpu) = (CpuShares::default(), CpuShares::default());
        let both = [node.publisher.clone(), second_publisher.clone()];
        // One run of each side first, not counted: the first publish run on
        // the filled node was among the fastest of nearly every full run,
        // and it always went to the side measured first.
        let _ = self
            .publish_from_sides(
                std::slice::from_ref(&node.publisher),
                &self.scale,
                390,
                &payload,
                &bases,
            )
            .await;
        let _ = self
            .publish_from_sides(&both, &half, 290, &payload, &bases)
            .await;
        for run in 0..self.scale.runs {
            let one = self.publish_from_sides(
                std::slice::from_ref(&node.publisher),
                &self.scale,
                400 + run,
                &payload,
                &bases,
            );
            let two = self.publish_from_sides(&both, &half, 300 + run, &payload, &bases);
            let (one, two) = if run % 2 == 0 {
                let one = one.await;
                (one, two.await)
            } else {
                let two = two.await;
                (one.await, two)
            };
            match one {
                Ok((rate, batch, cpu)) => {
                    ones.push(rate);
                    one_batches.extend(batch);
                    one_cpu.add(&cpu);
                }
                Err(e) => one_failure = Some(format!("{e:#}")),
            }
            match two {
                Ok((rate, batch, cpu)) => {
                    twos.push(rate);
                    two_batches.extend(batch);
                    two_cpu.add(&cpu);
                }
                Err(e) => two_failure = Some(format!("{e:#}")),
            }
        }
        self.notes.push(format!(
            "shared backend: publish runs on the filled node, one process {}; two processes {} \
             (publishes/s, in run order); publishes per PostgreSQL commit / PostgreSQL calls per \
             publish, one process {}; two processes {}",
            rates(&ones),
            rates(&twos),
            per_publish_list(&one_batches),
            per_publish_list(&two_batches)
        ));
        self.notes.push(format!(
            "shared backend: CPU per publish on the filled node (ms), one process: {}; \
             two processes: {}",
            one_cpu.note(),
            two_cpu.note()
        ));
        self.rows.push(Row {
            work: work_name,
            shire: median_figure(&mut twos, two_failure),
            other_name: "one process",
            other: median_figure(&mut ones, one_failure),
            target: Target::RatioAtLeast(1.0),
        });
    }

    /// One timed publish run from `sides` (one publisher per process), each
    /// with `scale.publishers` clients publishing packages of their own, every
    /// release built before the one clock starts: its rate, its publishes per
    /// commit and calls per publish, and where the machine's CPU went.
    async fn publish_from_sides(
        &self,
        sides: &[Publisher],
        scale: &Scale,
        run: usize,
        payload: &[u8],
        bases: &[String],
    ) -> Result<(f64, Option<(f64, f64)>, CpuShares)> {
        let before = self.store_work(bases).await;
        let queues = shire_side_queues(sides, scale, run, payload)?;
        let cpu = CpuShares::start();
        // The one-process meter `timed_publishes` answers is not read:
        // `CpuShares` covers every process.
        let (rate, done, _) =
            timed_publishes(sides, queues, scale.publish_duration, std::process::id()).await?;
        let cpu = cpu.finish(done);
        Ok((
            rate,
            per_publish(done, before, self.store_work(bases).await),
            cpu,
        ))
    }

    /// The write commits and PostgreSQL calls the processes at `bases` made
    /// so far, from their metrics (none when one cannot be read).
    async fn store_work(&self, bases: &[String]) -> Option<StoreWork> {
        let mut total = StoreWork::default();
        for base in bases {
            let text = self.get_text(&format!("{base}/metrics")).await?;
            let counter = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))?
                    .trim()
                    .parse::<f64>()
                    .ok()
            };
            total.commits += counter("shire_group_commit_flushes_total")?;
            total.calls += counter("shire_postgres_calls_total")?;
        }
        Some(total)
    }

    /// A second process of the shared node: its own data folder with the
    /// first one's node key and admin token.
    fn start_second(
        &self,
        bin: &Path,
        config: &Path,
        work: &Path,
        pids: &PidFile,
        node: &SharedNode,
    ) -> Result<Shire> {
        let (from, to) = (work.join("shared-1-data"), work.join("shared-2-data"));
        std::fs::create_dir_all(&to)?;
        for file in ["node-key", "admin-token"] {
            std::fs::copy(from.join(file), to.join(file))
                .with_context(|| format!("copying {file} to the second process"))?;
        }
        let extra = vec!["--config".to_string(), config.display().to_string()];
        let second = servers::start_shire_as(bin, work, "shared-2", None, &extra, pids)?;
        anyhow::ensure!(
            second.admin_token == node.first.admin_token,
            "the second process has another admin token"
        );
        Ok(second)
    }
}

/// Rates as a list for a note: `551, 423, 667`.
fn rates(values: &[f64]) -> String {
    values
        .iter()
        .map(|r| format!("{r:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Publishes per commit and calls per publish as a list for a note, one
/// decimal each: `7.9 / 3.2, 3.8 / 4.0`.
fn per_publish_list(values: &[(f64, f64)]) -> String {
    values
        .iter()
        .map(|(batch, calls)| format!("{batch:.1} / {calls:.1}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the shared node's processes did with PostgreSQL, from their metrics.
#[derive(Clone, Copy, Default)]
struct StoreWork {
    commits: f64,
    calls: f64,
}

/// Publishes per commit and PostgreSQL calls per publish over a run: `done`
/// publishes, the processes' counts `before` and `after` it (none when a
/// count failed or nothing was published).
fn per_publish(
    done: usize,
    before: Option<StoreWork>,
    after: Option<StoreWork>,
) -> Option<(f64, f64)> {
    let (before, after) = (before?, after?);
    let commits = after.commits - before.commits;
    let done = done as f64;
    (commits > 0.0 && done > 0.0).then(|| (done / commits, (after.calls - before.calls) / done))
}

/// The median of `values` as a figure; without any, the `failure` that
/// left none, if there was one.
fn median_figure(values: &mut [f64], failure: Option<String>) -> Figure {
    match (median(values), failure) {
        (Some(v), _) => Figure::Value(v),
        (None, Some(e)) => Figure::Failed(e),
        (None, None) => Figure::NotRun,
    }
}

/// The median of `values` (sorted in place), if any.
fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied()
}

/// The processes whose CPU a shared-backend publish run divides among.
const CPU_GROUPS: [(&str, &str); 4] = [
    ("shire-registry", "node"),
    ("postgres", "PostgreSQL"),
    ("s3s-fs", "S3"),
    ("shire-bench", "driver"),
];

/// CPU seconds and context switches per process group (and idle seconds)
/// over timed runs, with the publishes and wall seconds they covered.
#[derive(Default)]
struct CpuShares {
    groups: [Usage; CPU_GROUPS.len()],
    idle: f64,
    wall: f64,
    publishes: usize,
    started: Option<(Vec<Usage>, Option<f64>, std::time::Instant)>,
}

impl CpuShares {
    fn start() -> Self {
        let names = CPU_GROUPS.map(|(n, _)| n);
        let (sums, idle) = procfs::usage_by_name(&names);
        Self {
            started: Some((sums, idle, std::time::Instant::now())),
            ..Self::default()
        }
    }

    fn finish(mut self, publishes: usize) -> Self {
        let names = CPU_GROUPS.map(|(n, _)| n);
        let (sums, idle) = procfs::usage_by_name(&names);
        if let Some((before, idle_before, at)) = self.started.take() {
            for (i, (a, b)) in sums.iter().zip(&before).enumerate() {
                self.groups[i] = a.since(*b);
            }
            self.idle = idle.zip(idle_before).map_or(0.0, |(a, b)| a - b);
            self.wall = at.elapsed().as_secs_f64();
            self.publishes = publishes;
        }
        self
    }

    fn add(&mut self, other: &CpuShares) {
        for (a, b) in self.groups.iter_mut().zip(other.groups) {
            *a += b;
        }
        self.idle += other.idle;
        self.wall += other.wall;
        self.publishes += other.publishes;
    }

    /// `node 0.91 (switches 18.5 + 7.0), PostgreSQL 0.60 (...), ...; idle
    /// 7%`: per publish, the CPU milliseconds, then the switches out to wait
    /// and those preempted.
    fn note(&self) -> String {
        if self.publishes == 0 || self.wall <= 0.0 {
            return "not measured".into();
        }
        let each = |s: f64| s / self.publishes as f64;
        let parts: Vec<String> = CPU_GROUPS
            .iter()
            .zip(self.groups)
            .map(|((_, label), u)| {
                format!(
                    "{label} {:.2} (switches {:.1} + {:.1})",
                    each(u.cpu * 1000.0),
                    each(u.waits),
                    each(u.preempted)
                )
            })
            .collect();
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        format!(
            "{}; idle {:.0}%",
            parts.join(", "),
            100.0 * self.idle / (self.wall * cores)
        )
    }
}
