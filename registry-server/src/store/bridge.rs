//! A small Tokio runtime for the shared backend's clients (sqlx, object_store),
//! which are async, called from the store's synchronous code.
//!
//! The callers may be actix workers, blocking-pool threads or plain `main`:
//! none may block on a runtime it runs inside, so each call is spawned here
//! and its caller waits for the answer on a channel, as it waits for a disk.

use super::error::StoreError;
use std::future::Future;

/// The runtime the shared backend's queries and object requests run on.
pub struct Bridge {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

impl Bridge {
    /// Starts the runtime (two threads: the work is waiting on the network).
    pub fn start(name: &str) -> Result<Bridge, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(format!("starting the {name} runtime: {e}")))?;
        let handle = runtime.handle().clone();
        Ok(Bridge {
            runtime: Some(runtime),
            handle,
        })
    }

    /// The runtime's handle, for what must be dropped or spawned on it.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }

    /// Runs `fut` on this runtime and waits for it.
    pub fn block<R: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<R, StoreError>> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .map_err(|_| StoreError::Backend("the storage runtime has stopped".into()))?
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // Dropping a runtime inside another one's context panics, and the
        // last handle may be dropped by an async task.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
