//! The catch-up subscription shared by the SQL adapters: page through `$all` from the checkpoint,
//! then wait for a wake-up (or a poll interval) and page again.
//!
//! Because history and live events come through the same read, there is no hand-over to get wrong:
//! no gap and no duplicate, as long as the adapter's `read_all` only shows positions that can no
//! longer be preceded by a later commit (trivially true for the single-writer SQLite store; the
//! Postgres store's transaction-id frontier makes it true there). The stream is pulled, so a slow
//! subscriber holds at most one page and never makes the writer buffer.

use std::{collections::VecDeque, time::Duration};

use futures::StreamExt;
use tokio::sync::watch;

use crate::{EventStore, EventStream, Position, ReadAll, RecordedEvent, SubscribeAll};

/// Events fetched per page while catching up.
pub(crate) const PAGE_SIZE: usize = 512;

struct State<S> {
    store: S,
    wake: watch::Receiver<u64>,
    options: SubscribeAll,
    buffer: VecDeque<RecordedEvent>,
    /// How far the page in `buffer` was scanned; the cursor moves there once it is delivered.
    skip_to: Option<Position>,
    /// The last page was not full: the read reached the head, so the next one waits for a
    /// wake-up first instead of reading again at once (which would find nothing, and cost a
    /// query per subscriber per commit).
    at_head: bool,
    poll: Duration,
    done: bool,
}

/// A catch-up subscription over `store`'s `read_all`. `wake` ticks after every commit; `poll` is
/// the fallback for commits the wake-up cannot see (another process, a rolled-back predecessor).
pub(crate) fn catch_up<S: EventStore + Clone>(
    store: S,
    wake: watch::Receiver<u64>,
    options: SubscribeAll,
    poll: Duration,
) -> EventStream {
    let state = State {
        store,
        wake,
        options,
        buffer: VecDeque::new(),
        skip_to: None,
        at_head: false,
        poll,
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            if let Some(event) = st.buffer.pop_front() {
                st.options.after = Some(event.position);
                if st.buffer.is_empty() && st.skip_to > st.options.after {
                    st.options.after = st.skip_to;
                }
                return Some((Ok(event), st));
            }
            if std::mem::take(&mut st.at_head) {
                // The wake-up was marked seen before the read that reached the head, so a commit
                // since then has already ticked it.
                wait(&mut st).await;
            }
            // Mark the current wake-up as seen *before* reading, so a commit that lands between
            // the read and the wait still wakes us.
            st.wake.borrow_and_update();
            let page = st
                .store
                .read_all_page(
                    ReadAll::forwards()
                        .filter(st.options.filter.clone())
                        .limit(PAGE_SIZE)
                        .with_from(st.options.after),
                )
                .await;
            match page {
                Ok(page) if !page.events.is_empty() => {
                    // Resume after the whole scanned range once these are delivered: the events
                    // in it that did not match need not be looked at again.
                    st.skip_to = page.scanned_to;
                    st.at_head = page.events.len() < PAGE_SIZE;
                    st.buffer.extend(page.events);
                }
                Ok(page) => {
                    if page.scanned_to > st.options.after {
                        st.options.after = page.scanned_to;
                    }
                    wait(&mut st).await;
                }
                Err(err) => {
                    st.done = true;
                    return Some((Err(err), st));
                }
            }
        }
    })
    .boxed()
}

/// Waits for a commit's wake-up, or the poll interval.
async fn wait<S>(st: &mut State<S>) {
    tokio::select! {
        changed = st.wake.changed() => {
            if changed.is_err() {
                // The store was closed: keep polling so the next read reports it.
                tokio::time::sleep(st.poll).await;
            }
        }
        () = tokio::time::sleep(st.poll) => {}
    }
}

impl ReadAll {
    fn with_from(mut self, from: Option<Position>) -> Self {
        self.from = from;
        self
    }
}
