//! `/api/auth/*`: registration, tokens, refresh, logout and device sessions.

use crate::actors::users::{
    CreateUser, ExternalCredentials, FindByEmail, ListSessions, OpenSession, Refresh, RevokeSession,
    SyncExternalUser,
};
use crate::actors::Settled;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{client_address, Body, Caller, Revoker};
use crate::api::views::{DeviceSessionView, TokenPair, TokenResponse, UserView};
use crate::api::AppState;
use crate::auth::lcs::LcsError;
use crate::auth::password;
use crate::config::Provider;
use crate::domain::user::{normalize_email, DeviceSession, NewAccount, Role, Roles, User};
use crate::domain::validate::FieldErrors;
use crate::domain::DeviceSessionId;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterBody {
    #[schema(value_type = String, required = true, max_length = 254)]
    pub email: Option<String>,
    /// At least 8 characters.
    #[schema(value_type = String, required = true, min_length = 8)]
    pub password: Option<String>,
    /// 1–255 characters, not blank.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 255, pattern = r"\S")]
    pub name: Option<String>,
}

#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterBody,
    responses((status = 201, body = UserView), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    Body(body): Body<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    if state.config.auth.provider != Provider::Local {
        return Err(ApiError::NotFound);
    }
    if !state.config.auth.local.open_registration {
        return Err(ApiError::RegistrationClosed);
    }
    throttle(&state, &req, body.email.as_deref())?;
    let account = NewAccount::parse(
        body.email.as_deref(),
        body.password.as_deref(),
        body.name.as_deref(),
    )?;
    let user = create_local_user(&state, account, Roles::default()).await?;
    Ok(HttpResponse::Created().json(UserView::from(&user)))
}

/// Hashes the password off the async threads and creates the account.
pub async fn create_local_user(
    state: &AppState,
    account: NewAccount,
    roles: Roles,
) -> Result<User, ApiError> {
    let hash = state.hasher.hash(account.password).await?;
    Ok(state
        .users
        .send(CreateUser {
            email: account.email,
            name: account.name,
            password_hash: Some(hash),
            roles,
        })
        .await??)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenBody {
    #[schema(value_type = String, required = true)]
    pub email: Option<String>,
    /// For the local provider.
    pub password: Option<String>,
    /// For the LCS provider: the identity service's token.
    pub lcs_token: Option<String>,
    /// A label for this device session (defaults to the User-Agent).
    #[schema(max_length = 100)]
    pub device: Option<String>,
}

#[utoipa::path(post, path = "/api/auth/token", tag = "auth", request_body = TokenBody,
    responses((status = 200, body = TokenResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    Body(body): Body<TokenBody>,
) -> Result<HttpResponse, ApiError> {
    throttle(&state, &req, body.email.as_deref())?;
    let mut errors = FieldErrors::new();
    let email = body.email.as_deref().and_then(normalize_email);
    if email.is_none() {
        errors.add("email", "a valid email is required");
    }
    let secret_field = match state.config.auth.provider {
        Provider::Local => ("password", body.password.clone()),
        Provider::Lcs => ("lcs_token", body.lcs_token.clone()),
    };
    if secret_field.1.is_none() {
        errors.add(secret_field.0, "is required");
    }
    let device = errors.optional_text("device", body.device.as_deref(), 100);
    let (Some(email), Some(secret)) = (email, errors.clone().into_result(secret_field.1)?) else {
        return Err(errors.into());
    };
    let device = if device.is_empty() {
        device_label(&req)
    } else {
        device
    };
    let (user, external_token) = match state.config.auth.provider {
        Provider::Local => (check_password(&state, &email, secret).await?, None),
        Provider::Lcs => {
            let user = sync_from_lcs(&state, &email, &secret).await?;
            (user, Some(secret))
        }
    };
    let (user, session) = state
        .users
        .send(OpenSession {
            user: user.id,
            device,
            external_token,
        })
        .await??;
    Ok(HttpResponse::Ok().json(token_response(&state, &user, &session)))
}

async fn check_password(state: &AppState, email: &str, password: String) -> Result<User, ApiError> {
    let user = state
        .users
        .send(Settled(FindByEmail(email.to_string())))
        .await??;
    let hash = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::decoy().to_string());
    let matches = state.hasher.verify(password, hash).await?;
    match user {
        Some(user) if matches && user.password_hash.is_some() => Ok(user),
        _ => Err(ApiError::InvalidCredentials),
    }
}

async fn sync_from_lcs(state: &AppState, email: &str, token: &str) -> Result<User, ApiError> {
    let lcs = state
        .lcs
        .as_ref()
        .ok_or_else(|| ApiError::Internal("lcs provider without a client".into()))?;
    let identity = lcs.identify(email, token).await.map_err(|e| match e {
        LcsError::Refused => ApiError::InvalidCredentials,
        LcsError::Unavailable(cause) => {
            tracing::warn!(%cause, "identity service unavailable");
            ApiError::IdentityProviderUnavailable
        }
    })?;
    Ok(state
        .users
        .send(SyncExternalUser {
            email: identity.email,
            name: identity.name,
            roles: identity.roles,
            slack_id: identity.slack_id,
            phone: identity.phone,
        })
        .await??)
}

/// Counts a sign-in, registration or refresh attempt against the throttles of
/// [`SignInThrottle`](crate::api::rate_limit::SignInThrottle): 429 when over.
fn throttle(state: &AppState, req: &HttpRequest, email: Option<&str>) -> Result<(), ApiError> {
    let address = client_address(req, &state.config.http.trusted_proxies);
    let email = email.and_then(normalize_email);
    state
        .sign_in
        .check(address, email.as_deref(), state.clock.now())
        .map_err(ApiError::RateLimited)
}

fn device_label(req: &HttpRequest) -> String {
    req.headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(100).collect())
        .unwrap_or_else(|| "unnamed device".into())
}

fn token_response(state: &AppState, user: &User, session: &DeviceSession) -> TokenResponse {
    let pair = token_pair(state, user, session);
    TokenResponse {
        access: pair.access,
        refresh: pair.refresh,
        user: UserView::from(user),
        is_mentor: user.roles.has(Role::Mentor),
        is_organizer: user.roles.has(Role::Organizer),
        is_director: user.roles.has(Role::Director),
    }
}

fn token_pair(state: &AppState, user: &User, session: &DeviceSession) -> TokenPair {
    TokenPair {
        access: state.keys.issue_access(user, session.id, state.clock.now()),
        refresh: state.keys.issue_refresh(session.id, session.generation),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshBody {
    #[schema(value_type = String, required = true)]
    pub refresh: Option<String>,
}

impl RefreshBody {
    fn session(&self, state: &AppState) -> Result<(DeviceSessionId, u64), ApiError> {
        let token = self
            .refresh
            .as_deref()
            .ok_or_else(|| ApiError::validation("refresh", "is required"))?;
        state.keys.verify_refresh(token).ok_or(ApiError::TokenNotValid)
    }
}

#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshBody,
    responses((status = 200, body = TokenPair), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)))]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    Body(body): Body<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    throttle(&state, &req, None)?;
    let (session, generation) = body.session(&state)?;
    let rotate = state.config.auth.rotate_refresh_tokens;
    let (mut user, session) = state
        .users
        .send(Refresh {
            session,
            generation,
            rotate,
        })
        .await??;
    if state.config.auth.provider == Provider::Lcs {
        user = refresh_roles_from_lcs(&state, session.id, user).await?;
    }
    Ok(HttpResponse::Ok().json(token_pair(&state, &user, &session)))
}

/// Takes the roles the identity service gives now. If it refuses the stored token the
/// login is over; if it is unreachable, the stored roles stand (and a warning is logged)
/// so an outage of the identity service does not log everyone out.
async fn refresh_roles_from_lcs(
    state: &AppState,
    session: DeviceSessionId,
    user: User,
) -> Result<User, ApiError> {
    let Some((email, token)) = state.users.send(Settled(ExternalCredentials(session))).await?? else {
        return Ok(user);
    };
    match sync_from_lcs(state, &email, &token).await {
        Ok(user) => Ok(user),
        Err(ApiError::InvalidCredentials) => {
            state
                .users
                .send(RevokeSession {
                    user: user.id,
                    session,
                })
                .await??;
            Err(ApiError::TokenNotValid)
        }
        Err(ApiError::IdentityProviderUnavailable) => Ok(user),
        Err(other) => Err(other),
    }
}

#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", request_body = RefreshBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn logout(
    state: web::Data<AppState>,
    Revoker(caller): Revoker,
    Body(body): Body<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let (session, _) = body.session(&state)?;
    state
        .users
        .send(RevokeSession {
            user: caller.id(),
            session,
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/auth/sessions", tag = "auth",
    responses((status = 200, body = Vec<DeviceSessionView>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_sessions(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let sessions = state.users.send(Settled(ListSessions(caller.id()))).await??;
    let views: Vec<DeviceSessionView> = sessions
        .iter()
        .map(|s| DeviceSessionView::new(s, caller.session))
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

#[utoipa::path(delete, path = "/api/auth/sessions/{id}", tag = "auth",
    params(("id" = u64, Path, description = "device session id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_session(
    state: web::Data<AppState>,
    Revoker(caller): Revoker,
    id: web::Path<u64>,
) -> Result<HttpResponse, ApiError> {
    state
        .users
        .send(RevokeSession {
            user: caller.id(),
            session: DeviceSessionId(id.into_inner()),
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}
