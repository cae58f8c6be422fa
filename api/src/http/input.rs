//! What requests bring: JSON bodies (strict: unknown fields, wrong types and out-of-range numbers
//! are field-level 422s, malformed JSON a 400), the write envelope (`Idempotency-Key`,
//! `If-Match`, correlation id) and ids from the path.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use shop_eventstore::Actor;
use uuid::Uuid;

use crate::auth::{Auth, AuthError, Caller, Role};
use crate::problem::{FieldError, Problem};
use crate::request_id::Correlation;

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let essence = v.split(';').next().unwrap_or("").trim();
                essence.eq_ignore_ascii_case("application/json")
            });
        if !json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "JSON expected",
                "send the body as Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "unreadable_body",
                    "Unreadable body",
                    "the request body could not be read",
                )
            }
        })?;
        parse(&bytes).map(Body)
    }
}

/// 413.
pub fn too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "Body too large",
        "the request body is larger than this server accepts",
    )
}

/// Parses `bytes` as `T`: syntax errors are 400 `malformed_json`; a body that is JSON but not a
/// `T` is 422 with the offending field's pointer.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let pointer = pointer(error.path());
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => Problem::validation(vec![FieldError {
                pointer,
                detail: strip_position(&inner.to_string()),
            }]),
            _ => malformed(&inner),
        }
    })?;
    deserializer.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

fn malformed(error: &serde_json::Error) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "malformed_json",
        "Malformed JSON",
        strip_position(&error.to_string()),
    )
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// A serde path as a JSON pointer (`/lines/0/quantity`).
fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => {
                out.push('/');
                out.push_str(&index.to_string());
            }
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push('/');
                out.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// A caller who may be anonymous (guests): a request without `Authorization` is `None`; a bad
/// token is still a 401.
#[derive(Clone, Debug)]
pub struct MaybeCaller(pub Option<Caller>);

impl<S> FromRequestParts<S> for MaybeCaller
where
    Auth: axum::extract::FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match <Auth as axum::extract::FromRef<S>>::from_ref(state).caller(parts) {
            Ok(caller) => Ok(Self(Some(caller))),
            Err(AuthError::Missing) if !parts.headers.contains_key(header::AUTHORIZATION) => {
                Ok(Self(None))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// 403: authenticated, but the role may not do this.
pub fn forbidden(role: Role) -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "Forbidden",
        format!("the {role} role may not do this"),
    )
}

/// Only these roles pass.
pub fn require(caller: &Caller, roles: &[Role]) -> Result<(), Problem> {
    if roles.contains(&caller.role) {
        Ok(())
    } else {
        Err(forbidden(caller.role))
    }
}

/// 404 for a resource the caller may not see or that does not exist (the same answer, so ids
/// cannot be probed).
pub fn not_found(what: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "Not found",
        format!("no such {what}"),
    )
}

/// 400 for an id that is not valid.
pub fn invalid_id(what: &str, error: impl std::fmt::Display) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid_id",
        "Invalid id",
        format!("{what}: {error}"),
    )
}

/// Namespace of command ids derived from idempotency keys.
const KEY_NAMESPACE: Uuid = Uuid::from_u128(0x7a11_d3c0_1d5e_4b6a_9c2f_80e1_b2c3_d4e5);

/// The envelope of a write: its command id (derived from the `Idempotency-Key` when there is
/// one, so even a retry that outlives the key's record is recognised by the command handler),
/// the `If-Match` revision and the correlation id.
#[derive(Clone, Debug)]
pub struct Write {
    /// The command id.
    pub command_id: Uuid,
    /// `If-Match`.
    pub if_match: Option<u64>,
    /// The request's correlation id (goes into the events' metadata).
    pub correlation_id: Uuid,
}

impl Write {
    /// A command from `actor` with this envelope.
    pub fn command<C>(&self, body: C, actor: Actor) -> shop_commands::Command<C> {
        let command = shop_commands::Command::new(self.command_id, body, actor)
            .correlated(self.correlation_id);
        match self.if_match {
            Some(revision) => command.if_match(revision),
            None => command,
        }
    }

    /// The id of a later step of this write (stable across retries).
    pub fn step(&self, name: &str) -> Uuid {
        Uuid::new_v5(&self.command_id, name.as_bytes())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Write {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let if_match = match parts.headers.get(header::IF_MATCH) {
            None => None,
            Some(value) => Some(parse_etag(value.to_str().unwrap_or("")).ok_or_else(|| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_if_match",
                    "Invalid If-Match",
                    "If-Match takes one ETag as answered by this API, e.g. \"3\"",
                )
            })?),
        };
        let correlation_id = parts
            .extensions
            .get::<Correlation>()
            .map_or_else(Uuid::new_v4, |c| c.0);
        // Only POST keys are fingerprinted (the idempotency layer), so only they name commands.
        let keyed = parts.method == axum::http::Method::POST;
        let command_id = match parts.headers.get("idempotency-key").filter(|_| keyed) {
            Some(key) => {
                let scope = parts.extensions.get::<Scope>().map_or("", |s| s.0.as_str());
                let name = format!(
                    "{scope}|{}|{} {}",
                    key.to_str().unwrap_or(""),
                    parts.method,
                    parts.uri.path()
                );
                Uuid::new_v5(&KEY_NAMESPACE, name.as_bytes())
            }
            None => Uuid::new_v4(),
        };
        Ok(Self {
            command_id,
            if_match,
            correlation_id,
        })
    }
}

/// The scope a caller's idempotency keys live in (set by the idempotency layer).
#[derive(Clone, Debug)]
pub struct Scope(pub String);

/// An ETag as this API writes it (`"3"`, or weak `W/"3"`) to the revision.
pub fn parse_etag(value: &str) -> Option<u64> {
    let value = value.trim();
    let value = value.strip_prefix("W/").unwrap_or(value);
    value.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

/// The actor events record for a caller.
pub fn actor(caller: &Caller) -> Actor {
    Actor::new(caller.role.to_string(), caller.subject.clone())
}

/// The actor for a guest.
pub fn guest() -> Actor {
    Actor::new("guest", "anonymous")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Line {
        quantity: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Lines {
        lines: Vec<Line>,
    }

    #[test]
    fn wrong_types_and_ranges_name_the_field() {
        let problem = parse::<Lines>(br#"{"lines":[{"quantity":1},{"quantity":-2}]}"#).unwrap_err();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors[0].pointer, "/lines/1/quantity");
        let problem = parse::<Lines>(br#"{"lines":[{"quantity":99999999999}]}"#).unwrap_err();
        assert_eq!(problem.errors[0].pointer, "/lines/0/quantity");
        let problem = parse::<Lines>(br#"{"lines":[],"extra":1}"#).unwrap_err();
        assert_eq!(problem.status, 422);
        assert!(problem.errors[0].detail.contains("unknown field"));
    }

    #[test]
    fn malformed_json_is_400() {
        let problem = parse::<Lines>(br#"{"lines":["#).unwrap_err();
        assert_eq!((problem.status, problem.code), (400, "malformed_json"));
        let problem = parse::<Lines>(br#"{"lines":[]} trailing"#).unwrap_err();
        assert_eq!(problem.status, 400);
    }

    #[test]
    fn etags_parse() {
        assert_eq!(parse_etag("\"3\""), Some(3));
        assert_eq!(parse_etag("W/\"12\""), Some(12));
        assert_eq!(parse_etag("3"), None);
        assert_eq!(parse_etag("\"x\""), None);
    }
}

/// Collects field errors while a body is turned into domain values, so one answer names every
/// invalid field.
#[derive(Debug, Default)]
pub struct Check {
    errors: Vec<FieldError>,
}

impl Check {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value, or notes `pointer`'s error.
    pub fn field<T, E: std::fmt::Display>(
        &mut self,
        pointer: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.fail(pointer, e.to_string());
                None
            }
        }
    }

    /// Notes an error at `pointer`.
    pub fn fail(&mut self, pointer: &str, detail: impl Into<String>) {
        self.errors.push(FieldError {
            pointer: pointer.to_owned(),
            detail: detail.into(),
        });
    }

    /// Notes an error unless `ok`.
    pub fn ensure(&mut self, ok: bool, pointer: &str, detail: impl Into<String>) {
        if !ok {
            self.fail(pointer, detail);
        }
    }

    /// 422 naming every invalid field, if there is one.
    pub fn done(self) -> Result<(), Problem> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Problem::validation(self.errors))
        }
    }
}

/// Milliseconds since the epoch as RFC 3339.
pub fn time(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An admin: other callers are refused (401/403) before the body is read, so the refusal
/// does not depend on, or reveal anything about, the body's validation.
#[derive(Clone, Debug)]
pub struct Admin(pub Caller);

impl<S> FromRequestParts<S> for Admin
where
    Auth: axum::extract::FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let caller = Caller::from_request_parts(parts, state).await?;
        require(&caller, &[Role::Admin])?;
        Ok(Self(caller))
    }
}

/// A customer (see [`Admin`]).
#[derive(Clone, Debug)]
pub struct Customer(pub Caller);

impl<S> FromRequestParts<S> for Customer
where
    Auth: axum::extract::FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let caller = Caller::from_request_parts(parts, state).await?;
        require(&caller, &[Role::Customer])?;
        Ok(Self(caller))
    }
}
