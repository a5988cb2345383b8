//! Load generation on raw HTTP/1.1 keep-alive connections (hyper, no client pool),
//! so the generator costs as little CPU as possible on the machine it shares with
//! the server.

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A request to send.
pub type Req = http::Request<Full<Bytes>>;

/// What a closed-loop run measured.
pub struct Closed {
    /// Requests answered 2xx.
    pub ok: u64,
    /// Requests that failed or answered otherwise.
    pub errors: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Latency in microseconds.
    pub latency: Histogram<u64>,
}

impl Closed {
    /// Successful requests per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// A latency histogram in microseconds (1 µs to 10 min).
pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 600_000_000, 3)?)
}

/// One keep-alive connection.
pub struct Conn(hyper::client::conn::http1::SendRequest<Full<Bytes>>);

impl Conn {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Conn(send))
    }

    /// Sends one request; true for a 2xx answer (the body is read).
    pub async fn send(&mut self, req: Req) -> anyhow::Result<bool> {
        self.0.ready().await?;
        let resp = self.0.send_request(req).await?;
        let ok = resp.status().is_success();
        resp.into_body().collect().await?;
        Ok(ok)
    }
}

/// Builds a request: `method`, `path` on `addr`, headers, body.
pub fn request(
    method: &str,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Req {
    let mut b = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, addr.to_string());
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(body))
        .unwrap_or_else(|_| http::Request::new(Full::new(Bytes::new())))
}

/// Runs `workers` connections for `duration` (spread over `addrs`), each sending
/// `make(i)` for request `i`.
pub async fn closed_loop<F>(
    addrs: &[SocketAddr],
    workers: usize,
    duration: Duration,
    make: F,
) -> anyhow::Result<Closed>
where
    F: Fn(u64) -> Req + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = vec![];
    for w in 0..workers {
        let make = make.clone();
        let counter = counter.clone();
        let addr = addrs[w % addrs.len().max(1)];
        tasks.push(tokio::spawn(async move {
            let mut h = histogram()?;
            let mut conn = Conn::open(addr).await?;
            let (mut ok, mut errors) = (0u64, 0u64);
            while start.elapsed() < duration {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                match conn.send(make(i)).await {
                    Ok(true) => ok += 1,
                    Ok(false) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        conn = Conn::open(addr).await?;
                    }
                }
                h.record(t.elapsed().as_micros() as u64)?;
            }
            anyhow::Ok((ok, errors, h))
        }));
    }
    let mut out = Closed {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency: histogram()?,
    };
    for t in tasks {
        let (ok, errors, h) = t.await??;
        out.ok += ok;
        out.errors += errors;
        out.latency.add(&h)?;
    }
    out.elapsed = start.elapsed();
    Ok(out)
}
