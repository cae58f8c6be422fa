//! Domain events to and from the store's envelope. Aggregates serialise their events as
//! `{"type": "<versioned name>", "data": {...}}` (serde's adjacent tagging); this splits that pair
//! into the envelope's type and payload and joins it again on the way back.

use serde::{Serialize, de::DeserializeOwned};
use shop_eventstore::Json;

/// Why an event could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The event did not serialise as `{"type", "data"}`.
    #[error("event does not serialise as {{\"type\", \"data\"}}: {0}")]
    Shape(String),
    /// serde failed.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Splits a domain event into its versioned type name and its payload.
pub fn encode<E: Serialize>(event: &E) -> Result<(String, Json), CodecError> {
    let value = serde_json::to_value(event)?;
    let serde_json::Value::Object(mut object) = value else {
        return Err(CodecError::Shape("not an object".into()));
    };
    let Some(serde_json::Value::String(event_type)) = object.remove("type") else {
        return Err(CodecError::Shape("no string \"type\"".into()));
    };
    let data = object
        .remove("data")
        .unwrap_or_else(|| serde_json::Value::Object(Default::default()));
    Ok((event_type, Json::encode(&data)?))
}

/// Joins a stored type name and payload back into a domain event, in one parse.
pub fn decode<E: DeserializeOwned>(event_type: &str, data: &Json) -> Result<E, CodecError> {
    let mut buf = Vec::with_capacity(data.len() + event_type.len() + 24);
    buf.extend_from_slice(b"{\"type\":");
    serde_json::to_writer(&mut buf, event_type)?;
    buf.extend_from_slice(b",\"data\":");
    buf.extend_from_slice(data.as_bytes());
    buf.push(b'}');
    Ok(serde_json::from_slice(&buf)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", content = "data")]
    enum Ev {
        #[serde(rename = "t.Added.v1")]
        Added { n: u32 },
    }

    #[test]
    fn round_trips_through_type_and_data() {
        let (t, data) = encode(&Ev::Added { n: 3 }).unwrap();
        assert_eq!(t, "t.Added.v1");
        assert_eq!(data.as_bytes().as_ref(), br#"{"n":3}"#);
        assert_eq!(decode::<Ev>(&t, &data).unwrap(), Ev::Added { n: 3 });
        assert!(decode::<Ev>("t.Removed.v1", &data).is_err());
    }
}
