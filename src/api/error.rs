//! `ApiError`: every failure a client can see, with its status and stable `code`.
//!
//! Bodies are always `{"code", "detail", "fields"?}`. A 5xx body is opaque; its cause
//! goes to the log.

use crate::actors::queue::QueueError;
use crate::actors::session::SessionError;
use crate::actors::users::UserError;
use crate::domain::feedback::FeedbackError;
use crate::domain::queue::QueueRuleError;
use crate::domain::schedule::ScheduleError;
use crate::domain::ticket::TicketError;
use crate::domain::validate::FieldErrors;
use crate::store::StoreError;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The error body of API.md.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable snake_case code.
    pub code: &'static str,
    /// A sentence for a person.
    pub detail: String,
    /// Problems by field name; only for `validation_failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("The request body is not valid JSON: {0}.")]
    InvalidJson(String),
    #[error("Some fields are not valid.")]
    Validation(FieldErrors),
    #[error("Authentication credentials were not provided.")]
    NotAuthenticated,
    #[error("The token is not valid or has expired.")]
    TokenNotValid,
    #[error("The email or the credentials are not correct.")]
    InvalidCredentials,
    #[error("{0}")]
    PermissionDenied(String),
    #[error("Registration is closed.")]
    RegistrationClosed,
    #[error("Not found.")]
    NotFound,
    #[error("{1}")]
    NotFoundCode(&'static str, String),
    #[error("This method is not allowed on this route.")]
    MethodNotAllowed,
    /// A 409: the request is well-formed but the current state forbids it.
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("The request body is too large.")]
    PayloadTooLarge,
    #[error("Send the request body as JSON, with Content-Type: application/json.")]
    UnsupportedMediaType,
    #[error("Too many writes; retry in {0} seconds.")]
    RateLimited(u64),
    /// A 409 `cooldown`: retry after the given seconds.
    #[error("{1}")]
    Cooldown(u64, String),
    #[error("The identity service is unavailable; try again shortly.")]
    IdentityProviderUnavailable,
    /// A 503: the server is saturated (the password hasher's queue is full); retry
    /// after the given seconds.
    #[error("The server is busy; retry in {0} seconds.")]
    Busy(u64),
    /// A request head that is not valid HTTP/1.1 (the detail says what is wrong).
    #[error("The request is malformed: {0}.")]
    BadRequest(&'static str),
    #[error("The request head did not arrive in time.")]
    RequestTimeout,
    #[error("The request target is too long.")]
    UriTooLong,
    #[error("The request's header fields are too large or too many.")]
    HeadersTooLarge,
    #[error("An internal error occurred.")]
    Internal(String),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::Validation(_) => "validation_failed",
            ApiError::NotAuthenticated => "not_authenticated",
            ApiError::TokenNotValid => "token_not_valid",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::PermissionDenied(_) => "permission_denied",
            ApiError::RegistrationClosed => "registration_closed",
            ApiError::NotFound => "not_found",
            ApiError::NotFoundCode(code, _) => code,
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict(code, _) => code,
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::Cooldown(..) => "cooldown",
            ApiError::IdentityProviderUnavailable => "identity_provider_unavailable",
            ApiError::Busy(_) => "busy",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::RequestTimeout => "request_timeout",
            ApiError::UriTooLong => "uri_too_long",
            ApiError::HeadersTooLarge => "headers_too_large",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn validation(field: &str, message: &str) -> ApiError {
        ApiError::Validation(FieldErrors::from((field, message)))
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::PermissionDenied(detail.into())
    }

    /// The body for `status` when nothing more specific is known (actix's own
    /// responses: unknown routes, methods, oversize bodies).
    pub fn for_status(status: StatusCode) -> ApiError {
        match status.as_u16() {
            400 => ApiError::BadRequest("the server could not read it"),
            401 => ApiError::NotAuthenticated,
            403 => ApiError::forbidden("You do not have permission to do this."),
            404 => ApiError::NotFound,
            405 => ApiError::MethodNotAllowed,
            408 => ApiError::RequestTimeout,
            413 => ApiError::PayloadTooLarge,
            414 => ApiError::UriTooLong,
            431 => ApiError::HeadersTooLarge,
            415 => ApiError::UnsupportedMediaType,
            _ => ApiError::Internal(format!("unmapped status {status}")),
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code(),
            detail: self.to_string(),
            fields: match self {
                ApiError::Validation(f) => Some(f.0.clone()),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidJson(_) | ApiError::Validation(_) => StatusCode::BAD_REQUEST,
            ApiError::NotAuthenticated | ApiError::TokenNotValid | ApiError::InvalidCredentials => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::PermissionDenied(_) | ApiError::RegistrationClosed => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::NotFoundCode(..) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(..) | ApiError::Cooldown(..) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::IdentityProviderUnavailable => StatusCode::BAD_GATEWAY,
            ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::UriTooLong => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(%cause, "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        if let ApiError::RateLimited(seconds) | ApiError::Busy(seconds) | ApiError::Cooldown(seconds, _) =
            self
        {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(self.body())
    }
}

impl From<crate::auth::password::Busy> for ApiError {
    fn from(_: crate::auth::password::Busy) -> Self {
        ApiError::Busy(1)
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        ApiError::Validation(errors)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(format!("store: {e}"))
    }
}

impl From<actix::MailboxError> for ApiError {
    fn from(e: actix::MailboxError) -> Self {
        ApiError::Internal(format!("actor mailbox: {e}"))
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        let detail = e.to_string();
        match e {
            QueueError::NotFound | QueueError::NoSuchQueue => ApiError::NotFound,
            QueueError::Cooldown(seconds) => ApiError::Cooldown(seconds, detail),
            QueueError::Validation(fields) => ApiError::Validation(fields),
            QueueError::Rule(QueueRuleError::Fields(fields)) => ApiError::Validation(fields),
            QueueError::Rule(QueueRuleError::NameTaken(_)) => ApiError::Conflict("name_taken", detail),
            QueueError::Rule(QueueRuleError::InvalidTransition(_)) => {
                ApiError::Conflict("invalid_transition", detail)
            }
            QueueError::Ticket(TicketError::PermissionDenied(_)) | QueueError::PermissionDenied(_) => {
                ApiError::PermissionDenied(detail)
            }
            QueueError::Ticket(TicketError::AlreadyClaimed(_)) => {
                ApiError::Conflict("already_claimed", detail)
            }
            QueueError::Ticket(TicketError::InvalidTransition(_)) => {
                ApiError::Conflict("invalid_transition", detail)
            }
            QueueError::QueueClosed(_) => ApiError::Conflict("queue_closed", detail),
            QueueError::TooManyActive(_) => ApiError::Conflict("too_many_active_tickets", detail),
            QueueError::Feedback(FeedbackError::NotFound) => ApiError::NotFound,
            QueueError::Feedback(FeedbackError::NotRateable) => {
                ApiError::Conflict("invalid_transition", detail)
            }
            QueueError::Feedback(FeedbackError::Exists) => ApiError::Conflict("feedback_exists", detail),
            QueueError::Feedback(FeedbackError::TooLate) => ApiError::Conflict("invalid_transition", detail),
            QueueError::Feedback(FeedbackError::NotYours) => ApiError::PermissionDenied(detail),
            QueueError::Storage(e) => e.into(),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Rule(rule) => {
                let detail = rule.to_string();
                match rule {
                    ScheduleError::NotFound => ApiError::NotFound,
                    ScheduleError::Forbidden(_) => ApiError::PermissionDenied(detail),
                    ScheduleError::AvailabilityOverlaps => {
                        ApiError::Conflict("availability_overlaps", detail)
                    }
                    ScheduleError::SlotUnavailable => ApiError::Conflict("slot_unavailable", detail),
                    ScheduleError::SlotInUse => ApiError::Conflict("slot_in_use", detail),
                    ScheduleError::MenteeBusy => ApiError::Conflict("mentee_busy", detail),
                    ScheduleError::InvalidTransition(_) => ApiError::Conflict("invalid_transition", detail),
                }
            }
            SessionError::Validation(fields) => ApiError::Validation(fields),
            SessionError::Storage(e) => e.into(),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::EmailTaken => {
                ApiError::Conflict("email_taken", "An account with this email already exists.".into())
            }
            UserError::NotFound => ApiError::NotFound,
            UserError::TokenNotValid => ApiError::TokenNotValid,
            UserError::RoleChange(e) => ApiError::forbidden(e.to_string()),
            UserError::Storage(e) => e.into(),
        }
    }
}
