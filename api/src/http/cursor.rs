//! Cursor pagination over the read models. A list is a keyset walk ([`ReadStore::page`]) over
//! the rows whose leading order columns equal a fixed prefix (one customer's orders, one
//! product's variants), in a stable order (the order columns, then the primary key). The cursor
//! is opaque to clients: the last row's keyset, base64url-encoded JSON. A cursor must belong to
//! the same list (its prefix is checked), so it cannot be used to walk into another customer's
//! rows.

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use shop_projections::rows::{ColumnType, TableRow, Value};
use shop_projections::store::{ReadStore, keyset_columns, keyset_of};

use crate::problem::Problem;

/// The default page size.
pub const DEFAULT_LIMIT: usize = 20;
/// The largest page size.
pub const MAX_LIMIT: usize = 100;

/// `?cursor=…&limit=…`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Where the previous page ended (its `next_cursor`).
    pub cursor: Option<String>,
    /// Rows per page, 1 to 100 (default 20).
    pub limit: Option<usize>,
}

impl PageQuery {
    /// The page size, checked.
    pub fn limit(&self) -> Result<usize, Problem> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_limit",
                "Invalid limit",
                format!("limit is 1 to {MAX_LIMIT}"),
            )),
        }
    }
}

/// One page of rows and where the next one starts.
#[derive(Debug)]
pub struct Page<T> {
    /// The rows.
    pub rows: Vec<T>,
    /// Pass as `cursor` for the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

fn invalid_cursor() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid_cursor",
        "Invalid cursor",
        "the cursor is not one this list answered",
    )
}

fn encode(keyset: &[Value]) -> String {
    let json: Vec<serde_json::Value> = keyset
        .iter()
        .map(|v| match v {
            Value::Null => serde_json::Value::Null,
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Text(t) => serde_json::Value::from(t.as_str()),
            Value::Bool(b) => serde_json::Value::from(*b),
        })
        .collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json).unwrap_or_default())
}

fn decode(cursor: &str, types: &[ColumnType]) -> Result<Vec<Value>, Problem> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid_cursor())?;
    let json: Vec<serde_json::Value> =
        serde_json::from_slice(&bytes).map_err(|_| invalid_cursor())?;
    if json.len() != types.len() {
        return Err(invalid_cursor());
    }
    json.into_iter()
        .zip(types)
        .map(|(v, t)| match (v, t) {
            (serde_json::Value::String(s), ColumnType::Text) => Ok(Value::Text(s)),
            (serde_json::Value::Number(n), ColumnType::Int) => {
                n.as_i64().map(Value::Int).ok_or_else(invalid_cursor)
            }
            (serde_json::Value::Bool(b), ColumnType::Bool) => Ok(Value::Bool(b)),
            _ => Err(invalid_cursor()),
        })
        .collect()
}

/// The smallest value of a column type (where a walk over a prefix starts).
fn smallest(t: ColumnType) -> Value {
    match t {
        ColumnType::Int => Value::Int(i64::MIN),
        ColumnType::Bool => Value::Bool(false),
        _ => Value::Text(String::new()),
    }
}

/// A page of `T`'s table ordered by `order_by`, over the rows whose first `prefix.len()` order
/// columns equal `prefix`.
pub async fn page<T: TableRow>(
    store: &dyn ReadStore,
    order_by: &[&str],
    prefix: Vec<Value>,
    query: &PageQuery,
) -> Result<Page<T>, Problem> {
    page_either::<T>(store, order_by, prefix, query, false).await
}

/// [`page`] newest first: the order reversed. The first order column after the prefix must be
/// an integer (a time), whose maximum starts the walk at the top.
pub async fn page_newest<T: TableRow>(
    store: &dyn ReadStore,
    order_by: &[&str],
    prefix: Vec<Value>,
    query: &PageQuery,
) -> Result<Page<T>, Problem> {
    page_either::<T>(store, order_by, prefix, query, true).await
}

async fn page_either<T: TableRow>(
    store: &dyn ReadStore,
    order_by: &[&str],
    prefix: Vec<Value>,
    query: &PageQuery,
    newest_first: bool,
) -> Result<Page<T>, Problem> {
    let def = T::TABLE;
    let limit = query.limit()?;
    let columns = keyset_columns(def, order_by).map_err(|e| Problem::internal(&e))?;
    let types: Vec<ColumnType> = columns.iter().map(|c| c.ty).collect();
    if newest_first && types.get(prefix.len()) != Some(&ColumnType::Int) {
        return Err(Problem::internal(&format!(
            "a newest-first list of {} needs an integer column after its prefix",
            def.name
        )));
    }
    let bound = match &query.cursor {
        Some(cursor) => {
            let keyset = decode(cursor, &types)?;
            if keyset[..prefix.len()] != prefix[..] {
                return Err(invalid_cursor());
            }
            keyset
        }
        None if newest_first => {
            // Above every row: the integer column's maximum decides whatever follows it.
            let mut start = prefix.clone();
            start.extend(types[prefix.len()..].iter().map(|t| match t {
                ColumnType::Int => Value::Int(i64::MAX),
                other => smallest(*other),
            }));
            start
        }
        None => {
            let mut start = prefix.clone();
            start.extend(types[prefix.len()..].iter().map(|t| smallest(*t)));
            start
        }
    };
    let rows = if newest_first {
        store
            .page_back(def, def.name, order_by, &bound, limit + 1)
            .await
    } else {
        store
            .page(def, def.name, order_by, Some(&bound), limit + 1)
            .await
    }
    .map_err(|e| Problem::internal(&e))?;
    let mut out = Vec::with_capacity(limit);
    let mut last = None;
    let mut more = false;
    for row in rows {
        let keyset = keyset_of(def, order_by, &row).map_err(|e| Problem::internal(&e))?;
        if keyset[..prefix.len()] != prefix[..] {
            break;
        }
        if out.len() == limit {
            more = true;
            break;
        }
        out.push(T::from_row(row).map_err(|e| Problem::internal(&e))?);
        last = Some(keyset);
    }
    let next_cursor = if more { last.map(|k| encode(&k)) } else { None };
    Ok(Page {
        rows: out,
        next_cursor,
    })
}

/// Every row of the list `prefix` names, up to `at_most` (for lists shown whole: a product's
/// variants, a SKU's warehouses), read a thousand at a time.
pub async fn all<T: TableRow>(
    store: &dyn ReadStore,
    order_by: &[&str],
    prefix: Vec<Value>,
    at_most: usize,
) -> Result<Vec<T>, Problem> {
    const PAGE: usize = 1000;
    let def = T::TABLE;
    let columns = keyset_columns(def, order_by).map_err(|e| Problem::internal(&e))?;
    let mut after = prefix.clone();
    after.extend(columns[prefix.len()..].iter().map(|c| smallest(c.ty)));
    let mut out = Vec::new();
    loop {
        let rows = store
            .page(def, def.name, order_by, Some(&after), PAGE)
            .await
            .map_err(|e| Problem::internal(&e))?;
        let full = rows.len() == PAGE;
        for row in rows {
            let keyset = keyset_of(def, order_by, &row).map_err(|e| Problem::internal(&e))?;
            if keyset[..prefix.len()] != prefix[..] || out.len() == at_most {
                return Ok(out);
            }
            out.push(T::from_row(row).map_err(|e| Problem::internal(&e))?);
            after = keyset;
        }
        if !full {
            return Ok(out);
        }
    }
}
