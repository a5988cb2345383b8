//! Sending one platform request, timing it and classifying the answer.

use crate::error::{PlatformError, PlatformErrorKind};
use std::time::{Duration, Instant};

/// What was called and how it went (no secrets), for timelines and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    /// Method and path.
    pub request: String,
    /// HTTP status, when an answer came.
    pub status: Option<u16>,
    /// How long it took.
    pub duration: Duration,
    /// The start of the answer's body, when one came.
    pub response: Option<String>,
}

/// Longest response excerpt kept in errors.
const EXCERPT: usize = 300;

/// The largest answer body ponte reads (32 MiB, far above any documented page): a
/// larger one fails the call instead of filling memory.
pub const MAX_BODY_BYTES: usize = 32 << 20;

/// Sends `req` and returns the body of a 2xx answer, or a classified error.
/// `rate_limit_wait` reads the platform's wait hint from a 429's headers.
pub(crate) async fn send(
    req: reqwest::RequestBuilder,
    label: String,
    rate_limit_wait: fn(&reqwest::header::HeaderMap) -> Duration,
) -> (CallInfo, Result<Vec<u8>, PlatformError>) {
    let (info, result) = send_with_headers(req, label, rate_limit_wait).await;
    (info, result.map(|(_, body)| body))
}

/// As [`send`], also returning the headers of a 2xx answer (pagination, totals).
pub(crate) async fn send_with_headers(
    req: reqwest::RequestBuilder,
    label: String,
    rate_limit_wait: fn(&reqwest::header::HeaderMap) -> Duration,
) -> (
    CallInfo,
    Result<(reqwest::header::HeaderMap, Vec<u8>), PlatformError>,
) {
    let started = Instant::now();
    let result = req.send().await;
    let mut info = CallInfo {
        request: label,
        status: None,
        duration: Duration::ZERO,
        response: None,
    };
    let resp = match result {
        Ok(r) => r,
        Err(e) => {
            info.duration = started.elapsed();
            if let Some(f) = forbidden(&e) {
                return (info, Err(PlatformError::permanent(f.to_string())));
            }
            let what = if e.is_timeout() {
                "timeout"
            } else {
                "connection error"
            };
            return (
                info,
                Err(PlatformError {
                    kind: PlatformErrorKind::Transient,
                    status: None,
                    message: format!("{what}: {e}"),
                }),
            );
        }
    };
    let status = resp.status().as_u16();
    info.status = Some(status);
    let wait = (status == 429).then(|| rate_limit_wait(resp.headers()));
    let headers = resp.headers().clone();
    let body = read_capped(resp).await;
    info.duration = started.elapsed();
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            return (
                info,
                Err(PlatformError {
                    status: Some(status),
                    ..e
                }),
            )
        }
    };
    let excerpt: String = String::from_utf8_lossy(&body[..body.len().min(EXCERPT * 4)])
        .chars()
        .take(EXCERPT)
        .collect();
    info.response = Some(excerpt.clone());
    if (200..300).contains(&status) {
        return (info, Ok((headers, body)));
    }
    let kind = match status {
        429 => PlatformErrorKind::RateLimited(wait.unwrap_or(Duration::from_secs(1))),
        401 | 403 => PlatformErrorKind::Auth,
        404 => PlatformErrorKind::NotFound,
        408 | 425 | 500..=599 => PlatformErrorKind::Transient,
        _ => PlatformErrorKind::Permanent,
    };
    (
        info,
        Err(PlatformError {
            kind,
            status: Some(status),
            message: format!("HTTP {status}: {excerpt}"),
        }),
    )
}

/// Reads an answer's body, refusing one larger than [`MAX_BODY_BYTES`] (announced or
/// not) without holding more than that.
async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>, PlatformError> {
    let too_large = || {
        PlatformError::permanent(format!(
            "answer larger than {} MiB: refused",
            MAX_BODY_BYTES >> 20
        ))
    };
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(PlatformError {
                    kind: PlatformErrorKind::Transient,
                    status: None,
                    message: format!("reading body: {e}"),
                })
            }
        }
    }
}

/// The resolver's refusal, when that is why a connection failed.
fn forbidden(e: &reqwest::Error) -> Option<&crate::outbound::ForbiddenAddress> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(f) = s.downcast_ref::<crate::outbound::ForbiddenAddress>() {
            return Some(f);
        }
        source = s.source();
    }
    None
}

/// One [`CallInfo`] for several calls: the first's label with the others named, the
/// last status, the whole duration.
pub(crate) fn joined(calls: Vec<CallInfo>) -> CallInfo {
    let mut it = calls.into_iter();
    let Some(mut first) = it.next() else {
        return CallInfo {
            request: "nothing called".into(),
            status: None,
            duration: Duration::ZERO,
            response: None,
        };
    };
    for c in it {
        first.request = format!("{}; {}", first.request, c.request);
        first.duration += c.duration;
        if c.status.is_none_or(|s| !(200..300).contains(&s))
            || first.status.is_some_and(|s| (200..300).contains(&s))
        {
            first.status = c.status;
            first.response = c.response;
        }
    }
    first
}

/// The longest wait a platform's `Retry-After` can ask for; a larger one is capped.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Parses `Retry-After` given in seconds, capped at [`MAX_RETRY_AFTER`] (a platform's
/// `1e20` must not overflow a duration).
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(MAX_RETRY_AFTER.as_secs_f64())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(v: &str) -> Option<Duration> {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::RETRY_AFTER,
            reqwest::header::HeaderValue::from_str(v).unwrap_or_else(|e| panic!("{e}")),
        );
        retry_after(&h)
    }

    #[test]
    fn retry_after_is_capped_and_never_panics() {
        assert_eq!(wait("2"), Some(Duration::from_secs(2)));
        assert_eq!(wait("1e20"), Some(MAX_RETRY_AFTER));
        assert_eq!(wait("inf"), None);
        assert_eq!(wait("-1"), None);
        assert_eq!(wait("NaN"), None);
        assert_eq!(wait("1e-300"), Some(Duration::ZERO));
    }
}
