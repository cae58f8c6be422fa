//! Filters for reading and subscribing to `$all`.

use crate::RecordedEvent;

/// Which events of `$all` to return. Both parts are optional; when both are given an event must
/// match both. Events of system streams (`$…`) are never returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllFilter {
    /// Stream name prefixes, any of which may match (`"order-"` selects the order category).
    pub stream_prefixes: Vec<String>,
    /// Exact event type names, any of which may match (`"cart.ItemAdded.v1"`).
    pub event_types: Vec<String>,
}

impl AllFilter {
    /// Everything.
    pub fn all() -> Self {
        Self::default()
    }

    /// Events of streams whose names start with one of `prefixes`.
    pub fn stream_prefixes<I: IntoIterator<Item = S>, S: Into<String>>(prefixes: I) -> Self {
        Self {
            stream_prefixes: prefixes.into_iter().map(Into::into).collect(),
            event_types: Vec::new(),
        }
    }

    /// Events of one category: streams named `<category>-…`.
    pub fn category(category: &str) -> Self {
        Self::stream_prefixes([format!("{category}-")])
    }

    /// Narrows the filter to these exact event types.
    pub fn with_event_types<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        types: I,
    ) -> Self {
        self.event_types = types.into_iter().map(Into::into).collect();
        self
    }

    /// Does `event` pass? Adapters that cannot filter on the server use this.
    pub fn matches(&self, stream: &str, event_type: &str) -> bool {
        !stream.starts_with('$')
            && !event_type.starts_with('$')
            && (self.stream_prefixes.is_empty()
                || self
                    .stream_prefixes
                    .iter()
                    .any(|p| stream.starts_with(p.as_str())))
            && (self.event_types.is_empty() || self.event_types.iter().any(|t| t == event_type))
    }

    /// [`Self::matches`] on a recorded event.
    pub fn matches_event(&self, event: &RecordedEvent) -> bool {
        self.matches(event.stream.as_str(), &event.event_type)
    }

    /// True when the filter lets everything through.
    pub fn is_empty(&self) -> bool {
        self.stream_prefixes.is_empty() && self.event_types.is_empty()
    }
}
