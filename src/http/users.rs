//! `/api/me/` and `/api/users/`: profiles and roles.

use crate::actors::users::{ListUsers, SetRoles, UpdateProfile};
use crate::actors::Settled;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{Body, Caller};
use crate::api::views::UserView;
use crate::api::AppState;
use crate::domain::user::may_list_users;
use crate::domain::user::{ProfileChange, Role, Roles};
use crate::domain::UserId;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

#[utoipa::path(get, path = "/api/me", tag = "users",
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn me(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(UserView::from(&caller.user))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MeBody {
    pub name: Option<String>,
    /// An empty string clears it.
    pub slack_id: Option<String>,
    /// An empty string clears it.
    pub phone: Option<String>,
}

#[utoipa::path(patch, path = "/api/me", tag = "users", request_body = MeBody,
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_me(
    state: web::Data<AppState>,
    caller: Caller,
    Body(body): Body<MeBody>,
) -> Result<HttpResponse, ApiError> {
    let change = ProfileChange::parse(
        body.name.as_deref(),
        body.slack_id.as_deref(),
        body.phone.as_deref(),
    )?;
    let user = state
        .users
        .send(UpdateProfile {
            user: caller.id(),
            change,
        })
        .await??;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct UsersQuery {
    /// Only users holding this role.
    pub role: Option<String>,
}

#[utoipa::path(get, path = "/api/users", tag = "users", params(UsersQuery),
    responses((status = 200, body = Vec<UserView>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_users(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, ApiError> {
    if !may_list_users(caller.user.roles) {
        return Err(ApiError::forbidden(
            "Only organizers and directors may list users.",
        ));
    }
    let role = query
        .role
        .as_deref()
        .map(|r| r.parse::<Role>().map_err(|e| ApiError::validation("role", &e)))
        .transpose()?;
    let users = state.users.send(Settled(ListUsers { role })).await??;
    Ok(HttpResponse::Ok().json(users.iter().map(UserView::from).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RolesBody {
    /// Any of `hacker`, `mentor`, `organizer`, `director`; `hacker` is always kept.
    pub roles: Option<Vec<String>>,
}

#[utoipa::path(put, path = "/api/users/{id}/roles", tag = "users", request_body = RolesBody,
    params(("id" = u64, Path, description = "user id")),
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_roles(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<u64>,
    Body(body): Body<RolesBody>,
) -> Result<HttpResponse, ApiError> {
    let names = body
        .roles
        .ok_or_else(|| ApiError::validation("roles", "is required"))?;
    let roles = names
        .iter()
        .map(|n| n.parse::<Role>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::validation("roles", &e))?;
    let user = state
        .users
        .send(SetRoles {
            by: caller.id(),
            target: UserId(id.into_inner()),
            roles: Roles::from_iter(roles),
        })
        .await??;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}
