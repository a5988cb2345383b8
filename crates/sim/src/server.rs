//! Serving a simulator: its axum router on a local port until its handle stops it.

use axum::Router;
use std::net::SocketAddr;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running simulator; call [`ServerHandle::shutdown`] to stop it.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    /// The API's base path on the host (`/v1` for Nuvemshop, else empty).
    path: &'static str,
    shutdown: watch::Sender<bool>,
    join: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// Listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}` and the API's base path, standing in for the platform's API base
    /// URL (Nuvemshop: `http://{addr}/v1`, requests go to `{base_url}/{store_id}/orders`
    /// as on `https://api.nuvemshop.com.br/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, self.path)
    }

    /// Stops serving (and the simulator's own deliveries); waits for in-flight
    /// requests.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(j) = self.join.take() {
            let _ = j.await;
        }
    }
}

/// Serves `app` on `listener` until `stop` turns true; `worker` (the simulator's own
/// deliveries, watching the same signal) is awaited after the server stops. `path` is
/// the API's base path (see [`ServerHandle::base_url`]).
pub(crate) fn serve(
    name: &'static str,
    path: &'static str,
    listener: tokio::net::TcpListener,
    app: Router,
    stop: (watch::Sender<bool>, watch::Receiver<bool>),
    worker: Option<JoinHandle<()>>,
) -> ServerHandle {
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let (tx, mut rx) = stop;
    let join = tokio::spawn(async move {
        let stopped = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::warn!(error = %e, "{name} sim server stopped with an error");
        }
        if let Some(w) = worker {
            let _ = w.await;
        }
    });
    ServerHandle {
        addr,
        path,
        shutdown: tx,
        join: Some(join),
    }
}

/// Runs a demo until Ctrl-C: with `interval_ms` 0 it only waits; otherwise `step(n)`
/// runs every `interval_ms` with `n` counting up from `first + 1` (a new order, …).
pub(crate) async fn live_until_ctrl_c(
    interval_ms: u64,
    first: usize,
    mut step: impl FnMut(usize),
) -> Result<(), crate::SimError> {
    if interval_ms == 0 {
        return tokio::signal::ctrl_c().await.map_err(crate::SimError::from);
    }
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(interval_ms));
    let mut n = first;
    let live = async {
        loop {
            tick.tick().await;
            n += 1;
            step(n);
        }
    };
    tokio::select! {
        () = live => Ok(()),
        r = tokio::signal::ctrl_c() => r.map_err(crate::SimError::from),
    }
}
