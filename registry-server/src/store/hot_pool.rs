//! PostgreSQL connections handed out most recently used first, and kept
//! between calls without a round trip to hand them back.
//!
//! sqlx's pool (0.8) hands out the connection idle longest, so every
//! connection it opened takes turns: on a small machine each call wakes a
//! backend whose caches have gone cold. It also pings every connection
//! handed back to it (a `Sync` and its answer, in a task of its own), a
//! second round trip for every call. Here the connections a call has
//! finished with wait on a stack: the next call takes the one used last,
//! with no round trip. A connection whose call failed on the statement goes
//! back through sqlx; any other that did not end cleanly is closed.
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

/// How long a caller waits for a connection (its turn, a ping, a new
/// connection) before its call fails.
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
    /// A connection on the stack idle longer than this is closed (checked
    /// at each release and every quarter of it): the stack keeps what the
    /// load has lately needed, and PostgreSQL ends the backends it does not.
    pub close_idle_after: Duration,
    /// A connection handed out first longer ago than this is closed after
    /// its call, and a new one made when needed: a backend's memory grows
    /// with what it has cached.
    pub renew_after: Duration,
}

impl Default for Timings {
    fn default() -> Timings {
        Timings {
            ping_idle_after: Duration::from_secs(30),
            // sqlx's own default idle timeout: a connection opened for a
            // burst costs a few milliseconds of planning to make again.
            close_idle_after: Duration::from_secs(10 * 60),
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
        let shared = Arc::new(Shared {
            pool,
            permits: Arc::new(Semaphore::new(size)),
            stack: Mutex::new(Vec::new()),
            timings,
            runtime: runtime.clone(),
        });
        // Closes connections idle too long when no call comes to do it; ends
        // with the pool.
        let watched = Arc::downgrade(&shared);
        runtime.spawn(async move {
            let mut ticks =
                tokio::time::interval((timings.close_idle_after / 4).max(SWEEP_AT_MOST));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match watched.upgrade() {
                    Some(shared) => shared.close_long_idle(),
                    None => return,
                }
            }
        });
        HotPool { shared }
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
        tokio::time::timeout(ACQUIRE_TIMEOUT, self.acquire_untimed())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
    }

    async fn acquire_untimed(&self) -> Result<HotConn, sqlx::Error> {
        let permit = self
            .shared
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let top = self.shared.stack().pop();
        if let Some(mut idle) = top {
            let fresh = idle.since.elapsed() <= self.shared.timings.ping_idle_after;
            if fresh || ping(&mut idle.conn).await {
                return Ok(self.hand_out(idle.conn, idle.first_taken, permit));
            }
            // Those below it have been idle longer still.
            self.shared.close(vec![idle]);
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

    /// Runs `call` (one statement, outside any transaction) on a connection:
    /// on success the connection goes on the stack for the next call; after
    /// an error, see [`HotConn::failed`].
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
        let closed: Vec<Idle> = self.stack().drain(..).collect();
        self.close(closed);
    }

    /// Closes the connections at the bottom of the stack idle longer than
    /// [`Timings::close_idle_after`].
    fn close_long_idle(&self) {
        let closed = self.take_long_idle(&mut self.stack());
        self.close(closed);
    }

    /// Takes from the bottom of `stack` (ordered by last use) the
    /// connections idle longer than [`Timings::close_idle_after`].
    fn take_long_idle(&self, stack: &mut Vec<Idle>) -> Vec<Idle> {
        let stale = stack
            .iter()
            .take_while(|idle| idle.since.elapsed() > self.timings.close_idle_after)
            .count();
        stack.drain(..stale).collect()
    }

    /// Closes `connections` on the pool's runtime, outside the stack's lock.
    fn close(&self, connections: Vec<Idle>) {
        if connections.is_empty() {
            return;
        }
        let _runtime = self.runtime.enter();
        for mut idle in connections {
            idle.conn.close_on_drop();
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let stack = std::mem::take(&mut *self.stack());
        self.close(stack);
    }
}

/// Sweeps for long-idle connections no more often than this.
const SWEEP_AT_MOST: Duration = Duration::from_millis(10);

/// A connection handed out by [`HotPool`]: [`HotConn::release`] it after a
/// call that ended cleanly, or give it [`HotConn::failed`]. Dropped
/// otherwise, it is closed: a transaction may still be open on it, holding
/// its locks, which sqlx's ping on the way back would not notice.
pub struct HotConn {
    conn: Option<PoolConnection<Postgres>>,
    first_taken: Instant,
    home: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl HotConn {
    /// Puts the connection on top of the stack, for the next call, and
    /// closes those long idle at the bottom; closes this one instead when it
    /// is due for renewal. Only for a connection outside any transaction,
    /// whose last call ended.
    pub fn release(mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let idle = Idle {
            conn,
            first_taken: self.first_taken,
            since: Instant::now(),
        };
        if self.first_taken.elapsed() > self.home.timings.renew_after {
            self.home.close(vec![idle]);
            return;
        }
        let closed = {
            let mut stack = self.home.stack();
            stack.push(idle);
            self.home.take_long_idle(&mut stack)
        };
        self.home.close(closed);
    }

    /// After `error` from a statement outside any transaction: back through
    /// sqlx's pool, which pings it; closed, with every connection on the
    /// stack (they are to the same server), when the connection is lost.
    pub fn failed(mut self, error: &sqlx::Error) {
        if connection_lost(error) {
            self.home.close_all();
            return;
        }
        if let Some(conn) = self.conn.take() {
            let _runtime = self.home.runtime.enter();
            drop(conn);
        }
    }

    /// Closes the connection instead of handing it back (its state is not
    /// known: a transaction may still be open on it); the stack's others
    /// too when `error` says the connection was lost.
    pub fn close_after(self, error: Option<&sqlx::Error>) {
        if error.is_some_and(connection_lost) {
            self.home.close_all();
        }
    }
}

impl std::ops::Deref for HotConn {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        // Taken only by `release` and `failed`, which consume it, and `drop`.
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
        if let Some(mut conn) = self.conn.take() {
            let _runtime = self.home.runtime.enter();
            conn.close_on_drop();
        }
    }
}
