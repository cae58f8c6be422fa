//! Talking to Meilisearch with bounded waits: every request has a timeout (the SDK's HTTP client
//! has none), and writes wait for their task to finish, because Meilisearch applies writes
//! asynchronously and the port promises they are visible when the call returns. A failed task
//! comes back from the SDK as `Ok(Task::Failed)`; here it is an error.

use std::{future::Future, time::Duration};

use meilisearch_sdk::{
    client::Client,
    errors::{Error, ErrorCode},
    task_info::TaskInfo,
    tasks::Task,
};

use super::MeiliOptions;
use crate::search::SearchError;

/// First pause between task polls; doubles up to [`MAX_POLL`]. Short at first because most
/// small writes finish within a few milliseconds.
const FIRST_POLL: Duration = Duration::from_millis(2);
const MAX_POLL: Duration = Duration::from_millis(100);

/// Runs one request within the request timeout.
pub(super) async fn request<T>(
    options: &MeiliOptions,
    call: impl Future<Output = Result<T, Error>>,
) -> Result<T, SearchError> {
    match tokio::time::timeout(options.request_timeout, call).await {
        Ok(result) => result.map_err(sdk_error),
        Err(_) => Err(SearchError::Timeout),
    }
}

/// Enqueues a task and waits until Meilisearch has processed it.
pub(super) async fn run_task(
    client: &Client,
    options: &MeiliOptions,
    enqueue: impl Future<Output = Result<TaskInfo, Error>>,
) -> Result<(), SearchError> {
    let info = request(options, enqueue).await?;
    wait(client, options, &info).await
}

/// Waits for a task, with the task timeout; a failed task is an error.
pub(super) async fn wait(
    client: &Client,
    options: &MeiliOptions,
    info: &TaskInfo,
) -> Result<(), SearchError> {
    let task_uid = info.task_uid;
    match finished(client, options, info).await? {
        Task::Failed { content } => {
            let e = content.error;
            Err(SearchError::Backend(format!(
                "meilisearch task {task_uid} failed: {} ({:?})",
                e.error_message, e.error_code
            )))
        }
        _ => Ok(()),
    }
}

/// Polls a task until it succeeded or failed, with the task timeout.
pub(super) async fn finished(
    client: &Client,
    options: &MeiliOptions,
    info: &TaskInfo,
) -> Result<Task, SearchError> {
    let task_uid = info.task_uid;
    let deadline = tokio::time::Instant::now() + options.task_timeout;
    let mut pause = FIRST_POLL;
    loop {
        let task = request(options, client.get_task(info)).await?;
        if matches!(task, Task::Succeeded { .. } | Task::Failed { .. }) {
            return Ok(task);
        }
        if tokio::time::Instant::now() + pause > deadline {
            tracing::warn!(task_uid, "meilisearch task still pending at the deadline");
            return Err(SearchError::Timeout);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_POLL);
    }
}

/// Whether a finished task failed because its index already exists.
pub(super) fn failed_as_existing_index(task: &Task) -> bool {
    matches!(
        task,
        Task::Failed { content } if content.error.error_code == ErrorCode::IndexAlreadyExists
    )
}

/// Maps SDK errors onto the port's.
pub(super) fn sdk_error(err: Error) -> SearchError {
    match err {
        Error::Timeout => SearchError::Timeout,
        Error::Meilisearch(e) => SearchError::Backend(format!(
            "meilisearch: {} ({:?})",
            e.error_message, e.error_code
        )),
        Error::MeilisearchCommunication(e) => SearchError::Unavailable(e.to_string()),
        Error::HttpError(e) => SearchError::Unavailable(e.to_string()),
        other => SearchError::Backend(other.to_string()),
    }
}

/// Whether an SDK error is "document not found" (a `get` of an unknown id).
pub(super) fn is_not_found(err: &Error) -> bool {
    matches!(err, Error::Meilisearch(e) if e.error_code == ErrorCode::DocumentNotFound)
}
