//! Bearer-token authentication for every /api route.

use crate::problem::Problem;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ponte_core::ErrorCode;
use ponte_core::TenantId;

/// The authenticated tenant, available to handlers as an extension.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tenant(pub TenantId);

pub(crate) async fn require_token(
    State(engine): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return unauthorized("missing bearer token");
    };
    match engine.authenticate(token).await {
        Ok(Some(t)) => {
            req.extensions_mut().insert(Tenant(t));
            next.run(req).await
        }
        Ok(None) => unauthorized("invalid token"),
        Err(e) => Problem::from(e).into_response(),
    }
}

fn unauthorized(detail: &str) -> Response {
    let mut r = Problem::new(ErrorCode::Unauthorized, detail).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    r
}
