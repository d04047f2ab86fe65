//! A registry that lies: a loopback proxy in front of a real node that passes
//! requests through but can replace chosen answers. Tests use it to hand the
//! client forged approvals, hostile archives and altered metadata that an honest
//! node would never serve, and check that the client refuses them on its own.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Rewrite = Arc<dyn Fn(&str, Vec<u8>) -> Vec<u8> + Send + Sync>;

#[derive(Clone, Default)]
struct Rules {
    /// Exact path (without query) -> bytes to answer with (status 200).
    replace: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    /// Applied to every upstream answer body, with the request path.
    rewrite: Arc<Mutex<Option<Rewrite>>>,
}

/// A running lying proxy.
pub struct Proxy {
    pub url: String,
    rules: Rules,
    handle: actix_web::dev::ServerHandle,
}

impl Proxy {
    /// Starts a proxy in front of `upstream` on 127.0.0.1:0.
    pub fn start(upstream: &str) -> Proxy {
        let rules = Rules::default();
        let upstream = upstream.trim_end_matches('/').to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        let r = rules.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let client = reqwest::Client::new();
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new((
                            r.clone(),
                            client.clone(),
                            upstream.clone(),
                        )))
                        .app_data(web::PayloadConfig::new(64 << 20))
                        .default_service(web::to(forward))
                })
                .workers(1)
                .bind("127.0.0.1:0")
                .expect("bind proxy");
                let addr = server.addrs()[0];
                let server = server.run();
                tx.send((addr, server.handle())).ok();
                server.await.ok();
            });
        });
        let (addr, handle) = rx.recv().expect("proxy started");
        Proxy {
            url: format!("http://{addr}"),
            rules,
            handle,
        }
    }

    /// Answers `path` with `body` instead of asking the node.
    pub fn replace(&self, path: &str, body: Vec<u8>) {
        self.rules
            .replace
            .lock()
            .unwrap()
            .insert(path.to_string(), body);
    }

    /// Rewrites every answer body passing through.
    pub fn rewrite(&self, f: impl Fn(&str, Vec<u8>) -> Vec<u8> + Send + Sync + 'static) {
        *self.rules.rewrite.lock().unwrap() = Some(Arc::new(f));
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let h = self.handle.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(h.stop(false));
        });
    }
}

async fn forward(
    req: HttpRequest,
    body: web::Bytes,
    data: web::Data<(Rules, reqwest::Client, String)>,
) -> HttpResponse {
    let (rules, client, upstream) = data.get_ref();
    let path = req.path().to_string();
    if let Some(b) = rules.replace.lock().unwrap().get(&path).cloned() {
        return HttpResponse::Ok().body(b);
    }
    let url = format!("{upstream}{}", req.uri());
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
    let mut up = client.request(method, url).body(body.to_vec());
    for (k, v) in req.headers() {
        if k != "host" && k != "content-length" {
            up = up.header(k.as_str(), v.as_bytes());
        }
    }
    let resp = match up.send().await {
        Ok(r) => r,
        Err(e) => return HttpResponse::BadGateway().body(e.to_string()),
    };
    let status = actix_web::http::StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.as_bytes().to_vec());
    let bytes = resp.bytes().await.unwrap_or_default().to_vec();
    let rewrite = rules.rewrite.lock().unwrap().clone();
    let bytes = match rewrite {
        Some(f) => f(&path, bytes),
        None => bytes,
    };
    let mut out = HttpResponse::build(status);
    if let Some(c) = ctype {
        out.insert_header(("content-type", c));
    }
    out.body(bytes)
}
