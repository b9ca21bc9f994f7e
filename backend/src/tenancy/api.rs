//! `/v1/tenancy` (what the caller may use) and `/v1/admin/*` (the same
//! operations as `consoledx admin`, for callers the auth config names as
//! admins of their issuer).

use super::{GrantTarget, PackFile, TenancyError, TenancyService};
use crate::auth::Caller;
use crate::{ApiError, AppState};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use std::sync::Arc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tenancy", get(get_tenancy))
        .route(
            "/v1/admin/subscriptions",
            get(list_directory).post(create_subscription),
        )
        .route(
            "/v1/admin/subscriptions/{id}/grants",
            post(grant_subscription),
        )
        .route(
            "/v1/admin/subscriptions/{id}/grants/{principal}",
            delete(revoke_subscription),
        )
        .route("/v1/admin/profiles", post(create_profile))
        .route("/v1/admin/customizations", post(create_customization))
        .route(
            "/v1/admin/customizations/{id}/grants",
            post(grant_customization),
        )
        .route(
            "/v1/admin/customizations/{id}/grants/{principal}",
            delete(revoke_customization),
        )
        .route(
            "/v1/admin/customizations/{id}/versions",
            post(upload_version),
        )
        .route(
            "/v1/admin/customizations/{id}/versions/{version}/activate",
            post(activate_version),
        )
        .route(
            "/v1/admin/customizations/{id}/feedback",
            get(get_customization_feedback),
        )
        .route("/v1/admin/report", get(get_report))
}

impl From<TenancyError> for ApiError {
    fn from(err: TenancyError) -> ApiError {
        use super::DirectoryError;
        match err {
            TenancyError::Directory(DirectoryError::Invalid(reason))
            | TenancyError::Store(super::DirectoryStoreError::Directory(
                DirectoryError::Invalid(reason),
            )) => ApiError::BadRequest(reason),
            TenancyError::Directory(DirectoryError::NotFound(reason))
            | TenancyError::Store(super::DirectoryStoreError::Directory(
                DirectoryError::NotFound(reason),
            )) => ApiError::NotFound(reason),
            TenancyError::Directory(DirectoryError::Conflict(reason))
            | TenancyError::Store(super::DirectoryStoreError::Directory(
                DirectoryError::Conflict(reason),
            )) => ApiError::Conflict {
                code: "conflict",
                message: reason,
                detail: None,
            },
            TenancyError::Pack(reason) => {
                ApiError::BadRequest(format!("the customization does not load: {reason}"))
            }
            TenancyError::Residency(err @ super::ResidencyError::NoDatabase(_)) => {
                ApiError::BadRequest(err.to_string())
            }
            TenancyError::Regression(report) => ApiError::Conflict {
                code: "regression",
                message: format!(
                    "activation refused: the validation run scores lower with the customization ({})",
                    report.regressions.join("; ")
                ),
                detail: serde_json::to_value(&report).ok(),
            },
            TenancyError::Gate(err) => ApiError::Unavailable(err.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

fn service(state: &AppState) -> Result<&Arc<TenancyService>, ApiError> {
    state
        .tenancy()
        .ok_or_else(|| ApiError::internal("the directory is not open"))
}

/// The admin API is for callers their issuer's config names as admins; a
/// backend without sign-in has no such callers (use `consoledx admin` on it).
fn require_admin(state: &AppState, caller: Option<&Caller>) -> Result<(), ApiError> {
    if is_admin(state, caller) {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            code: "not_admin",
            message: "The admin API is for the administrators the backend's auth config names. On the server itself, use `consoledx admin`.".to_string(),
        })
    }
}

/// Whether the caller is one of its issuer's configured admins.
pub(crate) fn is_admin(state: &AppState, caller: Option<&Caller>) -> bool {
    match (state.authenticator(), caller) {
        (Some(authenticator), Some(caller)) => authenticator.is_admin(caller),
        _ => false,
    }
}

fn caller_name(caller: Option<&Caller>) -> String {
    caller
        .map(|c| format!("{} ({})", c.username, c.issuer))
        .unwrap_or_else(|| "local".to_string())
}

/// `GET /v1/tenancy`: the profiles and customizations the caller may use.
async fn get_tenancy(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
) -> Result<Json<super::directory::Visible>, ApiError> {
    let service = service(&state)?;
    let directory = service.directory().await?;
    let Some(Extension(caller)) = caller else {
        return Err(ApiError::NotFound(
            "this backend runs without sign-in (no --auth-config): it has no profiles per user"
                .to_string(),
        ));
    };
    Ok(Json(directory.visible_to(&caller.claims())))
}

async fn list_directory(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
) -> Result<Json<super::Directory>, ApiError> {
    require_admin(&state, caller.as_deref())?;
    let directory = service(&state)?.directory().await?;
    Ok(Json((*directory).clone()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSubscription {
    id: String,
    name: String,
    issuer: String,
}

async fn create_subscription(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    body: Result<Json<NewSubscription>, JsonRejection>,
) -> Result<Json<super::Subscription>, ApiError> {
    require_admin(&state, caller.as_deref())?;
    let Json(body) = body?;
    let created = service(&state)?
        .create_subscription(&body.id, &body.name, &body.issuer)
        .await?;
    Ok(Json(created))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewProfile {
    id: String,
    name: String,
    subscription: String,
    region: String,
}

async fn create_profile(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    body: Result<Json<NewProfile>, JsonRejection>,
) -> Result<Json<super::ProfileEntry>, ApiError> {
    require_admin(&state, caller.as_deref())?;
    let Json(body) = body?;
    let created = service(&state)?
        .create_profile(&body.id, &body.name, &body.subscription, &body.region)
        .await?;
    Ok(Json(created))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCustomization {
    id: String,
    name: String,
    subscription: String,
}

async fn create_customization(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    body: Result<Json<NewCustomization>, JsonRejection>,
) -> Result<Json<super::Customization>, ApiError> {
    require_admin(&state, caller.as_deref())?;
    let Json(body) = body?;
    let created = service(&state)?
        .create_customization(&body.id, &body.name, &body.subscription)
        .await?;
    Ok(Json(created))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGrant {
    /// `user:NAME` or `group:NAME`.
    principal: String,
}

async fn set_grant(
    state: &AppState,
    caller: Option<&Caller>,
    target: GrantTarget,
    principal: &str,
    granted: bool,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_admin(state, caller)?;
    let changed = service(state)?
        .set_grant(target, principal, granted)
        .await?;
    Ok(Json(serde_json::json!({"changed": changed})))
}

async fn grant_subscription(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
    body: Result<Json<NewGrant>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_admin(&state, caller.as_deref())?;
    let Json(body) = body?;
    let target = GrantTarget::Subscription(id);
    set_grant(&state, caller.as_deref(), target, &body.principal, true).await
}

async fn revoke_subscription(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path((id, principal)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let target = GrantTarget::Subscription(id);
    set_grant(&state, caller.as_deref(), target, &principal, false).await
}

async fn grant_customization(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
    body: Result<Json<NewGrant>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_admin(&state, caller.as_deref())?;
    let Json(body) = body?;
    let target = GrantTarget::Customization(id);
    set_grant(&state, caller.as_deref(), target, &body.principal, true).await
}

async fn revoke_customization(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path((id, principal)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let target = GrantTarget::Customization(id);
    set_grant(&state, caller.as_deref(), target, &principal, false).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewVersion {
    files: Vec<PackFile>,
}

async fn upload_version(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
    body: Result<Json<NewVersion>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_admin(&state, caller.as_deref())?;
    let Json(body) = body?;
    let version = service(&state)?
        .upload_version(&id, body.files, &caller_name(caller.as_deref()))
        .await?;
    Ok(Json(
        serde_json::json!({"customization": id, "version": version, "active": false}),
    ))
}

async fn activate_version(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path((id, version)): Path<(String, i64)>,
) -> Result<Json<super::GateReport>, ApiError> {
    require_admin(&state, caller.as_deref())?;
    let report = service(&state)?.activate(&id, version).await?;
    Ok(Json(report))
}

async fn get_customization_feedback(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_admin(&state, caller.as_deref())?;
    let rows = service(&state)?.customization_feedback(&id).await?;
    Ok(Json(
        serde_json::json!({"customization": id, "versions": rows}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    since: Option<String>,
    until: Option<String>,
    subscription: Option<String>,
}

async fn get_report(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    query: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<super::Report>, ApiError> {
    require_admin(&state, caller.as_deref())?;
    let Query(query) = query.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    let report = service(&state)?
        .report(
            query.since.as_deref(),
            query.until.as_deref(),
            query.subscription.as_deref(),
        )
        .await?;
    Ok(Json(report))
}
