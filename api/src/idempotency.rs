//! `Idempotency-Key` records, kept in the event store (so every server process sees the same
//! ones, on every adapter): one stream per caller and key, `idempotency-<hash>`, whose `$maxAge`
//! metadata lets the record lapse after 24 hours.
//!
//! A request first claims its key ([`IdempotencyStore::begin`]), stating the stream's expected
//! revision, so of two concurrent requests with one key exactly one runs; the other is told the
//! first is in progress. The winner stores its response ([`IdempotencyStore::complete`]), which
//! later repeats get back as it was; or it releases the claim
//! ([`IdempotencyStore::release`], for failures worth retrying) so a repeat runs again. The same
//! key with another request (another fingerprint) is a mismatch (422 on HTTP).
//!
//! A claim is a lease: a request that died with its process (or whose response could not be
//! stored) leaves its claim pending, and after [`CLAIM_LEASE`] a repeat takes the key over
//! (releasing the stale claim, then claiming it), so a client's retry is not refused as "in
//! progress" for a day. Running the request again is safe: its command ids are derived from the
//! key, so the command handlers answer what was done already.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use shop_eventstore::{
    Actor, EventData, EventStore, ExpectedRevision, Metadata, ReadStream, RecordedEvent,
    StreamMetadata, StreamName,
};
use uuid::Uuid;

/// How long a key is remembered.
pub const KEY_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a pending claim holds a key before a repeat may take it over.
pub const CLAIM_LEASE: Duration = Duration::from_secs(60);
/// The longest key, in characters.
pub const MAX_KEY_CHARS: usize = 255;
const NAMESPACE: Uuid = Uuid::from_u128(0x1de0_7e47_c0de_4b1a_9a2b_3c4d_5e6f_7081);
const CLAIMED: &str = "idempotency.KeyClaimed.v1";
const STORED: &str = "idempotency.ResponseStored.v1";
const RELEASED: &str = "idempotency.ClaimReleased.v1";

/// A response as it was answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// The HTTP status.
    pub status: u16,
    /// Headers to answer again (`Location`, `ETag`, …).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

/// A claimed key: run the request, then [`IdempotencyStore::complete`] or
/// [`IdempotencyStore::release`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    stream: StreamName,
    id: Uuid,
    revision: u64,
}

/// What to do with a request carrying a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Begin {
    /// First time: run it.
    Run(Claim),
    /// Done before with the same request: answer this again.
    Replay(StoredResponse),
    /// The same key came with another request.
    Mismatch,
    /// The same request is running now.
    InProgress,
}

/// Why a key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// Empty, too long, or not visible ASCII.
    #[error("an Idempotency-Key is 1 to 255 visible ASCII characters")]
    InvalidKey,
    /// The event store failed.
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

#[derive(Debug, Serialize, Deserialize)]
struct Claimed {
    claim: Uuid,
    fingerprint: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    claim: Uuid,
    response: StoredResponse,
}

#[derive(Debug, Serialize, Deserialize)]
struct Released {
    claim: Uuid,
}

/// The fingerprint of a request: its method, path and body (a name-based UUID, SHA-1).
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(method.len() + path.len() + body.len() + 2);
    bytes.extend_from_slice(method.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(path.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(body);
    Uuid::new_v5(&NAMESPACE, &bytes).simple().to_string()
}

/// Where a key stands, from its visible events.
enum Standing {
    Free,
    Pending {
        claim: Uuid,
        fingerprint: String,
        claimed_at: chrono::DateTime<Utc>,
    },
    Done {
        fingerprint: String,
        response: StoredResponse,
    },
}

fn standing(events: &[RecordedEvent]) -> anyhow::Result<Standing> {
    // The first claim that was neither released nor superseded rules; later claims lost a race.
    let mut standing = Standing::Free;
    for event in events {
        match event.event_type.as_str() {
            CLAIMED => {
                if matches!(standing, Standing::Free) {
                    let claimed: Claimed = event.data.decode()?;
                    standing = Standing::Pending {
                        claim: claimed.claim,
                        fingerprint: claimed.fingerprint,
                        claimed_at: event.recorded_at,
                    };
                }
            }
            STORED => {
                let stored: Stored = event.data.decode()?;
                if let Standing::Pending {
                    claim, fingerprint, ..
                } = &standing
                    && *claim == stored.claim
                {
                    standing = Standing::Done {
                        fingerprint: fingerprint.clone(),
                        response: stored.response,
                    };
                }
            }
            RELEASED => {
                let released: Released = event.data.decode()?;
                if matches!(&standing, Standing::Pending { claim, .. } if *claim == released.claim)
                {
                    standing = Standing::Free;
                }
            }
            _ => {}
        }
    }
    Ok(standing)
}

/// The records (see the module doc).
#[derive(Clone)]
pub struct IdempotencyStore {
    store: Arc<dyn EventStore>,
    ttl: Duration,
    lease: Duration,
}

impl std::fmt::Debug for IdempotencyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyStore")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl IdempotencyStore {
    /// Records in `store`, remembered for [`KEY_TTL`].
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            ttl: KEY_TTL,
            lease: CLAIM_LEASE,
        }
    }

    /// The same, letting a pending claim go after `lease` (tests).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The same, remembering keys for `ttl` (tests; at least a second, the event store's
    /// finest `$maxAge`).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_secs(1));
        self
    }

    fn stream(scope: &str, key: &str) -> Result<StreamName, IdempotencyError> {
        let valid = !key.is_empty()
            && key.chars().count() <= MAX_KEY_CHARS
            && key.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if !valid {
            return Err(IdempotencyError::InvalidKey);
        }
        let hash = Uuid::new_v5(&NAMESPACE, format!("{scope}\n{key}").as_bytes());
        StreamName::new(format!("idempotency-{}", hash.simple()))
            .map_err(|e| IdempotencyError::Store(e.into()))
    }

    async fn read(&self, stream: &StreamName) -> anyhow::Result<Option<Vec<RecordedEvent>>> {
        match self.store.read_stream(stream, ReadStream::forwards()).await {
            Ok(events) => Ok(Some(events)),
            Err(shop_eventstore::Error::StreamNotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn event<T: Serialize>(event_type: &str, data: &T) -> anyhow::Result<EventData> {
        let id = Uuid::new_v4();
        let metadata = Metadata::new(id, id, Actor::system("idempotency"), Utc::now());
        Ok(EventData::new(id, event_type, data, metadata)?)
    }

    /// Claims `key` for `scope` (the caller: keys of two callers never meet) for a request with
    /// `fingerprint`, or says why not.
    pub async fn begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
    ) -> Result<Begin, IdempotencyError> {
        let stream = Self::stream(scope, key)?;
        for _ in 0..5 {
            let events = self.read(&stream).await?;
            let visible = events.as_deref().unwrap_or_default();
            match standing(visible)? {
                Standing::Done {
                    fingerprint: f,
                    response,
                } => {
                    return Ok(if f == fingerprint {
                        Begin::Replay(response)
                    } else {
                        Begin::Mismatch
                    });
                }
                Standing::Pending {
                    fingerprint: f,
                    claim,
                    claimed_at,
                } => {
                    if f != fingerprint {
                        return Ok(Begin::Mismatch);
                    }
                    let age = (Utc::now() - claimed_at).to_std().unwrap_or_default();
                    if age < self.lease {
                        return Ok(Begin::InProgress);
                    }
                    // An abandoned claim: release it, then claim the key on the next pass.
                    let last = visible.last().map_or(0, |e| e.revision);
                    let stale = Claim {
                        stream: stream.clone(),
                        id: claim,
                        revision: last,
                    };
                    tracing::info!(%stream, "taking over an abandoned idempotency claim");
                    self.release(stale).await?;
                    continue;
                }
                Standing::Free => {}
            }
            // Lapsed records leave a stream with nothing visible: its revision is unknown, so the
            // claim is checked by reading back (the first claim in the log wins).
            let expected = match (&events, visible.last()) {
                (None, _) => ExpectedRevision::NoStream,
                (Some(_), Some(last)) => ExpectedRevision::Exact(last.revision),
                (Some(_), None) => ExpectedRevision::StreamExists,
            };
            let id = Uuid::new_v4();
            let claimed = Claimed {
                claim: id,
                fingerprint: fingerprint.to_owned(),
            };
            let event = Self::event(CLAIMED, &claimed).map_err(IdempotencyError::Store)?;
            match self.store.append(&stream, expected, vec![event]).await {
                Ok(result) => {
                    if expected == ExpectedRevision::NoStream {
                        let lapse = StreamMetadata {
                            max_age: Some(self.ttl),
                            ..StreamMetadata::default()
                        };
                        self.store
                            .set_stream_metadata(&stream, lapse)
                            .await
                            .map_err(anyhow::Error::from)?;
                    }
                    let claim = Claim {
                        stream: stream.clone(),
                        id,
                        revision: result.next_expected_revision,
                    };
                    if expected != ExpectedRevision::StreamExists {
                        return Ok(Begin::Run(claim));
                    }
                    let events = self.read(&stream).await?.unwrap_or_default();
                    match standing(&events)? {
                        Standing::Pending { claim: first, .. } if first == id => {
                            return Ok(Begin::Run(claim));
                        }
                        // Another request claimed it first: give this claim up and look again.
                        _ => self.release(claim).await?,
                    }
                }
                Err(shop_eventstore::Error::WrongExpectedVersion { .. }) => {}
                Err(e) => return Err(IdempotencyError::Store(e.into())),
            }
        }
        Ok(Begin::InProgress)
    }

    /// Stores the response of a claimed request, for repeats to get back.
    pub async fn complete(
        &self,
        claim: Claim,
        response: StoredResponse,
    ) -> Result<(), IdempotencyError> {
        let stored = Stored {
            claim: claim.id,
            response,
        };
        self.append_after(&claim, STORED, &stored).await
    }

    /// Gives a claim up (the request failed in a way worth retrying): a repeat runs again.
    pub async fn release(&self, claim: Claim) -> Result<(), IdempotencyError> {
        let released = Released { claim: claim.id };
        self.append_after(&claim, RELEASED, &released).await
    }

    async fn append_after<T: Serialize>(
        &self,
        claim: &Claim,
        event_type: &str,
        data: &T,
    ) -> Result<(), IdempotencyError> {
        let event = Self::event(event_type, data).map_err(IdempotencyError::Store)?;
        // Normally right after the claim; after a lost race, others may have written since.
        let expected = ExpectedRevision::Exact(claim.revision);
        match self
            .store
            .append(&claim.stream, expected, vec![event])
            .await
        {
            Ok(_) => Ok(()),
            Err(shop_eventstore::Error::WrongExpectedVersion { .. }) => {
                let event = Self::event(event_type, data).map_err(IdempotencyError::Store)?;
                self.store
                    .append(&claim.stream, ExpectedRevision::StreamExists, vec![event])
                    .await
                    .map(|_| ())
                    .map_err(|e| IdempotencyError::Store(e.into()))
            }
            Err(e) => Err(IdempotencyError::Store(e.into())),
        }
    }
}
