//! RFC 9457 problem details: every error the HTTP side answers is `application/problem+json`
//! with a stable machine-readable `code`, a human `title` and `detail`, and, for invalid input,
//! one entry per offending field. Internal details (store errors, stack traces) never leak: they
//! are logged and answered as a plain `internal` problem.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One invalid field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field, as a JSON pointer into the request body (`/lines/0/quantity`).
    pub pointer: String,
    /// What is wrong with it.
    pub detail: String,
}

/// A problem to answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `about:blank`: the `code` says which problem it is.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// Short, the same for every occurrence of the code.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// Stable, machine-readable (`unauthorized`, `token_expired`, `validation_failed`, …).
    #[schema(value_type = String)]
    pub code: &'static str,
    /// What happened this time.
    pub detail: String,
    /// The invalid fields, for `validation_failed`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Seconds to wait before trying again (`Retry-After`), for 429 and 503.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with `status`, `code`, `title` and `detail`.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: "about:blank",
            title: title.into(),
            status: status.as_u16(),
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// The same problem, telling the client to wait `seconds` before trying again.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// 422 with the offending fields.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut problem = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Invalid request",
            "one or more fields are invalid",
        );
        problem.errors = errors;
        problem
    }

    /// 500 without details: `error` is logged, not answered.
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %error, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the request could not be completed; it was logged",
        )
    }

    /// The status as a `StatusCode`.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_string(&self).unwrap_or_else(|_| "{}".into());
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
impl<R: std::fmt::Display> From<shop_commands::CommandError<R>> for Problem {
    /// How a command's failure is answered: a refusal by the aggregate's rules is 422 with the
    /// rule's own message (written for the caller); an `If-Match` that does not hold is 412; a
    /// stream that kept changing is 409; load shedding, a transient store failure and shutdown
    /// are 503 with `Retry-After`; anything else is logged and answered as `internal`.
    fn from(error: shop_commands::CommandError<R>) -> Self {
        use shop_commands::CommandError as E;
        match error {
            E::Rejected(rejection) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "rejected",
                "Refused by the rules",
                rejection.to_string(),
            ),
            E::RevisionMismatch {
                expected, actual, ..
            } => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "Changed meanwhile",
                format!(
                    "If-Match was revision {expected}; it is now {}",
                    actual.map_or("none".to_owned(), |a| a.to_string())
                ),
            ),
            E::Conflict { .. } => Problem::new(
                StatusCode::CONFLICT,
                "conflict",
                "Busy",
                "the resource kept changing while the request was decided; try again",
            )
            .retry_after(1),
            E::Overloaded { .. } => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Overloaded",
                "too many requests are waiting for this resource; try again shortly",
            )
            .retry_after(1),
            E::ShuttingDown => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "Shutting down",
                "the server is stopping; try again",
            )
            .retry_after(5),
            E::InvalidStream(e) => Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_id",
                "Invalid id",
                e.to_string(),
            ),
            E::Store(e) if e.is_transient() => {
                tracing::warn!(error = %e, "a transient store failure");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Temporarily unavailable",
                    "the request could not be completed now; try again",
                )
                .retry_after(1)
            }
            other => Problem::internal(&other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_serialise_as_rfc_9457_with_a_code() {
        let mut problem = Problem::validation(vec![FieldError {
            pointer: "/lines/0/quantity".into(),
            detail: "must be 1 to 1,000".into(),
        }]);
        problem.detail = "one field is invalid".into();
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(json["type"], "about:blank");
        assert_eq!(json["status"], 422);
        assert_eq!(json["code"], "validation_failed");
        assert_eq!(json["errors"][0]["pointer"], "/lines/0/quantity");
        let plain = serde_json::to_value(Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Not found",
            "no such order",
        ))
        .unwrap();
        assert!(plain.get("errors").is_none());
        let response = problem.into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }

    #[test]
    fn command_failures_map_to_statuses_and_codes() {
        use shop_commands::CommandError as E;
        use shop_eventstore::StreamName;
        let stream = StreamName::new("order-o1").unwrap();
        let cases: Vec<(E<String>, u16, &str, Option<u64>)> = vec![
            (
                E::Rejected("the order has shipped".into()),
                422,
                "rejected",
                None,
            ),
            (
                E::RevisionMismatch {
                    stream: stream.clone(),
                    expected: 3,
                    actual: Some(4),
                },
                412,
                "precondition_failed",
                None,
            ),
            (
                E::Conflict {
                    stream: stream.clone(),
                    attempts: 5,
                },
                409,
                "conflict",
                Some(1),
            ),
            (E::Overloaded { stream }, 503, "overloaded", Some(1)),
            (E::ShuttingDown, 503, "shutting_down", Some(5)),
        ];
        for (error, status, code, retry) in cases {
            let problem = Problem::from(error);
            assert_eq!(
                (problem.status, problem.code, problem.retry_after),
                (status, code, retry)
            );
        }
        let rejected = Problem::from(E::Rejected("the order has shipped".to_owned()));
        assert_eq!(rejected.detail, "the order has shipped");
        let response = Problem::from(E::<String>::ShuttingDown).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    }

    #[test]
    fn internal_problems_say_nothing_of_the_cause() {
        let problem = Problem::internal(&"connection to 10.0.0.5:5432 refused");
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("10.0.0.5"));
    }
}
