//! Readings of a server process from `/proc`: resident memory (`VmRSS` in
//! `/proc/PID/status`, once or sampled in the background) and CPU time used
//! (`/proc/PID/stat`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The process's resident set size in MiB, if it can be read.
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU seconds (user + system) the process has used so far.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: indexes 11 and 12 here.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports these in clock ticks of USER_HZ, 100 on every common build.
    Some((utime + stime) / 100.0)
}

/// A background sampler of one process's RSS.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<f64>>,
}

impl Sampler {
    /// Starts sampling every `every`.
    pub fn start(pid: u32, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                if let Some(m) = rss_mib(pid) {
                    samples.push(m);
                }
                tokio::time::sleep(every).await;
            }
            samples
        });
        Self { stop, task }
    }

    /// Stops and returns the largest sample (None when nothing could be read).
    pub async fn finish(self) -> Option<f64> {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.task.await.ok()?;
        samples.into_iter().reduce(f64::max)
    }
}

/// CPU seconds used so far by every process of the machine whose command
/// name is one of `names` (summed per name), and the machine's idle
/// seconds: for telling where a workload's CPU went when several
/// processes serve it (the node's, PostgreSQL's backends, the S3 server).
pub fn cpu_by_name(names: &[&str]) -> (Vec<f64>, Option<f64>) {
    let mut sums = vec![0.0; names.len()];
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let Some(comm) = stat
                .split_once('(')
                .and_then(|(_, r)| r.rsplit_once(')'))
                .map(|(c, _)| c)
            else {
                continue;
            };
            if let Some(i) = names.iter().position(|n| *n == comm) {
                sums[i] += cpu_seconds(pid).unwrap_or(0.0);
            }
        }
    }
    (sums, idle_seconds())
}

/// Seconds all the machine's cores have been idle (`/proc/stat`).
fn idle_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().find(|l| l.starts_with("cpu "))?;
    let idle: f64 = cpu.split_whitespace().nth(4)?.parse().ok()?;
    Some(idle / 100.0)
}
