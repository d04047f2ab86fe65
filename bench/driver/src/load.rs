//! Load generation and statistics: wrk (or a built-in generator with the same
//! shape when wrk is absent) for GET throughput, sequential timing for latency.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// Throughput of one GET load run.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// Completed requests per second.
    pub requests_per_s: f64,
    /// Response bytes per second.
    pub bytes_per_s: f64,
}

/// What generates GET load.
#[derive(Debug, Clone)]
pub enum Generator {
    /// wrk at this path, two threads.
    Wrk(PathBuf),
    /// Tokio tasks with reqwest, one connection each.
    Builtin(reqwest::Client),
}

impl Generator {
    /// A short name for the table's footer.
    pub fn name(&self) -> &'static str {
        match self {
            Generator::Wrk(_) => "wrk",
            Generator::Builtin(_) => "built-in (reqwest)",
        }
    }

    /// Loads `url` with `connections` concurrent connections for `duration`.
    /// Fails when any answer is not a success.
    pub async fn get(
        &self,
        url: &str,
        connections: usize,
        duration: Duration,
    ) -> Result<Throughput> {
        match self {
            Generator::Wrk(bin) => {
                let bin = bin.clone();
                let url = url.to_string();
                tokio::task::spawn_blocking(move || wrk(&bin, &url, connections, duration))
                    .await
                    .context("wrk task")?
            }
            Generator::Builtin(client) => builtin(client, url, connections, duration).await,
        }
    }
}

fn wrk(bin: &PathBuf, url: &str, connections: usize, duration: Duration) -> Result<Throughput> {
    let out = Command::new(bin)
        .arg("-t2")
        .arg(format!("-c{connections}"))
        // wrk takes whole seconds.
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .arg("--timeout")
        .arg("10s")
        .arg(url)
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk failed: {} {}",
            String::from_utf8_lossy(&out.stderr).trim(),
            text.lines().next().unwrap_or_default()
        );
    }
    parse_wrk(&text)
}

/// Parses wrk's summary: `Requests/sec:` and `Transfer/sec:`; refuses runs with
/// non-2xx/3xx answers or socket errors beyond a trace.
pub fn parse_wrk(text: &str) -> Result<Throughput> {
    let mut rps = None;
    let mut bps = None;
    let mut requests = 0.0;
    for line in text.lines() {
        let line = line.trim();
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            rps = v.trim().parse::<f64>().ok();
        } else if let Some(v) = line.strip_prefix("Transfer/sec:") {
            bps = parse_size(v.trim());
        } else if line.contains("requests in") {
            requests = line
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<f64>().ok())
                .unwrap_or(0.0);
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            bail!("{} answers were not successes (wrk)", v.trim());
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            // connect/read/write/timeout counts; a few read errors at the end of a
            // run are wrk closing connections, more than 1% is a failure.
            let errors: f64 = v
                .split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<f64>().ok())
                .sum();
            if errors > requests.max(1.0) * 0.01 {
                bail!("wrk reported socket errors: {}", v.trim());
            }
        }
    }
    match (rps, bps) {
        (Some(r), Some(b)) if r > 0.0 => Ok(Throughput {
            requests_per_s: r,
            bytes_per_s: b,
        }),
        _ => bail!("no completed requests in wrk's output: {}", text.trim()),
    }
}

fn parse_size(s: &str) -> Option<f64> {
    let idx = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = s.split_at(idx);
    let n: f64 = num.trim().parse().ok()?;
    let mult = match unit.trim() {
        "" | "B" => 1.0,
        "KB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        "TB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(n * mult)
}

async fn builtin(
    client: &reqwest::Client,
    url: &str,
    connections: usize,
    duration: Duration,
) -> Result<Throughput> {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let client = client.clone();
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let mut requests = 0u64;
            let mut bytes = 0u64;
            while Instant::now() < deadline {
                let mut resp = client.get(&url).send().await?;
                if !resp.status().is_success() {
                    bail!("GET {url}: {}", resp.status());
                }
                while let Some(chunk) = resp.chunk().await? {
                    bytes += chunk.len() as u64;
                }
                requests += 1;
            }
            Ok::<_, anyhow::Error>((requests, bytes))
        }));
    }
    let mut requests = 0u64;
    let mut bytes = 0u64;
    for t in tasks {
        let (r, b) = t.await.context("load task")??;
        requests += r;
        bytes += b;
    }
    let secs = start.elapsed().as_secs_f64();
    if requests == 0 {
        bail!("no request completed");
    }
    Ok(Throughput {
        requests_per_s: requests as f64 / secs,
        bytes_per_s: bytes as f64 / secs,
    })
}

/// Times GETs of `urls` one after another on one kept-alive connection, until
/// all are done or `budget` has passed (at least `min` are always timed).
pub async fn sequential_latencies(
    client: &reqwest::Client,
    urls: &[String],
    budget: Duration,
    min: usize,
) -> Result<Vec<Duration>> {
    let start = Instant::now();
    let mut out = Vec::with_capacity(urls.len());
    for (i, url) in urls.iter().enumerate() {
        if i >= min && start.elapsed() > budget {
            break;
        }
        let t = Instant::now();
        let resp = client
            .get(url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = resp.status();
        let _ = resp.bytes().await?;
        if !status.is_success() {
            bail!("GET {url}: {status}");
        }
        out.push(t.elapsed());
    }
    Ok(out)
}

/// The median of some figures (None when empty).
pub fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

/// The `p`th percentile (0..=100, nearest rank) of latencies, in milliseconds.
pub fn percentile_ms(samples: &[Duration], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut v: Vec<Duration> = samples.to_vec();
    v.sort();
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, v.len()) - 1;
    Some(v[idx].as_secs_f64() * 1000.0)
}

/// How `samples` (in the order they were taken) spread: their count, p50,
/// p99 and largest in milliseconds, and the positions of the five slowest.
pub fn spread(samples: &[Duration]) -> String {
    let ms = |p: f64| percentile_ms(samples, p).unwrap_or(0.0);
    let mut slowest: Vec<(usize, Duration)> = samples.iter().copied().enumerate().collect();
    slowest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let at: Vec<String> = slowest.iter().take(5).map(|(i, _)| i.to_string()).collect();
    format!(
        "{} timed, p50 {:.2} ms, p99 {:.2} ms, largest {:.2} ms; the five slowest were requests {}",
        samples.len(),
        ms(50.0),
        ms(99.0),
        ms(100.0),
        at.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_summary_is_read() {
        let text = "Running 2s test @ http://127.0.0.1:1/x\n  2 threads and 64 connections\n  \
                    Thread Stats   Avg      Stdev     Max   +/- Stdev\n\
                    12000 requests in 2.00s, 1.50GB read\n\
                    Requests/sec:   6000.50\nTransfer/sec:    768.25MB\n";
        let t = parse_wrk(text).unwrap();
        assert_eq!(t.requests_per_s, 6000.5);
        assert_eq!(t.bytes_per_s, 768.25 * 1024.0 * 1024.0);
    }

    #[test]
    fn wrk_errors_are_refused() {
        let text = "100 requests in 1.00s, 1KB read\n  Non-2xx or 3xx responses: 100\n\
                    Requests/sec: 100.00\nTransfer/sec: 1.00KB\n";
        assert!(parse_wrk(text).is_err());
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&v, 50.0), Some(50.0));
        assert_eq!(percentile_ms(&v, 99.0), Some(99.0));
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn a_spread_names_where_the_slowest_fell() {
        let mut v: Vec<Duration> = (1..=100).map(|_| Duration::from_millis(1)).collect();
        v[7] = Duration::from_millis(40);
        v[90] = Duration::from_millis(9);
        let s = spread(&v);
        assert!(
            s.starts_with("100 timed, p50 1.00 ms, p99 9.00 ms, largest 40.00 ms"),
            "{s}"
        );
        assert!(s.ends_with("requests 7, 90, 0, 1, 2"), "{s}");
    }
}
