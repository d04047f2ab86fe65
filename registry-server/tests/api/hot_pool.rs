//! The shared backend's stack of PostgreSQL connections
//! (`store/hot_pool.rs`), on a real PostgreSQL: the connection used last
//! serves next, a waiting caller is handed one back, and a connection that
//! failed, that the server dropped while it sat idle, or that was left
//! inside a transaction never serves again.

use crate::helpers::{shared_storage, Release};
use shire_registry::store::hot_pool::{HotConn, HotPool, Timings};
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

/// A stack of at most `size` connections to a new database, and a pool of
/// its own to watch the server from.
async fn stack_of(size: u32, timings: Timings) -> (HotPool, sqlx::PgPool) {
    let storage = shared_storage();
    let pool = PgPoolOptions::new()
        .max_connections(size)
        .test_before_acquire(false)
        .connect_lazy(&storage.postgres)
        .unwrap();
    let observer = sqlx::PgPool::connect(&storage.postgres).await.unwrap();
    let hot = HotPool::with_timings(pool, size, tokio::runtime::Handle::current(), timings);
    (hot, observer)
}

/// The server process behind the connection one call is given.
async fn pid_of_a_call(hot: &HotPool) -> i32 {
    hot.run(|c| {
        Box::pin(async move {
            sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()")
                .fetch_one(c)
                .await
        })
    })
    .await
    .unwrap()
}

async fn pid_of(conn: &mut HotConn) -> i32 {
    sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()")
        .fetch_one(&mut **conn)
        .await
        .unwrap()
}

/// `n` connections held at once, with their server processes.
async fn hold(hot: &HotPool, n: usize) -> Vec<(HotConn, i32)> {
    let mut held = Vec::new();
    for _ in 0..n {
        let mut conn = hot.acquire().await.unwrap();
        let pid = pid_of(&mut conn).await;
        held.push((conn, pid));
    }
    held
}

/// Whether server process `pid` is still connected.
async fn connected(observer: &sqlx::PgPool, pid: i32) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)")
        .bind(pid)
        .fetch_one(observer)
        .await
        .unwrap()
}

/// Ends server process `pid` as a restart or a dropped socket would, and
/// waits until it is gone.
async fn terminate(observer: &sqlx::PgPool, pid: i32) {
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(observer)
        .await
        .unwrap();
    assert!(
        ended(observer, pid).await,
        "server process {pid} outlived its termination"
    );
}

/// Waits until server process `pid` has ended; whether it did.
async fn ended(observer: &sqlx::PgPool, pid: i32) -> bool {
    for _ in 0..150 {
        if !connected(observer, pid).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn calls_in_turn_take_the_connection_used_last() {
    let (hot, _observer) = stack_of(4, Timings::default()).await;
    let held = hold(&hot, 4).await;
    let pids: Vec<i32> = held.iter().map(|(_, pid)| *pid).collect();
    for (conn, _) in held {
        conn.release();
    }
    assert_eq!(hot.idle(), 4);
    // sqlx's own pool would hand these out in turn, the one idle longest first.
    for _ in 0..10 {
        assert_eq!(pid_of_a_call(&hot).await, pids[3]);
    }
    assert_eq!(hot.idle(), 4, "the others wait below it");
}

#[tokio::test]
async fn a_caller_waiting_for_a_connection_is_handed_the_first_one_back() {
    let (hot, _observer) = stack_of(2, Timings::default()).await;
    let mut held = hold(&hot, 2).await;
    let waiting = tokio::spawn({
        let hot = hot.clone();
        async move { pid_of_a_call(&hot).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "a third connection past the size");
    let (first, pid) = held.remove(0);
    first.release();
    // On the stack, the connection is still in use as sqlx's pool counts:
    // a caller waiting inside sqlx would wait out its whole timeout.
    let got = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the waiting caller was handed the released connection")
        .unwrap();
    assert_eq!(got, pid);
}

#[tokio::test]
async fn a_connection_the_server_dropped_while_it_sat_idle_never_serves() {
    let timings = Timings {
        ping_idle_after: Duration::from_millis(50),
        ..Timings::default()
    };
    let (hot, observer) = stack_of(4, timings).await;
    let gone = pid_of_a_call(&hot).await;
    terminate(&observer, gone).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let serving = pid_of_a_call(&hot).await;
    assert_ne!(serving, gone);
    assert!(connected(&observer, serving).await);
    assert_eq!(hot.idle(), 1, "the dead one is not kept");
}

#[tokio::test]
async fn a_failed_call_never_puts_its_connection_on_the_stack() {
    let (hot, observer) = stack_of(4, Timings::default()).await;
    // A statement the server refuses: the connection goes back through
    // sqlx, which checks it, not onto the stack.
    let refused = hot
        .run(|c| {
            Box::pin(async move {
                sqlx::query_scalar::<_, i32>("SELECT 1 / 0")
                    .fetch_one(c)
                    .await
            })
        })
        .await;
    assert!(refused.is_err());
    assert_eq!(hot.idle(), 0);

    // A connection lost in the middle of a call: it and every one on the
    // stack (to the same server) are closed.
    let held = hold(&hot, 3).await;
    let pids: Vec<i32> = held.iter().map(|(_, pid)| *pid).collect();
    for (conn, _) in held {
        conn.release();
    }
    let lost = hot
        .run(|c| {
            Box::pin(async move {
                sqlx::query("SELECT pg_terminate_backend(pg_backend_pid())")
                    .execute(c)
                    .await
            })
        })
        .await;
    assert!(lost.is_err(), "{lost:?}");
    assert_eq!(hot.idle(), 0);
    for pid in pids {
        assert!(ended(&observer, pid).await, "{pid} was closed");
    }
    let serving = pid_of_a_call(&hot).await;
    assert!(connected(&observer, serving).await);
}

#[tokio::test]
async fn a_connection_idle_a_while_is_pinged_and_serves_again() {
    let timings = Timings {
        ping_idle_after: Duration::from_millis(50),
        ..Timings::default()
    };
    let (hot, _observer) = stack_of(4, timings).await;
    let first = pid_of_a_call(&hot).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(pid_of_a_call(&hot).await, first);
}

#[tokio::test]
async fn connections_idle_too_long_are_closed_with_no_call_to_close_them() {
    let timings = Timings {
        close_idle_after: Duration::from_millis(100),
        ..Timings::default()
    };
    let (hot, observer) = stack_of(4, timings).await;
    let held = hold(&hot, 3).await;
    let pids: Vec<i32> = held.iter().map(|(_, pid)| *pid).collect();
    for (conn, _) in held {
        conn.release();
    }
    assert_eq!(hot.idle(), 3);
    for pid in pids {
        assert!(ended(&observer, pid).await, "{pid} was closed");
    }
    assert_eq!(hot.idle(), 0);
    let serving = pid_of_a_call(&hot).await;
    assert!(connected(&observer, serving).await);
}

#[tokio::test]
async fn a_connection_due_for_renewal_is_closed_after_its_call() {
    let timings = Timings {
        renew_after: Duration::ZERO,
        ..Timings::default()
    };
    let (hot, observer) = stack_of(4, timings).await;
    let pid = pid_of_a_call(&hot).await;
    assert_eq!(hot.idle(), 0);
    assert!(ended(&observer, pid).await, "renewed, not handed back");
}

/// A connection given up inside a transaction (its caller's task ended
/// before a `COMMIT` or `ROLLBACK`) is closed, which ends the transaction
/// and frees its locks: sqlx's ping on the way back would have passed it
/// on to another caller with the lock still held.
#[tokio::test]
async fn a_connection_left_inside_a_transaction_is_closed_and_its_locks_freed() {
    let (hot, observer) = stack_of(4, Timings::default()).await;
    let mut conn = hot.acquire().await.unwrap();
    let pid = pid_of(&mut conn).await;
    sqlx::raw_sql("BEGIN; SELECT pg_advisory_xact_lock(4242)")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    assert!(ended(&observer, pid).await, "closed, not pooled");
    let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(4242)")
        .fetch_one(&observer)
        .await
        .unwrap();
    assert!(free, "the transaction's lock went with it");
    assert_eq!(hot.idle(), 0);
}

/// Connections to `observer`'s database, other than its own, that are
/// idle inside a transaction.
pub async fn inside_a_transaction(observer: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(observer)
    .await
    .unwrap()
}

/// A node's write batches, committed and refused, leave no connection of
/// its inside a transaction (a batch given up under the lock:
/// `shared_only::a_version_read_as_free_before_another_process_took_it_is_refused`).
#[tokio::test]
async fn a_node_leaves_no_connection_inside_a_transaction() {
    let storage = shared_storage();
    let c = crate::club_with({
        let s = storage.clone();
        move |config| config.storage = Some(s)
    })
    .await;
    let r = Release::new("braintree/crm", "1.0.0");
    c.app.publish(&c.bt, &r).await.ok(201);
    // Refused by the ledger: its batch is given up and rolled back.
    c.app
        .publish(
            &c.bt,
            &Release::new("braintree/crm", "1.0.0").description("again"),
        )
        .await
        .refused(409, "version_exists");
    let observer = sqlx::PgPool::connect(&storage.postgres).await.unwrap();
    assert_eq!(inside_a_transaction(&observer).await, 0);
    let node_backends: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(&observer)
    .await
    .unwrap();
    assert!(
        node_backends > 0,
        "the node's connections are there to check"
    );
}
