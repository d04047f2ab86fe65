//! Starting and stopping the servers under test (shire-registry, nginx,
//! Verdaccio) on 127.0.0.1, each with its data in the run's temporary folder.
//! Every process started is killed when its handle drops, and its id is written
//! to the pid file so the calling script's trap can stop it if this one dies.

use anyhow::{anyhow, bail, Context, Result};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A started server process; killed on drop.
pub struct Server {
    name: &'static str,
    child: Child,
    log: PathBuf,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Server {
    /// The process id (for memory readings).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM first: nginx's master then stops its workers (a SIGKILL would
        // leave them running); SIGKILL after a grace period.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
            let start = Instant::now();
            while matches!(self.child.try_wait(), Ok(None))
                && start.elapsed() < Duration::from_secs(5)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Where started process ids are appended.
#[derive(Debug, Clone)]
pub struct PidFile(pub Option<PathBuf>);

impl PidFile {
    fn record(&self, pid: u32) {
        if let Some(path) = &self.0 {
            if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
                let _ = writeln!(f, "{pid}");
            }
        }
    }
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding a probe port")?;
    Ok(l.local_addr()?.port())
}

fn log_file(dir: &Path, name: &str) -> Result<(PathBuf, std::fs::File)> {
    let path = dir.join(format!("{name}.log"));
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    Ok((path, file))
}

/// A started shire-registry and its bootstrap admin token.
pub struct Shire {
    /// The process.
    pub server: Server,
    /// The admin token from `DATA/admin-token`.
    pub admin_token: String,
}

/// Starts `shire-registry serve --data DIR --listen 127.0.0.1:0` (with
/// `--max-upload` when given) and waits for its `shire-registry listening on
/// http://IP:PORT` line.
pub fn start_shire(
    bin: &Path,
    work: &Path,
    max_upload: Option<u64>,
    pids: &PidFile,
) -> Result<Shire> {
    start_shire_as(bin, work, "shire", max_upload, &[], pids)
}

/// [`start_shire`] for a node named `role` (its data folder and log are
/// named after it), with `extra` `serve` arguments.
pub fn start_shire_as(
    bin: &Path,
    work: &Path,
    role: &str,
    max_upload: Option<u64>,
    extra: &[String],
    pids: &PidFile,
) -> Result<Shire> {
    let data = work.join(format!("{role}-data"));
    std::fs::create_dir_all(&data)?;
    let (log, stderr) = log_file(work, role)?;
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .arg("--data")
        .arg(&data)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .args(extra);
    if let Some(limit) = max_upload {
        cmd.arg("--max-upload").arg(limit.to_string());
    }
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    pids.record(child.id());
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout pipe"))?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Reads every line so the server never blocks on a full pipe.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let _ = tx.send(rest.trim().to_string());
            }
        }
    });
    let mut server = Server {
        name: "shire-registry",
        child,
        log,
        base: String::new(),
    };
    let base = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(b) => b.trim_end_matches('/').to_string(),
        Err(mpsc::RecvTimeoutError::Timeout) => bail!(
            "shire-registry did not say it was listening within 30 s; its log:\n{}",
            server.log_tail()
        ),
        Err(mpsc::RecvTimeoutError::Disconnected) => bail!(
            "shire-registry exited (or closed its output) before saying it was listening \
             ({}); its log:\n{}",
            match server.child.try_wait() {
                Ok(Some(status)) => status.to_string(),
                _ => "still running".into(),
            },
            server.log_tail()
        ),
    };
    server.base = base;
    let token_path = data.join("admin-token");
    let start = Instant::now();
    let admin_token = loop {
        if let Ok(t) = std::fs::read_to_string(&token_path) {
            if !t.trim().is_empty() {
                break t.trim().to_string();
            }
        }
        if start.elapsed() > Duration::from_secs(10) || !server.alive() {
            bail!(
                "no admin token at {}; server log:\n{}",
                token_path.display(),
                server.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok(Shire {
        server,
        admin_token,
    })
}

/// Starts nginx serving `root` with the same kind of settings a static file server
/// would use in production (sendfile, keep-alive, no access log).
pub fn start_nginx(bin: &Path, work: &Path, root: &Path, pids: &PidFile) -> Result<Server> {
    let dir = work.join("nginx");
    std::fs::create_dir_all(dir.join("tmp"))?;
    let port = free_port()?;
    let conf = format!(
        "worker_processes 2;\n\
         daemon off;\n\
         pid {dir}/nginx.pid;\n\
         error_log {dir}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n\
           access_log off;\n\
           sendfile on; tcp_nopush on; tcp_nodelay on;\n\
           keepalive_requests 1000000; keepalive_timeout 60s;\n\
           client_body_temp_path {dir}/tmp/body; proxy_temp_path {dir}/tmp/proxy;\n\
           fastcgi_temp_path {dir}/tmp/fcgi; uwsgi_temp_path {dir}/tmp/uwsgi; scgi_temp_path {dir}/tmp/scgi;\n\
           types {{ application/json json; application/gzip gz; }}\n\
           default_type application/octet-stream;\n\
           server {{ listen 127.0.0.1:{port}; root {root}; }}\n\
         }}\n",
        dir = dir.display(),
        root = root.display(),
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf)?;
    let (log, out) = log_file(work, "nginx")?;
    let child = Command::new(bin)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf_path)
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    pids.record(child.id());
    let mut server = Server {
        name: "nginx",
        child,
        log,
        base: format!("http://127.0.0.1:{port}"),
    };
    wait_http(&mut server, "/", Duration::from_secs(10))?;
    Ok(server)
}

/// Starts Verdaccio with local storage only (no uplinks), JWT API tokens, and
/// publishing open to any authenticated user.
pub fn start_verdaccio(node: &Path, script: &Path, work: &Path, pids: &PidFile) -> Result<Server> {
    let dir = work.join("verdaccio");
    std::fs::create_dir_all(dir.join("storage"))?;
    let port = free_port()?;
    let conf = format!(
        "storage: {dir}/storage\n\
         auth:\n  htpasswd:\n    file: {dir}/htpasswd\n    max_users: 1000\n\
         security:\n  api:\n    legacy: false\n    jwt:\n      sign:\n        expiresIn: 7d\n\
         \x20 web:\n    sign:\n      expiresIn: 7d\n\
         uplinks: {{}}\n\
         packages:\n  '@*/*':\n    access: $all\n    publish: $authenticated\n\
         \x20 '**':\n    access: $all\n    publish: $authenticated\n\
         web:\n  enable: true\n  title: bench\n  rateLimit:\n    windowMs: 1000\n    max: 100000000\n\
         server:\n  keepAliveTimeout: 60\n\
         max_body_size: 300mb\n\
         log: {{ type: stdout, format: pretty, level: warn }}\n",
        dir = dir.display()
    );
    let conf_path = dir.join("config.yaml");
    std::fs::write(&conf_path, conf)?;
    let (log, out) = log_file(work, "verdaccio")?;
    let child = Command::new(node)
        .arg(script)
        .arg("--config")
        .arg(&conf_path)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env("NODE_ENV", "production")
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("starting {} {}", node.display(), script.display()))?;
    pids.record(child.id());
    let mut server = Server {
        name: "verdaccio",
        child,
        log,
        base: format!("http://127.0.0.1:{port}"),
    };
    wait_http(&mut server, "/-/ping", Duration::from_secs(60))?;
    Ok(server)
}

fn wait_http(server: &mut Server, path: &str, limit: Duration) -> Result<()> {
    let start = Instant::now();
    let addr = server.base.trim_start_matches("http://").to_string();
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
            let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
            if s.write_all(req.as_bytes()).is_ok() {
                let mut first = String::new();
                if BufReader::new(&mut s).read_line(&mut first).is_ok()
                    && first.starts_with("HTTP/")
                {
                    return Ok(());
                }
            }
        }
        if !server.alive() {
            bail!("{} exited; its log:\n{}", server.name, server.log_tail());
        }
        if start.elapsed() > limit {
            bail!(
                "{} did not answer within {limit:?}; its log:\n{}",
                server.name,
                server.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
