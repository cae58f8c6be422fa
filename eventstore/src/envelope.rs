//! The envelope: what is appended ([`EventData`]) and what is read back ([`RecordedEvent`]).

use std::fmt;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::{Position, StreamName, ValidationError};

/// A JSON document kept as its bytes: events are read far more often than they are decoded, so the
/// store moves bytes and the consumer parses once, into its own type.
#[derive(Clone, PartialEq, Eq)]
pub struct Json(Bytes);

impl Json {
    /// Serialises `value`.
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_vec(value).map(|v| Self(v.into()))
    }

    /// Checks that `bytes` hold one JSON value.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Result<Self, ValidationError> {
        let bytes = bytes.into();
        serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
            .map_err(|e| ValidationError::InvalidJson(e.to_string()))?;
        Ok(Self(bytes))
    }

    /// For adapters reading back what they stored (already validated on the way in).
    pub(crate) fn trusted(bytes: impl Into<Bytes>) -> Self {
        Self(bytes.into())
    }

    /// Parses into `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.0)
    }

    /// Parses into a generic JSON value.
    pub fn to_value(&self) -> serde_json::Value {
        // Only validated JSON is ever held, so this cannot fail.
        serde_json::from_slice(&self.0).unwrap_or(serde_json::Value::Null)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for an empty document (never produced by [`Json::encode`]).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<serde_json::Value> for Json {
    fn from(value: serde_json::Value) -> Self {
        Self(serde_json::to_vec(&value).unwrap_or_default().into())
    }
}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = String::from_utf8_lossy(&self.0);
        if text.len() > 256 {
            write!(
                f,
                "Json({}… {} bytes)",
                &text[..text.floor_char_boundary(256)],
                text.len()
            )
        } else {
            write!(f, "Json({text})")
        }
    }
}

/// Who caused an event: `{ "kind": "customer", "id": "c-42" }`. Kinds used by shop: `customer`,
/// `guest`, `admin`, `auditor`, `analyst`, `operator`, `system`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The kind of actor.
    pub kind: String,
    /// Its id within that kind.
    pub id: String,
}

impl Actor {
    /// An actor of `kind` with `id`.
    pub fn new(kind: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            id: id.into(),
        }
    }

    /// The system itself (process managers, schedulers).
    pub fn system(id: impl Into<String>) -> Self {
        Self::new("system", id)
    }
}

/// Event metadata. Serialised with EventStoreDB's names for correlation and causation, so its own
/// `$bc-` projections work on events shop writes there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// The id shared by everything one request or saga set in motion.
    #[serde(rename = "$correlationId")]
    pub correlation_id: Uuid,
    /// The id of the command or event that directly caused this one.
    #[serde(rename = "$causationId")]
    pub causation_id: Uuid,
    /// Who caused it.
    pub actor: Actor,
    /// When it happened, by the clock of the command that decided it (not the store's).
    pub occurred_at: DateTime<Utc>,
    /// Version of this envelope's layout (the event's own schema is versioned in its type name).
    pub schema_version: u32,
    /// Anything else (command id, audit hash, …), kept as given.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Metadata {
    /// The current envelope layout.
    pub const SCHEMA_VERSION: u32 = 1;

    /// Metadata with no extra keys.
    pub fn new(
        correlation_id: Uuid,
        causation_id: Uuid,
        actor: Actor,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        Self {
            correlation_id,
            causation_id,
            actor,
            occurred_at,
            schema_version: Self::SCHEMA_VERSION,
            extra: serde_json::Map::new(),
        }
    }

    /// Adds an extra key.
    pub fn with(mut self, key: impl Into<String>, value: serde_json::Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }
}

/// An event to append.
#[derive(Clone, Debug, PartialEq)]
pub struct EventData {
    /// Unique id. Derive it from the command id (UUID v5) so a retried command writes the same ids
    /// and the store recognises the retry.
    pub event_id: Uuid,
    /// Versioned type name, `<area>.<Name>.v<N>` (e.g. `cart.ItemAdded.v1`).
    pub event_type: String,
    /// The payload.
    pub data: Json,
    /// The envelope's metadata.
    pub metadata: Metadata,
}

impl EventData {
    /// An event with a JSON payload serialised from `data`.
    pub fn new<T: Serialize + ?Sized>(
        event_id: Uuid,
        event_type: impl Into<String>,
        data: &T,
        metadata: Metadata,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self {
            event_id,
            event_type: event_type.into(),
            data: Json::encode(data)?,
            metadata,
        })
    }

    /// Bytes this event takes against [`crate::Limits::max_event_bytes`]: payload plus metadata.
    pub fn size(&self) -> usize {
        self.data.len() + serde_json::to_vec(&self.metadata).map_or(usize::MAX, |m| m.len())
    }
}

/// An event as read back: the envelope plus where and when the store put it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedEvent {
    /// The stream it belongs to.
    pub stream: StreamName,
    /// Its revision in that stream (0 for the first).
    pub revision: u64,
    /// Its position in `$all`.
    pub position: Position,
    /// When the store committed it.
    pub recorded_at: DateTime<Utc>,
    /// Its id.
    pub event_id: Uuid,
    /// Its versioned type name (after upcasting, when read through [`crate::Upcasting`]).
    pub event_type: String,
    /// Its payload.
    pub data: Json,
    /// Its metadata.
    pub metadata: Metadata,
}

/// Splits `cart.ItemAdded.v3` into (`cart.ItemAdded`, 3); `None` when the name has no version.
pub fn parse_event_type(event_type: &str) -> Option<(&str, u32)> {
    let (base, version) = event_type.rsplit_once(".v")?;
    if base.is_empty() || version.is_empty() || version.starts_with('0') {
        return None;
    }
    version
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| version.parse().ok())
        .flatten()
        .map(|v| (base, v))
}

/// Checks an event type name: versioned, 1..=128 bytes, no `$` prefix, no whitespace.
pub fn validate_event_type(event_type: &str) -> Result<(), ValidationError> {
    let reason = if event_type.is_empty() || event_type.len() > 128 {
        Some("it must be 1 to 128 bytes")
    } else if event_type.starts_with('$') {
        Some("types starting with '$' are reserved for the store")
    } else if event_type
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        Some("it contains whitespace or control characters")
    } else if parse_event_type(event_type).is_none() {
        Some("it must end in a version, like cart.ItemAdded.v1")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ValidationError::InvalidEventType {
            event_type: event_type.chars().take(64).collect(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_carry_a_version() {
        assert_eq!(
            parse_event_type("cart.ItemAdded.v12"),
            Some(("cart.ItemAdded", 12))
        );
        for bad in [
            "cart.ItemAdded",
            "cart.ItemAdded.v",
            "cart.ItemAdded.v0",
            ".v1",
            "x.vx",
        ] {
            assert!(validate_event_type(bad).is_err(), "{bad}");
        }
        assert!(validate_event_type("$metadata").is_err());
        assert!(validate_event_type("cart.ItemAdded.v1").is_ok());
    }

    #[test]
    fn metadata_uses_eventstoredb_names() {
        let m = Metadata::new(
            Uuid::nil(),
            Uuid::nil(),
            Actor::system("test"),
            DateTime::from_timestamp(0, 0).unwrap(),
        )
        .with("command_id", serde_json::json!("c1"));
        let v = serde_json::to_value(&m).unwrap();
        assert!(v.get("$correlationId").is_some() && v.get("$causationId").is_some());
        assert_eq!(v["command_id"], "c1");
        assert_eq!(serde_json::from_value::<Metadata>(v).unwrap(), m);
    }

    #[test]
    fn json_rejects_non_json() {
        assert!(Json::from_bytes(&b"{\"a\":1}"[..]).is_ok());
        assert!(Json::from_bytes(&b"{nope"[..]).is_err());
    }
}
