//! Middleware every request passes through: a deadline on its body, and HEAD
//! answered wherever GET is.
//!
//! **Body deadline.** A client that sends a body one byte every few seconds
//! would hold a worker's request open for ever. [`body_deadline`] wraps the
//! body in a stream that ends with a `TimedOut` error once the body falls
//! behind [`BodyDeadline`]: a grace period, then a minimum average rate,
//! and a cap on the whole. Extractors and the upload route turn that error
//! into 408 `body_timeout`. The body is kept alive until the response is
//! sent, so actix closes the connection instead of draining the rest of a
//! body nobody will read.
//!
//! **HEAD.** [`head_as_get`] runs a HEAD request as the GET it mirrors and
//! sends the GET's status and headers (`Content-Length` included) without a
//! body, so a HEAD of an artifact reads nothing from disk.
//!
//! **Request ids.** [`request_id`] names each request, logs it in a span
//! carrying the id, and returns the id in `X-Request-Id`.

use crate::config::BodyDeadline;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{self, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage};
use futures_util::Stream;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use tokio::time::{sleep_until, Instant, Sleep};

/// Marks a payload error as the body deadline passing.
pub fn is_body_timeout(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

/// Keeps the request body alive until the response is sent (see the module doc).
struct KeepBody(#[allow(dead_code)] Rc<RefCell<dev::Payload>>);

/// The body, cut off when it falls behind its deadline.
struct Guarded {
    inner: Rc<RefCell<dev::Payload>>,
    limits: BodyDeadline,
    start: Instant,
    received: u64,
    timer: Pin<Box<Sleep>>,
    failed: bool,
}

impl Guarded {
    /// When the body must have reached its next byte: the grace period plus
    /// what has arrived at the minimum rate, never past the cap.
    fn due(&self) -> Instant {
        let earned = std::time::Duration::from_secs_f64(
            self.received as f64 / self.limits.min_rate.max(1) as f64,
        );
        (self.start + self.limits.grace + earned).min(self.start + self.limits.max_total)
    }

    fn timed_out(&mut self) -> Poll<Option<Result<Bytes, PayloadError>>> {
        self.failed = true;
        Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "the request body arrived too slowly (after {} s, it must average {} bytes a second, and take at most {} s)",
                self.limits.grace.as_secs(),
                self.limits.min_rate,
                self.limits.max_total.as_secs()
            ),
        )))))
    }
}

impl Stream for Guarded {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(None);
        }
        if Instant::now() >= this.due() {
            return this.timed_out();
        }
        let polled = Pin::new(&mut *this.inner.borrow_mut()).poll_next(cx);
        match polled {
            Poll::Ready(Some(Ok(b))) => {
                this.received += b.len() as u64;
                let due = this.due();
                this.timer.as_mut().reset(due);
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Pending => {
                if this.timer.as_mut().poll(cx).is_ready() {
                    this.timed_out()
                } else {
                    Poll::Pending
                }
            }
            other => other,
        }
    }
}

/// Wraps every request body in its deadline.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let limits = req
        .app_data::<actix_web::web::Data<BodyDeadline>>()
        .map(|d| *d.get_ref())
        .unwrap_or_default();
    let payload = req.take_payload();
    if matches!(payload, dev::Payload::None) {
        return next.call(req).await;
    }
    let inner = Rc::new(RefCell::new(payload));
    let start = Instant::now();
    let guarded = Guarded {
        inner: inner.clone(),
        limits,
        start,
        received: 0,
        timer: Box::pin(sleep_until(start + limits.grace.min(limits.max_total))),
        failed: false,
    };
    let boxed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(guarded);
    req.set_payload(dev::Payload::from(boxed));
    let mut res = next.call(req).await?;
    res.response_mut().extensions_mut().insert(KeepBody(inner));
    Ok(res)
}

/// A body that is not sent: its size stays, so `Content-Length` does.
struct Headless(BodySize);

impl MessageBody for Headless {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        self.0
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(None)
    }
}

/// Answers HEAD as the GET of the same URL, without its body.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.method() != Method::HEAD {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    req.head_mut().method = Method::GET;
    let res = next.call(req).await?;
    Ok(res.map_body(|_, body| BoxBody::new(Headless(body.size()))))
}

/// The response header (and log field) naming a request.
pub const REQUEST_ID: &str = "x-request-id";

/// Whether a client's request id may be kept: 1 to 64 of `[A-Za-z0-9._-]`
/// (it goes into log lines and a header as it is).
fn valid_request_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Names every request: the client's `X-Request-Id` when it is a plain
/// token, else a new random one; runs the request inside a tracing span
/// carrying it (so every log line about the request has it), logs one line
/// when it is answered, and returns the id in the `X-Request-Id` header.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    use tracing::Instrument as _;
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(|| {
            let mut bytes = [0u8; 8];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
            hex::encode(bytes)
        });
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        route = %route,
    );
    let began = std::time::Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    span.in_scope(|| {
        tracing::info!(
            target: "shire_registry::http",
            status = res.status().as_u16(),
            ms = began.elapsed().as_secs_f64() * 1000.0,
            "answered"
        )
    });
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&id) {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static(REQUEST_ID),
            v,
        );
    }
    Ok(res)
}
