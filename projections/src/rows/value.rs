//! Column values. Read models use a deliberately small set of types that mean the same on SQLite
//! and Postgres: 64-bit integers (money in minor units, counts, unix milliseconds), text (ids,
//! names, JSON documents) and booleans. No floats: averages are stored in hundredths.

use std::fmt;

/// One column value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit integer.
    Int(i64),
    /// Text (also JSON documents).
    Text(String),
    /// A boolean (INTEGER 0/1 on SQLite, BOOLEAN on Postgres).
    Bool(bool),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Text(t) => write!(f, "{t:?}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// The SQL type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// BIGINT / INTEGER.
    Int,
    /// TEXT.
    Text,
    /// BOOLEAN / INTEGER 0-1.
    Bool,
}

/// Why a stored value does not fit a row field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: expected {expected}, found {found}")]
pub struct ValueError {
    /// The column.
    pub column: &'static str,
    /// What the field needs.
    pub expected: &'static str,
    /// What was stored.
    pub found: String,
}

/// A Rust type that maps to one column.
pub trait SqlValue: Sized {
    /// The column's SQL type.
    const TYPE: ColumnType;
    /// Whether the column may be NULL.
    const NULLABLE: bool = false;
    /// To a column value.
    fn to_value(&self) -> Value;
    /// To a column value, by move.
    fn into_value(self) -> Value {
        self.to_value()
    }
    /// From a column value.
    fn from_value(value: Value, column: &'static str) -> Result<Self, ValueError>;
}

fn mismatch(column: &'static str, expected: &'static str, found: &Value) -> ValueError {
    ValueError {
        column,
        expected,
        found: found.to_string(),
    }
}

impl SqlValue for i64 {
    const TYPE: ColumnType = ColumnType::Int;
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
    fn from_value(value: Value, column: &'static str) -> Result<Self, ValueError> {
        match value {
            Value::Int(i) => Ok(i),
            other => Err(mismatch(column, "an integer", &other)),
        }
    }
}

impl SqlValue for String {
    const TYPE: ColumnType = ColumnType::Text;
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
    fn into_value(self) -> Value {
        Value::Text(self)
    }
    fn from_value(value: Value, column: &'static str) -> Result<Self, ValueError> {
        match value {
            Value::Text(t) => Ok(t),
            other => Err(mismatch(column, "text", &other)),
        }
    }
}

impl SqlValue for bool {
    const TYPE: ColumnType = ColumnType::Bool;
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
    fn from_value(value: Value, column: &'static str) -> Result<Self, ValueError> {
        match value {
            Value::Bool(b) => Ok(b),
            // SQLite hands booleans back as integers.
            Value::Int(0) => Ok(false),
            Value::Int(1) => Ok(true),
            other => Err(mismatch(column, "a boolean", &other)),
        }
    }
}

impl<T: SqlValue> SqlValue for Option<T> {
    const TYPE: ColumnType = T::TYPE;
    const NULLABLE: bool = true;
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, T::to_value)
    }
    fn into_value(self) -> Value {
        self.map_or(Value::Null, T::into_value)
    }
    fn from_value(value: Value, column: &'static str) -> Result<Self, ValueError> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other, column).map(Some),
        }
    }
}

/// A text value (for keys).
pub fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

/// An integer value (for keys).
pub fn int(i: i64) -> Value {
    Value::Int(i)
}
