//! Bearer tokens from OpenID providers (IAM Identity Center organization and
//! account instances, or any OIDC issuer): who is calling, and from which
//! identity source.
//!
//! With an auth configuration (`consoledx serve --auth-config FILE`), every
//! `/v1/*` route but `/v1/health` needs `Authorization: Bearer <JWT>` whose
//! issuer is trusted, whose signature verifies against the issuer's published
//! keys (found through its discovery document, cached, re-fetched once when an
//! unknown key id shows up so rotations work), whose audience is this backend
//! and which has not expired, not-yet-started, or (where introspection is
//! configured) been revoked. The verified [`Caller`] goes into the request's
//! extensions for the handlers.

mod config;
mod http;

pub use config::{
    AuthConfig, AuthConfigError, IdentitySourceKind, IntrospectionConfig, IssuerConfig,
};

use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Who sent a request, as the token's issuer vouches for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub issuer: String,
    pub identity_source_kind: IdentitySourceKind,
    pub subject: String,
    /// The configured username claim, or the subject when the token has none.
    pub username: String,
    pub groups: Vec<String>,
}

/// Why a request was refused. The messages are shown to users as they are:
/// they say what to do, and never carry internals (those are logged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(
        "This backend requires sign-in: sign in to your identity source so requests carry an Authorization: Bearer token."
    )]
    MissingToken,
    #[error("The sign-in token sent is not a valid token. Sign in again.")]
    MalformedToken,
    #[error(
        "Your token comes from an identity source this backend does not trust. Use a profile whose identity source this backend accepts, or ask your administrator to add it."
    )]
    UnknownIssuer,
    #[error("The sign-in token's signature could not be verified. Sign in again.")]
    BadSignature,
    #[error("Your sign-in has expired. Sign in again.")]
    TokenExpired,
    #[error(
        "Your sign-in token is not valid yet. Check that this computer's clock is set correctly."
    )]
    TokenNotYetValid,
    #[error(
        "Your token was issued for another application, not this backend. Check the profile's backend URL, or ask your administrator."
    )]
    WrongAudience,
    #[error("Your sign-in was revoked. Sign in again.")]
    TokenRevoked,
    #[error(
        "Your identity source could not be reached to check your sign-in. Try again in a minute."
    )]
    IssuerUnavailable,
}

impl Rejection {
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::MissingToken => "missing_token",
            Rejection::MalformedToken => "malformed_token",
            Rejection::UnknownIssuer => "unknown_issuer",
            Rejection::BadSignature => "bad_signature",
            Rejection::TokenExpired => "token_expired",
            Rejection::TokenNotYetValid => "token_not_yet_valid",
            Rejection::WrongAudience => "wrong_audience",
            Rejection::TokenRevoked => "token_revoked",
            Rejection::IssuerUnavailable => "issuer_unavailable",
        }
    }

    /// The identity source being down is not the token's fault: 503, so
    /// clients retry instead of asking the user to sign in again.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::IssuerUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    pub(crate) fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.code(), "message": self.to_string()});
        let mut response = (self.status(), Json(body)).into_response();
        if self.status() == StatusCode::UNAUTHORIZED {
            // RFC 6750: no error code when no credentials were sent at all.
            let challenge = if self == Rejection::MissingToken {
                r#"Bearer realm="consoledx""#.to_string()
            } else {
                // The messages hold no quotes or backslashes, so they sit in a quoted-string as they are.
                format!(
                    r#"Bearer realm="consoledx", error="invalid_token", error_description="{}""#,
                    self
                )
            };
            if let Ok(value) = header::HeaderValue::try_from(challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// Algorithms a trusted issuer may sign with. Never `none`, never HMAC (a
/// shared secret would let anyone holding it mint tokens, and HS256 "signed"
/// with a public key is the classic forgery).
const ALLOWED_ALGORITHMS: [(&str, Algorithm); 3] = [
    ("RS256", Algorithm::RS256),
    ("PS256", Algorithm::PS256),
    ("ES256", Algorithm::ES256),
];

/// Longest token looked at; real access tokens are a few KiB.
const TOKEN_LIMIT: usize = 16 * 1024;
/// Introspection answers kept at most (oldest dropped first when full).
const INTROSPECTION_CACHE_LIMIT: usize = 10_000;

/// Validates bearer tokens against the configured issuers. Cheap to share.
#[derive(Debug)]
pub struct Authenticator {
    issuers: Vec<Issuer>,
    leeway: Duration,
    jwks_cache: Duration,
    jwks_refetch_interval: Duration,
    introspection_cache: Duration,
    http: http::Client,
}

#[derive(Debug)]
struct Issuer {
    config: IssuerConfig,
    /// Serialises fetches: one discovery + JWKS download at a time per issuer.
    fetch: tokio::sync::Mutex<()>,
    keys: Mutex<Option<KeySet>>,
    introspected: Mutex<HashMap<String, (bool, Instant)>>,
}

#[derive(Debug, Clone)]
struct KeySet {
    fetched: Instant,
    keys: Vec<PublishedKey>,
    introspection_endpoint: Option<String>,
}

#[derive(Clone)]
struct PublishedKey {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

impl std::fmt::Debug for PublishedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishedKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

/// The parts of a token read before its signature is checked, to choose the issuer and key.
struct Unverified {
    algorithm: String,
    kid: Option<String>,
    issuer: String,
}

#[derive(Deserialize)]
struct VerifiedClaims {
    sub: String,
    exp: u64,
    #[serde(default)]
    jti: Option<String>,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

impl Authenticator {
    pub fn new(config: AuthConfig) -> Authenticator {
        Authenticator {
            leeway: Duration::from_secs(config.leeway_seconds),
            jwks_cache: Duration::from_secs(config.jwks_cache_seconds),
            jwks_refetch_interval: Duration::from_secs(config.jwks_refetch_interval_seconds),
            introspection_cache: Duration::from_secs(config.introspection_cache_seconds),
            issuers: config
                .issuers
                .into_iter()
                .map(|config| Issuer {
                    config,
                    fetch: tokio::sync::Mutex::new(()),
                    keys: Mutex::new(None),
                    introspected: Mutex::new(HashMap::new()),
                })
                .collect(),
            http: http::Client::new(),
        }
    }

    /// The caller of a request with these headers, or why it is refused.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Rejection> {
        let token = bearer_token(headers)?;
        self.validate(token).await
    }

    /// Validates one bearer token (the JWT itself, without `Bearer `).
    pub async fn validate(&self, token: &str) -> Result<Caller, Rejection> {
        if token.len() > TOKEN_LIMIT {
            return Err(Rejection::MalformedToken);
        }
        let unverified = read_unverified(token)?;
        let Some(issuer) = self
            .issuers
            .iter()
            .find(|issuer| issuer.config.url == unverified.issuer)
        else {
            tracing::info!(issuer = %unverified.issuer, "token from an untrusted issuer refused");
            return Err(Rejection::UnknownIssuer);
        };
        let Some(algorithm) = ALLOWED_ALGORITHMS
            .iter()
            .find(|(name, _)| *name == unverified.algorithm)
            .map(|(_, algorithm)| *algorithm)
        else {
            tracing::info!(alg = %unverified.algorithm, "token with a refused algorithm");
            return Err(Rejection::BadSignature);
        };
        let keys = self.keys_for(issuer, unverified.kid.as_deref()).await?;
        let candidates: Vec<&PublishedKey> = keys
            .keys
            .iter()
            .filter(|key| key.algorithms.contains(&algorithm))
            .filter(|key| unverified.kid.is_none() || key.kid == unverified.kid)
            .collect();
        if candidates.is_empty() {
            tracing::info!(kid = ?unverified.kid, issuer = %issuer.config.url, "no published key for the token");
            return Err(Rejection::BadSignature);
        }
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.leeway = self.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_audience(&[issuer.config.audience.as_str()]);
        validation.set_issuer(&[issuer.config.url.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let mut outcome = Err(Rejection::BadSignature);
        for candidate in candidates {
            outcome = jsonwebtoken::decode::<VerifiedClaims>(token, &candidate.key, &validation)
                .map_err(|err| rejection_for(&err));
            if !matches!(outcome, Err(Rejection::BadSignature)) {
                break;
            }
        }
        let claims = outcome?.claims;
        if issuer.config.introspection.is_some() && keys.introspection_endpoint.is_none() {
            // Accepting would silently stop refusing revoked tokens.
            tracing::error!(issuer = %issuer.config.url, "introspection is configured but the issuer's discovery document has no introspection_endpoint");
            return Err(Rejection::IssuerUnavailable);
        }
        if let Some(endpoint) = &keys.introspection_endpoint
            && let Some(introspection) = &issuer.config.introspection
            && !self
                .is_active(
                    issuer,
                    introspection,
                    endpoint,
                    token,
                    claims.jti.as_deref(),
                )
                .await?
        {
            // Inside our leeway the issuer already calls it inactive: expired, not revoked.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_secs());
            return Err(if claims.exp <= now {
                Rejection::TokenExpired
            } else {
                Rejection::TokenRevoked
            });
        }
        caller_from(&issuer.config, claims)
    }

    /// The issuer's keys, fetched if absent or stale, and fetched again when
    /// the token names a key id not among them (rate-limited: a stream of
    /// tokens with made-up key ids must not hammer the issuer).
    async fn keys_for(&self, issuer: &Issuer, kid: Option<&str>) -> Result<KeySet, Rejection> {
        let knows = |set: &KeySet| {
            kid.is_none_or(|kid| set.keys.iter().any(|k| k.kid.as_deref() == Some(kid)))
        };
        if let Some(set) = cached(issuer)
            && set.fetched.elapsed() < self.jwks_cache
            && knows(&set)
        {
            return Ok(set);
        }
        let _fetching = issuer.fetch.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(set) = cached(issuer) {
            let fresh = set.fetched.elapsed() < self.jwks_cache;
            if fresh && (knows(&set) || set.fetched.elapsed() < self.jwks_refetch_interval) {
                return Ok(set);
            }
        }
        let set = self.fetch_keys(issuer).await?;
        if let Ok(mut slot) = issuer.keys.lock() {
            *slot = Some(set.clone());
        }
        Ok(set)
    }

    async fn fetch_keys(&self, issuer: &Issuer) -> Result<KeySet, Rejection> {
        let unavailable = |detail: String| {
            tracing::warn!(issuer = %issuer.config.url, %detail, "identity source unavailable");
            Rejection::IssuerUnavailable
        };
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            issuer.config.url.trim_end_matches('/')
        );
        let discovery: Discovery = self
            .http
            .get_json(&discovery_url)
            .await
            .map_err(|e| unavailable(format!("{discovery_url}: {e}")))?;
        if discovery.issuer != issuer.config.url {
            return Err(unavailable(format!(
                "discovery document names issuer {} instead",
                discovery.issuer
            )));
        }
        let jwks: JwkSet = self
            .http
            .get_json(&discovery.jwks_uri)
            .await
            .map_err(|e| unavailable(format!("{}: {e}", discovery.jwks_uri)))?;
        let keys: Vec<PublishedKey> = jwks.keys.iter().filter_map(published_key).collect();
        tracing::info!(issuer = %issuer.config.url, keys = keys.len(), "fetched signing keys");
        Ok(KeySet {
            fetched: Instant::now(),
            keys,
            introspection_endpoint: discovery.introspection_endpoint,
        })
    }

    /// RFC 7662 introspection, answers cached briefly per token.
    async fn is_active(
        &self,
        issuer: &Issuer,
        introspection: &IntrospectionConfig,
        endpoint: &str,
        token: &str,
        jti: Option<&str>,
    ) -> Result<bool, Rejection> {
        let cache_key = jti.unwrap_or(token).to_string();
        if let Ok(cache) = issuer.introspected.lock()
            && let Some((active, at)) = cache.get(&cache_key)
            && at.elapsed() < self.introspection_cache
        {
            return Ok(*active);
        }
        let answer: IntrospectionAnswer = self
            .http
            .post_form(
                endpoint,
                &introspection.client_id,
                &introspection.client_secret,
                &[("token", token), ("token_type_hint", "access_token")],
            )
            .await
            .map_err(|detail| {
                tracing::warn!(issuer = %issuer.config.url, %detail, "introspection failed");
                Rejection::IssuerUnavailable
            })?;
        if !self.introspection_cache.is_zero()
            && let Ok(mut cache) = issuer.introspected.lock()
        {
            if cache.len() >= INTROSPECTION_CACHE_LIMIT {
                let ttl = self.introspection_cache;
                cache.retain(|_, (_, at)| at.elapsed() < ttl);
                if cache.len() >= INTROSPECTION_CACHE_LIMIT {
                    cache.clear();
                }
            }
            cache.insert(cache_key, (answer.active, Instant::now()));
        }
        Ok(answer.active)
    }
}

fn cached(issuer: &Issuer) -> Option<KeySet> {
    issuer.keys.lock().ok().and_then(|slot| slot.clone())
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
    #[serde(default)]
    introspection_endpoint: Option<String>,
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Value>,
}

#[derive(Deserialize)]
struct IntrospectionAnswer {
    active: bool,
}

/// A signing key from a JWKS entry; encryption keys and key types outside
/// the allowed algorithms are skipped (a JWKS may publish them too).
fn published_key(entry: &Value) -> Option<PublishedKey> {
    let jwk: Jwk = serde_json::from_value(entry.clone()).ok()?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![Algorithm::RS256, Algorithm::PS256],
        AlgorithmParameters::EllipticCurve(params) if params.curve == EllipticCurve::P256 => {
            vec![Algorithm::ES256]
        }
        _ => return None,
    };
    let algorithms = match jwk.common.key_algorithm {
        None => by_type.clone(),
        Some(KeyAlgorithm::RS256) => vec![Algorithm::RS256],
        Some(KeyAlgorithm::PS256) => vec![Algorithm::PS256],
        Some(KeyAlgorithm::ES256) => vec![Algorithm::ES256],
        Some(_) => return None,
    };
    let algorithms: Vec<Algorithm> = algorithms
        .into_iter()
        .filter(|a| by_type.contains(a))
        .collect();
    if algorithms.is_empty() {
        return None;
    }
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(PublishedKey {
        kid: jwk.common.key_id,
        algorithms,
        key,
    })
}

/// The token from `Authorization: Bearer <token>`.
fn bearer_token(headers: &HeaderMap) -> Result<&str, Rejection> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(Rejection::MissingToken);
    };
    let value = value.to_str().map_err(|_| Rejection::MalformedToken)?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme (Basic, AWS4-HMAC-SHA256…) carries no bearer token at all.
        return Err(Rejection::MissingToken);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(Rejection::MissingToken);
    }
    Ok(token)
}

fn read_unverified(token: &str) -> Result<Unverified, Rejection> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::MalformedToken);
    };
    let decode = |part: &str| -> Result<serde_json::Map<String, Value>, Rejection> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| Rejection::MalformedToken)?;
        serde_json::from_slice(&bytes).map_err(|_| Rejection::MalformedToken)
    };
    let header = decode(header)?;
    let payload = decode(payload)?;
    let text = |map: &serde_json::Map<String, Value>, name: &str| {
        map.get(name).and_then(Value::as_str).map(str::to_string)
    };
    Ok(Unverified {
        algorithm: text(&header, "alg").ok_or(Rejection::MalformedToken)?,
        kid: text(&header, "kid"),
        issuer: text(&payload, "iss").ok_or(Rejection::MalformedToken)?,
    })
}

fn rejection_for(err: &jsonwebtoken::errors::Error) -> Rejection {
    use jsonwebtoken::errors::ErrorKind;
    match err.kind() {
        ErrorKind::ExpiredSignature => Rejection::TokenExpired,
        ErrorKind::ImmatureSignature => Rejection::TokenNotYetValid,
        ErrorKind::InvalidAudience => Rejection::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => Rejection::WrongAudience,
        ErrorKind::InvalidIssuer => Rejection::UnknownIssuer,
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat
        | ErrorKind::Crypto(_) => Rejection::BadSignature,
        _ => Rejection::MalformedToken,
    }
}

fn caller_from(config: &IssuerConfig, claims: VerifiedClaims) -> Result<Caller, Rejection> {
    let groups = match claims.rest.get(&config.groups_claim) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(group)) => vec![group.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect::<Option<Vec<String>>>()
            .ok_or(Rejection::MalformedToken)?,
        Some(_) => return Err(Rejection::MalformedToken),
    };
    let username = match claims.rest.get(&config.username_claim) {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        _ => claims.sub.clone(),
    };
    Ok(Caller {
        issuer: config.url.clone(),
        identity_source_kind: config.kind,
        subject: claims.sub,
        username,
        groups,
    })
}

/// Middleware: with an authenticator, `/v1/*` (but `/v1/health` and CORS
/// preflights) needs a valid token, and the [`Caller`] joins the request.
pub async fn require_caller(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(authenticator) = state.authenticator() else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    // Only liveness is open: the feedback page shows users' comments, so it
    // needs a token like the API.
    let open = path == "/healthz" || path == "/v1/health" || request.method() == Method::OPTIONS;
    if open {
        return next.run(request).await;
    }
    match authenticator.authenticate(request.headers()).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(rejection) => ApiError::Unauthorized(rejection).into_response(),
    }
}

impl Authenticator {
    /// Whether the caller is one of its issuer's configured admins.
    pub fn is_admin(&self, caller: &Caller) -> bool {
        let claims = caller.claims();
        self.issuers
            .iter()
            .filter(|issuer| crate::tenancy::same_issuer(&issuer.config.url, &caller.issuer))
            .any(|issuer| {
                issuer
                    .config
                    .admins
                    .iter()
                    .any(|admin| admin.matches(&claims))
            })
    }
}

impl Caller {
    /// What the access decisions read.
    pub fn claims(&self) -> crate::tenancy::CallerClaims<'_> {
        crate::tenancy::CallerClaims {
            issuer: &self.issuer,
            subject: &self.subject,
            username: &self.username,
            groups: &self.groups,
        }
    }
}

/// `GET /v1/whoami`: the caller as the backend sees it (issuer, kind, user, groups).
pub async fn get_whoami(caller: Option<axum::Extension<Caller>>) -> Result<Json<Caller>, ApiError> {
    caller
        .map(|axum::Extension(caller)| Json(caller))
        .ok_or_else(|| {
            ApiError::NotFound(
                "this backend runs without sign-in (no --auth-config), so requests have no caller"
                    .to_string(),
            )
        })
}
