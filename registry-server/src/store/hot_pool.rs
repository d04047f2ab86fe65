//! PostgreSQL connections handed out most recently used first, and kept
//! between calls without a round trip to hand them back.
//!
//! sqlx's pool (0.8) hands out the connection idle longest, so every
//! connection it opened takes turns: on a small machine each call wakes a
//! backend whose caches have gone cold. It also pings every connection
//! handed back to it (a `Sync` and its answer, in a task of its own), a
//! second round trip for every call. Here the connections a call has
//! finished with wait on a stack: the next call takes the one used last,
//! with no round trip; only a call that did not end cleanly hands its
//! connection back through sqlx, which pings or closes it.
//!
//! sqlx's pool still opens, counts and closes the connections. A semaphore
//! of the pool's size is taken before a connection, and a caller waits
//! there, never inside sqlx: a connection on the stack stays counted as in
//! use by sqlx, whose own waiters would never see it come back.

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::Postgres;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a caller waits for a connection before its call fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a ping of a connection idle a while may take: a socket the
/// network silently dropped would otherwise hold its caller for good.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// The stack's timings ([`HotPool::with_timings`]).
#[derive(Clone, Copy, Debug)]
pub struct Timings {
    /// A connection idle longer than this is pinged before it serves: the
    /// database may have restarted, or a firewall dropped the socket.
    pub ping_idle_after: Duration,
    /// A connection at the bottom of the stack idle longer than this goes
    /// back to sqlx's pool, which closes it once idle long enough: the
    /// stack keeps what the load has lately needed.
    pub return_idle_after: Duration,
    /// A connection handed out first longer ago than this goes back to
    /// sqlx's pool after its call, which closes it past its lifetime: a
    /// backend's memory grows with what it has cached.
    pub renew_after: Duration,
}

impl Default for Timings {
    fn default() -> Timings {
        Timings {
            ping_idle_after: Duration::from_secs(30),
            return_idle_after: Duration::from_secs(60),
            renew_after: Duration::from_secs(25 * 60),
        }
    }
}

/// A pool of PostgreSQL connections that hands out the one used last.
#[derive(Clone)]
pub struct HotPool {
    shared: Arc<Shared>,
}

struct Shared {
    pool: PgPool,
    permits: Arc<Semaphore>,
    stack: Mutex<Vec<Idle>>,
    timings: Timings,
    /// The runtime the pool's connections live on: dropping one spawns
    /// sqlx's clean-up there.
    runtime: tokio::runtime::Handle,
}

/// A connection on the stack.
struct Idle {
    conn: PoolConnection<Postgres>,
    first_taken: Instant,
    since: Instant,
}

impl HotPool {
    /// A stack in front of `pool`, handing out at most `size` connections
    /// at once (the pool's own maximum); `runtime` is the one the pool's
    /// connections were made on.
    pub fn new(pool: PgPool, size: u32, runtime: tokio::runtime::Handle) -> HotPool {
        HotPool::with_timings(pool, size, runtime, Timings::default())
    }

    /// [`HotPool::new`] with `timings` other than the defaults.
    pub fn with_timings(
        pool: PgPool,
        size: u32,
        runtime: tokio::runtime::Handle,
        timings: Timings,
    ) -> HotPool {
        let size = usize::try_from(size.max(1)).unwrap_or(usize::MAX);
        HotPool {
            shared: Arc::new(Shared {
                pool,
                permits: Arc::new(Semaphore::new(size)),
                stack: Mutex::new(Vec::new()),
                timings,
                runtime,
            }),
        }
    }

    /// sqlx's pool behind the stack, for what runs once (migrations).
    pub fn pool(&self) -> &PgPool {
        &self.shared.pool
    }

    /// Connections waiting on the stack.
    pub fn idle(&self) -> usize {
        self.shared.stack().len()
    }

    /// A connection for one call: the one used last, pinged first if it has
    /// been idle a while, or one from sqlx's pool.
    pub async fn acquire(&self) -> Result<HotConn, sqlx::Error> {
        let permit =
            tokio::time::timeout(ACQUIRE_TIMEOUT, self.shared.permits.clone().acquire_owned())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)?
                .map_err(|_| sqlx::Error::PoolClosed)?;
        let top = self.shared.stack().pop();
        if let Some(mut idle) = top {
            let fresh = idle.since.elapsed() <= self.shared.timings.ping_idle_after;
            if fresh || ping(&mut idle.conn).await {
                return Ok(self.hand_out(idle.conn, idle.first_taken, permit));
            }
            // Those below it have been idle longer still.
            idle.conn.close_on_drop();
            self.shared.close_all();
        }
        let conn = self.shared.pool.acquire().await?;
        Ok(self.hand_out(conn, Instant::now(), permit))
    }

    fn hand_out(
        &self,
        conn: PoolConnection<Postgres>,
        first_taken: Instant,
        permit: OwnedSemaphorePermit,
    ) -> HotConn {
        HotConn {
            conn: Some(conn),
            first_taken,
            home: self.shared.clone(),
            _permit: permit,
        }
    }

    /// Runs `call` on a connection: on success the connection goes on the
    /// stack for the next call; on an error it goes back through sqlx, which
    /// checks it, and one that broke on the network takes the stack's
    /// others with it (they are to the same server).
    pub async fn run<R, F>(&self, call: F) -> Result<R, sqlx::Error>
    where
        F: for<'c> FnOnce(
            &'c mut PgConnection,
        ) -> futures_util::future::BoxFuture<'c, Result<R, sqlx::Error>>,
    {
        let mut conn = self.acquire().await?;
        let result = call(&mut conn).await;
        match &result {
            Ok(_) => conn.release(),
            Err(e) => conn.failed(e),
        }
        result
    }
}

/// Whether `error` means the connection, and likely every other one to the
/// same server, is gone: the network failed, or the server is shutting down
/// or was told to end it (SQLSTATE classes 08 and 57P).
fn connection_lost(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(e) => e
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

/// Whether `conn` answers a ping within [`PING_TIMEOUT`].
async fn ping(conn: &mut PgConnection) -> bool {
    let answer = tokio::time::timeout(PING_TIMEOUT, sqlx::Connection::ping(conn)).await;
    matches!(answer, Ok(Ok(())))
}

impl Shared {
    fn stack(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.stack.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes every connection on the stack.
    fn close_all(&self) {
        let _runtime = self.runtime.enter();
        for mut idle in self.stack().drain(..) {
            idle.conn.close_on_drop();
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _runtime = self.runtime.enter();
        self.stack().clear();
    }
}

/// A connection handed out by [`HotPool`]: [`HotConn::release`] it after a
/// call that ended cleanly. Dropped otherwise, it goes back through sqlx's
/// pool, which pings it before any other call has it.
pub struct HotConn {
    conn: Option<PoolConnection<Postgres>>,
    first_taken: Instant,
    home: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl HotConn {
    /// Puts the connection on top of the stack, for the next call; sends
    /// back to sqlx's pool those long idle at the bottom, and this one
    /// when it is due for renewal. Only for a connection outside any
    /// transaction, whose last call ended.
    pub fn release(mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let timings = self.home.timings;
        let _runtime = self.home.runtime.enter();
        if self.first_taken.elapsed() > timings.renew_after {
            drop(conn);
            return;
        }
        let mut stack = self.home.stack();
        let stale = stack
            .iter()
            .take_while(|idle| idle.since.elapsed() > timings.return_idle_after)
            .count();
        let returned: Vec<Idle> = stack.drain(..stale).collect();
        stack.push(Idle {
            conn,
            first_taken: self.first_taken,
            since: Instant::now(),
        });
        drop(stack);
        drop(returned);
    }

    /// After `error` on this connection: back through sqlx's pool; closed,
    /// with every connection on the stack, when the connection is lost.
    pub fn failed(mut self, error: &sqlx::Error) {
        if connection_lost(error) {
            if let Some(conn) = self.conn.as_mut() {
                conn.close_on_drop();
            }
            self.home.close_all();
        }
    }

    /// Closes the connection instead of handing it back (its state is not
    /// known: a transaction may still be open on it).
    pub fn close(mut self) {
        if let Some(conn) = self.conn.as_mut() {
            conn.close_on_drop();
        }
    }
}

impl std::ops::Deref for HotConn {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        // Taken only by `release`, `failed` and `close`, which consume it.
        self.conn.as_deref().unwrap_or_else(|| unreachable!())
    }
}

impl std::ops::DerefMut for HotConn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.as_deref_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for HotConn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _runtime = self.home.runtime.enter();
            drop(conn);
        }
    }
}
