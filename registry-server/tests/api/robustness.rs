//! What the security review found besides attacks: a full disk, slow and
//! oversized bodies, error bodies, HEAD.

use crate::helpers::{Release, TestApp};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A tmpfs of `mib` MiB mounted on a new temporary folder, unmounted on drop.
struct SmallFs {
    dir: Option<tempfile::TempDir>,
    path: std::path::PathBuf,
}

impl SmallFs {
    /// Mounts one, or says why it cannot (mounting needs root).
    fn mount(mib: u64) -> Result<SmallFs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("running mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(SmallFs {
            path: dir.path().to_path_buf(),
            dir: Some(dir),
        })
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        drop(self.dir.take());
    }
}

/// Fills the file system holding `dir` with one ballast file, leaving about
/// `leave` bytes free.
fn fill(dir: &Path, leave: u64) -> std::path::PathBuf {
    use std::io::Write as _;
    let path = dir.join("ballast");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0x5au8; 64 << 10];
    let free = || {
        let st = rustix::fs::statvfs(dir).unwrap();
        st.f_bavail * st.f_frsize
    };
    while free() > leave + block.len() as u64 && f.write_all(&block).is_ok() {}
    if leave == 0 {
        while f.write_all(&block).is_ok() {}
        while f.write_all(&[0]).is_ok() {}
    }
    let _ = f.sync_all();
    path
}

#[tokio::test]
async fn writes_resume_by_themselves_once_a_full_disk_has_room_again() {
    if crate::SHARED {
        return; // fills the disk under sled, which the shared backend does not use
    }
    // No reserve: the disk fills under the database itself, which fails a
    // write and must be reopened.
    full_disk(0, 0).await;
}

#[tokio::test]
async fn below_the_free_space_reserve_writes_are_refused_before_the_disk_fills() {
    full_disk(8 << 20, 2 << 20).await;
}

/// Publishes, fills the disk to `leave` free bytes under a node keeping
/// `reserve` free, sees every publish refused and the node not ready,
/// empties the disk, and sees the node ready and publishing again.
async fn full_disk(reserve: u64, leave: u64) {
    let fs = match SmallFs::mount(48) {
        Ok(fs) => fs,
        Err(why) if !running_as_root() => {
            eprintln!("SKIPPED: mounting a small tmpfs needs root ({why})");
            return;
        }
        Err(why) => panic!("cannot mount a tmpfs as root: {why}"),
    };
    let dir = tempfile::Builder::new().tempdir_in(&fs.path).unwrap();
    let app = TestApp::spawn_in(dir, |c| c.min_free_bytes = reserve).await;
    for org in ["braintree", "kent", "socitm"] {
        app.create_org(org).await;
    }
    let bt = app.actor("bt-dev", "braintree", "publisher").await;
    app.publish(&bt, &Release::new("braintree/crm", "1.0.0"))
        .await
        .ok(201);
    let ballast = fill(&fs.path, leave);
    // Full: writes are refused with 507, nothing half-written, and the node
    // says it is not ready (but alive).
    for i in 1..=5 {
        let r = Release::new("braintree/crm", &format!("1.0.{i}"));
        let up = app
            .upload_as(&bt.token, &r.digest(), r.archive.clone())
            .await;
        let a = if up.status.is_success() {
            app.submit(&bt.token, r.sign(&bt.key)).await
        } else {
            up
        };
        assert!(
            matches!(a.status.as_u16(), 503 | 507),
            "release {i} on a full disk: {} {}",
            a.status,
            a.body
        );
        assert!(matches!(a.code(), "insufficient_storage" | "unavailable"));
        if reserve > 0 {
            // Refused by the reserve, before the database could fail.
            assert_eq!(a.code(), "insufficient_storage");
            assert!(
                a.body.to_string().contains("where the node keeps"),
                "{}",
                a.body
            );
        }
    }

    assert_eq!(app.get("/livez").await.status.as_u16(), 200);
    assert_eq!(app.get("/readyz").await.status.as_u16(), 503);
    std::fs::remove_file(ballast).unwrap();
    // Room again: ready again and publishing again, without a restart.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while app.get("/readyz").await.status.as_u16() != 200 {
        assert!(tokio::time::Instant::now() < deadline, "never ready again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.publish(&bt, &Release::new("braintree/crm", "2.0.0"))
        .await
        .ok(201);
    // What is stored adds up: every release with its log entry, files and
    // blob, and the signed tree is the one the entries make.
    let stored = crate::helpers::check_consistency(app.store());
    assert!(stored.contains(&"braintree/crm@1.0.0".to_string()));
    assert!(stored.contains(&"braintree/crm@2.0.0".to_string()));
    let cp = app.checkpoint().await;
    let entries = app.log_entries(0, cp.size()).await;
    let tree = shire_tlog::MemoryLog::from_entries(&entries).unwrap();
    assert_eq!(tree.root().unwrap(), cp.root());
    drop(app);
    drop(fs);
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Sends `head` (and then `body`, `pace` between bytes) over a raw
/// connection; returns the status and the JSON body of the answer, and how
/// long it took.
async fn raw(
    url: &str,
    head: &str,
    body: &[u8],
    pace: Duration,
) -> (u16, serde_json::Value, Duration) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let start = tokio::time::Instant::now();
    s.write_all(head.as_bytes()).await.unwrap();
    for b in body {
        if s.write_all(&[*b]).await.is_err() {
            break;
        }
        tokio::time::sleep(pace).await;
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let json = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .and_then(|b| serde_json::from_str(b.trim()).ok())
        .unwrap_or(serde_json::Value::Null);
    (status, json, start.elapsed())
}

/// A submit is refused for want of a token before any of its body is read.
/// The route reads its body before it looks its token up (to read the token
/// with the key and the release its statement names, in one round trip),
/// but not the body of a request that brought no token: here the body never
/// comes, and the answer does.
#[tokio::test]
async fn a_submit_without_a_token_is_refused_before_its_body_is_read() {
    // Long past the 30 s `raw` waits: an answer that waited for the body
    // (or for the deadline) would not come in time.
    let app = TestApp::spawn_with(|c| {
        c.body_deadline = shire_registry::config::BodyDeadline {
            grace: Duration::from_secs(120),
            min_rate: 1024,
            max_total: Duration::from_secs(600),
        };
    })
    .await;
    let head = "POST /api/v1/releases HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                Content-Type: application/json\r\nContent-Length: 900000\r\n\r\n";
    let (status, body, _) = raw(&app.url, head, b"", Duration::ZERO).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn a_very_long_url_and_oversized_headers_get_json_error_bodies() {
    let app = TestApp::spawn_with(|_| {}).await;
    let long = format!(
        "GET /api/v1/search?q={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let (status, body, _) = raw(&app.url, &long, b"", Duration::ZERO).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(200 * 1024)
    );
    let (status, body, _) = raw(&app.url, &big, b"", Duration::ZERO).await;
    assert_eq!(status, 431);
    assert_eq!(body["error"]["code"], "headers_too_large", "{body}");
    let mut many = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for i in 0..120 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("Connection: close\r\n\r\n");
    let (status, body, _) = raw(&app.url, &many, b"", Duration::ZERO).await;
    assert_eq!(status, 431);
    assert!(body["error"]["message"].as_str().is_some(), "{body}");
}

#[tokio::test]
async fn a_body_sent_a_byte_at_a_time_is_cut_off() {
    let app = TestApp::spawn_with(|c| {
        c.body_deadline = shire_registry::config::BodyDeadline {
            grace: Duration::from_secs(1),
            min_rate: 1024,
            max_total: Duration::from_secs(30),
        };
    })
    .await;
    app.create_org("braintree").await;
    let bt = app.actor("bt-dev", "braintree", "publisher").await;
    let before = app.snapshot();
    let digest = shire_core::Digest::of(b"never all of it");
    let head = format!(
        "PUT /api/v1/blobs/{digest} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 10000\r\nConnection: close\r\n\r\n",
        bt.token
    );
    let (status, body, took) = raw(&app.url, &head, &[7u8; 40], Duration::from_millis(200)).await;
    assert_eq!(status, 408, "{body}");
    assert_eq!(body["error"]["code"], "body_timeout");
    assert!(took < Duration::from_secs(15), "cut off in {took:?}");
    // A JSON body trickled the same way.
    let head = format!(
        "POST /api/v1/orgs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n",
        app.admin
    );
    let (status, body, _) = raw(
        &app.url,
        &head,
        br#"{"name": "x"}"#,
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(status, 408, "{body}");
    assert_eq!(body["error"]["code"], "body_timeout");
    assert_eq!(app.snapshot(), before);
}

#[tokio::test]
async fn an_oversized_content_length_gets_413_at_once() {
    let app = TestApp::spawn_with(|c| c.max_upload = 1 << 20).await;
    app.create_org("braintree").await;
    let bt = app.actor("bt-dev", "braintree", "publisher").await;
    let before = app.snapshot();
    let digest = shire_core::Digest::of(b"too big");
    let head = format!(
        "PUT /api/v1/blobs/{digest} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
        bt.token,
        60u64 << 20
    );
    // No body follows: the answer must not wait for one.
    let (status, body, took) = raw(&app.url, &head, b"", Duration::ZERO).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "too_large");
    assert!(took < Duration::from_secs(5), "answered in {took:?}");
    assert_eq!(app.snapshot(), before);
}

#[tokio::test]
async fn head_works_wherever_get_does() {
    let app = TestApp::spawn_with(|_| {}).await;
    app.create_org("braintree").await;
    let bt = app.actor("bt-dev", "braintree", "publisher").await;
    let r = Release::new("braintree/crm", "1.0.0");
    app.publish(&bt, &r).await.ok(201);
    for path in [
        "/healthz".to_string(),
        "/livez".into(),
        "/readyz".into(),
        "/api/v1/node".into(),
        "/api/v1/packages/braintree/crm".into(),
        "/api/v1/packages/braintree/crm/1.0.0".into(),
        "/api/v1/search?q=crm".into(),
        "/api/v1/log/checkpoint".into(),
        format!("/api/v1/artifacts/{}", r.digest()),
    ] {
        let get = app
            .client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        let head = app
            .client
            .head(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(head.status(), 200, "{path}");
        let len = |r: &reqwest::Response| r.headers().get("content-length").cloned();
        assert_eq!(len(&head), len(&get), "{path}: the same Content-Length");
        assert!(head.bytes().await.unwrap().is_empty(), "{path}: no body");
    }
    // And a HEAD of what does not exist is the GET's 404.
    let head = app
        .client
        .head(format!("{}/api/v1/packages/braintree/none", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 404);
}
