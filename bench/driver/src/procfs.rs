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

/// What the processes of one command name have used so far: CPU seconds,
/// and the times their threads were switched out, waiting (voluntary: a
/// thread blocked on a lock, a socket or a wake-up) or preempted.
#[derive(Clone, Copy, Default)]
pub struct Usage {
    /// CPU seconds, user and system.
    pub cpu: f64,
    /// Voluntary context switches.
    pub waits: f64,
    /// Involuntary context switches.
    pub preempted: f64,
}

impl Usage {
    /// What was used between `before` and this reading. A thread that ended
    /// between the two takes its switches with it: no figure goes below
    /// nothing.
    pub fn since(self, before: Usage) -> Usage {
        Usage {
            cpu: (self.cpu - before.cpu).max(0.0),
            waits: (self.waits - before.waits).max(0.0),
            preempted: (self.preempted - before.preempted).max(0.0),
        }
    }
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        self.cpu += other.cpu;
        self.waits += other.waits;
        self.preempted += other.preempted;
    }
}

/// [`Usage`] so far of every process of the machine whose command name is
/// one of `names` (summed per name), and the machine's idle seconds: for
/// telling where a workload's CPU went when several processes serve it (the
/// node's, PostgreSQL's backends, the S3 server).
pub fn usage_by_name(names: &[&str]) -> (Vec<Usage>, Option<f64>) {
    let mut sums = vec![Usage::default(); names.len()];
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
                let (waits, preempted) = switches(pid);
                let sum = &mut sums[i];
                sum.cpu += cpu_seconds(pid).unwrap_or(0.0);
                sum.waits += waits;
                sum.preempted += preempted;
            }
        }
    }
    (sums, idle_seconds())
}

/// The voluntary and involuntary context switches of every thread of the
/// process so far (`/proc/PID/task/*/status`; a thread that has ended is
/// no longer counted).
fn switches(pid: u32) -> (f64, f64) {
    let (mut waits, mut preempted) = (0.0, 0.0);
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return (waits, preempted);
    };
    for task in tasks.flatten() {
        if let Ok(status) = std::fs::read_to_string(task.path().join("status")) {
            let (w, p) = thread_switches(&status);
            waits += w;
            preempted += p;
        }
    }
    (waits, preempted)
}

/// The voluntary and involuntary context switches in one thread's
/// `status` text (nothing for a line missing).
fn thread_switches(status: &str) -> (f64, f64) {
    let count = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (
        count("voluntary_ctxt_switches"),
        count("nonvoluntary_ctxt_switches"),
    )
}

/// Seconds all the machine's cores have been idle (`/proc/stat`).
fn idle_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().find(|l| l.starts_with("cpu "))?;
    let idle: f64 = cpu.split_whitespace().nth(4)?.parse().ok()?;
    Some(idle / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_that_sleeps_is_counted_as_waiting() {
        // This thread's own count: other tests' threads may end meanwhile.
        let own = || thread_switches(&std::fs::read_to_string("/proc/thread-self/status").unwrap());
        let (before, _) = own();
        for _ in 0..5 {
            std::thread::sleep(Duration::from_millis(2));
        }
        let (after, _) = own();
        assert!(after >= before + 5.0, "{before} -> {after}");
    }

    #[test]
    fn switches_are_read_from_a_status_text() {
        let status = "Name:\tpostgres\nvoluntary_ctxt_switches:\t120\n\
                      nonvoluntary_ctxt_switches:\t7\n";
        assert_eq!(thread_switches(status), (120.0, 7.0));
        assert_eq!(thread_switches("Name:\tx\n"), (0.0, 0.0));
    }

    #[test]
    fn usage_since_never_goes_below_nothing() {
        let at = |cpu, waits, preempted| Usage {
            cpu,
            waits,
            preempted,
        };
        let d = at(2.0, 10.0, 3.0).since(at(1.5, 12.0, 1.0));
        assert_eq!((d.cpu, d.waits, d.preempted), (0.5, 0.0, 2.0));
    }

    #[test]
    fn usage_is_summed_by_command_name() {
        let me = std::fs::read_to_string("/proc/self/comm").unwrap();
        let (sums, idle) = usage_by_name(&[me.trim(), "no-such-command"]);
        assert!(sums[0].waits > 0.0);
        assert_eq!(sums[1].cpu + sums[1].waits + sums[1].preempted, 0.0);
        assert!(idle.is_some());
    }
}
