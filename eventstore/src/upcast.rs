//! Upcasting: old event versions are read as current ones.
//!
//! A published event is never edited. When its schema changes, the new shape gets a new versioned
//! name (`cart.ItemAdded.v2`) and an upcaster from the old one. [`Upcasting`] wraps any adapter and
//! applies the registry to everything read, so consumers only ever see current versions.

use std::{collections::HashMap, fmt, sync::Arc};

use async_trait::async_trait;
use futures::StreamExt;

use crate::{
    AllFilter, AllPage, AppendResult, DeleteResult, EventData, EventStore, EventStream,
    ExpectedRevision, Json, Position, ReadAll, ReadStream, RecordedEvent, Result, StreamMetadata,
    StreamName, SubscribeAll, ValidationError, envelope::parse_event_type,
};

type UpcastFn = dyn Fn(serde_json::Value) -> Result<serde_json::Value, String> + Send + Sync;

/// An event could not be brought to its current version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpcastError {
    /// The registry knows a newer version of this type but no way to reach it.
    #[error("no upcaster for {event_type} (current version is v{current})")]
    UnknownUpcaster {
        /// The stored type.
        event_type: String,
        /// The version the registry expects.
        current: u32,
    },
    /// An upcaster refused the payload.
    #[error("upcasting {event_type} to {to} failed: {reason}")]
    Failed {
        /// The stored type.
        event_type: String,
        /// The type it was being upcast to.
        to: String,
        /// The upcaster's message.
        reason: String,
    },
}

/// Upcasters by the type they read: `cart.ItemAdded.v1 -> cart.ItemAdded.v2 -> …`.
#[derive(Clone, Default)]
pub struct Upcasters {
    steps: HashMap<String, (String, Arc<UpcastFn>)>,
    current: HashMap<String, u32>,
}

impl fmt::Debug for Upcasters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upcasters")
            .field("steps", &self.steps.keys().collect::<Vec<_>>())
            .field("current", &self.current)
            .finish()
    }
}

impl Upcasters {
    /// An empty registry: everything reads as stored.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a step from one version of a type to the next. Both names must be versioned, of
    /// the same base name, and `to` must be exactly one version after `from`.
    pub fn register(
        mut self,
        from: &str,
        to: &str,
        upcast: impl Fn(serde_json::Value) -> Result<serde_json::Value, String> + Send + Sync + 'static,
    ) -> Result<Self, ValidationError> {
        let invalid = |reason| ValidationError::InvalidEventType {
            event_type: format!("{from} -> {to}"),
            reason,
        };
        let (from_base, from_v) = parse_event_type(from).ok_or(invalid("not versioned"))?;
        let (to_base, to_v) = parse_event_type(to).ok_or(invalid("not versioned"))?;
        if from_base != to_base || to_v != from_v + 1 {
            return Err(invalid("an upcaster goes from vN to vN+1 of the same type"));
        }
        if self.steps.contains_key(from) {
            return Err(invalid(
                "an upcaster from this version is already registered",
            ));
        }
        let current = self.current.entry(to_base.to_owned()).or_insert(to_v);
        *current = (*current).max(to_v);
        self.steps
            .insert(from.to_owned(), (to.to_owned(), Arc::new(upcast)));
        Ok(self)
    }

    /// The name `event_type` is read as: itself, or the end of its upcaster chain.
    pub fn current_type(&self, event_type: &str) -> String {
        let mut current = event_type;
        while let Some((to, _)) = self.steps.get(current) {
            current = to;
        }
        current.to_owned()
    }

    /// A filter on stored names that selects every event the given filter selects after
    /// upcasting: each type asked for becomes its current version plus every older version that
    /// upcasts to it.
    pub fn widen(&self, filter: &AllFilter) -> AllFilter {
        if filter.event_types.is_empty() || self.steps.is_empty() {
            return filter.clone();
        }
        let wanted: Vec<String> = filter
            .event_types
            .iter()
            .map(|t| self.current_type(t))
            .collect();
        let mut stored: Vec<String> = self
            .steps
            .keys()
            .filter(|from| wanted.contains(&self.current_type(from)))
            .cloned()
            .collect();
        stored.extend(wanted);
        stored.sort();
        stored.dedup();
        AllFilter {
            stream_prefixes: filter.stream_prefixes.clone(),
            event_types: stored,
        }
    }

    /// Brings `event` to the current version of its type.
    pub fn upcast(&self, mut event: RecordedEvent) -> Result<RecordedEvent, UpcastError> {
        if self.steps.is_empty() {
            return Ok(event);
        }
        let stored_type = event.event_type.clone();
        let mut value = None;
        while let Some((to, step)) = self.steps.get(&event.event_type) {
            let input = value.take().unwrap_or_else(|| event.data.to_value());
            let output = step(input).map_err(|reason| UpcastError::Failed {
                event_type: stored_type.clone(),
                to: to.clone(),
                reason,
            })?;
            value = Some(output);
            event.event_type.clone_from(to);
        }
        if let Some((base, version)) = parse_event_type(&event.event_type)
            && let Some(&current) = self.current.get(base)
            && version != current
        {
            return Err(UpcastError::UnknownUpcaster {
                event_type: stored_type,
                current,
            });
        }
        if let Some(value) = value {
            event.data = Json::from(value);
        }
        Ok(event)
    }
}

/// Any adapter, read through an [`Upcasters`] registry.
#[derive(Debug)]
pub struct Upcasting<S> {
    inner: S,
    upcasters: Arc<Upcasters>,
}

impl<S: EventStore> Upcasting<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, upcasters: Upcasters) -> Self {
        Self {
            inner,
            upcasters: Arc::new(upcasters),
        }
    }

    fn upcast_all(&self, events: Vec<RecordedEvent>) -> Result<Vec<RecordedEvent>> {
        events
            .into_iter()
            .map(|e| self.upcasters.upcast(e).map_err(Into::into))
            .collect()
    }
}

#[async_trait]
impl<S: EventStore> EventStore for Upcasting<S> {
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        self.inner.append(stream, expected, events).await
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        options: ReadStream,
    ) -> Result<Vec<RecordedEvent>> {
        self.upcast_all(self.inner.read_stream(stream, options).await?)
    }

    async fn read_all(&self, mut options: ReadAll) -> Result<Vec<RecordedEvent>> {
        options.filter = self.upcasters.widen(&options.filter);
        self.upcast_all(self.inner.read_all(options).await?)
    }

    async fn read_all_page(&self, mut options: ReadAll) -> Result<AllPage> {
        options.filter = self.upcasters.widen(&options.filter);
        let page = self.inner.read_all_page(options).await?;
        Ok(AllPage {
            events: self.upcast_all(page.events)?,
            scanned_to: page.scanned_to,
        })
    }

    fn subscribe_all(&self, mut options: SubscribeAll) -> EventStream {
        options.filter = self.upcasters.widen(&options.filter);
        let upcasters = self.upcasters.clone();
        self.inner
            .subscribe_all(options)
            .map(move |item| item.and_then(|e| upcasters.upcast(e).map_err(Into::into)))
            .boxed()
    }

    async fn delete_stream(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
    ) -> Result<DeleteResult> {
        self.inner.delete_stream(stream, expected).await
    }

    async fn stream_metadata(&self, stream: &StreamName) -> Result<StreamMetadata> {
        self.inner.stream_metadata(stream).await
    }

    async fn set_stream_metadata(
        &self,
        stream: &StreamName,
        metadata: StreamMetadata,
    ) -> Result<()> {
        self.inner.set_stream_metadata(stream, metadata).await
    }

    async fn head_position(&self) -> Result<Option<Position>> {
        self.inner.head_position().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Upcasters {
        Upcasters::new()
            .register("a.X.v1", "a.X.v2", Ok)
            .unwrap()
            .register("a.X.v2", "a.X.v3", Ok)
            .unwrap()
    }

    #[test]
    fn a_type_filter_selects_every_version_that_upcasts_to_it() {
        let asked = AllFilter::all().with_event_types(["a.X.v3", "b.Y.v1"]);
        let widened = registry().widen(&asked);
        assert_eq!(
            widened.event_types,
            ["a.X.v1", "a.X.v2", "a.X.v3", "b.Y.v1"]
        );
        let old_name = AllFilter::all().with_event_types(["a.X.v1"]);
        assert_eq!(
            registry().widen(&old_name).event_types,
            ["a.X.v1", "a.X.v2", "a.X.v3"]
        );
    }

    #[test]
    fn registration_refuses_gaps_and_unversioned_names() {
        assert!(Upcasters::new().register("a.X.v1", "a.X.v3", Ok).is_err());
        assert!(Upcasters::new().register("a.X", "a.X.v2", Ok).is_err());
        assert!(Upcasters::new().register("a.X.v1", "b.X.v2", Ok).is_err());
        assert!(registry().register("a.X.v1", "a.X.v2", Ok).is_err());
    }
}
