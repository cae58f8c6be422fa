//! Table definitions, declared once in Rust and turned into DDL for each database, and the
//! [`table!`](crate::table) macro that declares a row struct together with its table.

use super::value::{ColumnType, Value, ValueError};

/// One column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub ty: ColumnType,
    /// May it be NULL?
    pub nullable: bool,
}

/// A read-model table: columns, the first `key_len` of which form the primary key, and secondary
/// indexes (lists of column names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableDef {
    /// The table's (logical) name; a rebuild writes to a shadow table with a suffix.
    pub name: &'static str,
    /// Columns, key columns first.
    pub columns: &'static [Column],
    /// How many leading columns are the primary key.
    pub key_len: usize,
    /// Secondary indexes.
    pub indexes: &'static [&'static [&'static str]],
    /// Written only with [`Rows::append`](crate::rows::Rows::append) and never read back by its
    /// projection (audit trails, timelines, ledgers): its rows skip the batch's key map and the
    /// row cache.
    pub append_only: bool,
}

impl TableDef {
    /// The key columns.
    pub fn key_columns(&self) -> &'static [Column] {
        &self.columns[..self.key_len]
    }

    /// The columns that are not part of the key.
    pub fn value_columns(&self) -> &'static [Column] {
        &self.columns[self.key_len..]
    }
}

/// A row of values in the table's column order.
pub type Row = Vec<Value>;

/// A Rust struct stored as one row of a table (see [`table!`](crate::table)).
pub trait TableRow: Sized + Clone + Send + 'static {
    /// Its table.
    const TABLE: &'static TableDef;
    /// Its primary key values (copies of the key fields).
    fn key(&self) -> Row;
    /// All values, in column order, moved out of the struct (no copies of its text); the first
    /// `TABLE.key_len` are the primary key.
    fn into_row(self) -> Row;
    /// From stored values.
    fn from_row(row: Row) -> Result<Self, ValueError>;
}

/// Declares a row struct and its table definition:
///
/// ```ignore
/// table! {
///     /// Stock per SKU and warehouse.
///     pub struct StockLevel in "inventory_levels" {
///         key { sku: String, warehouse: String }
///         fields { on_hand: i64, available: i64 }
///         indexes [["available"]]
///     }
/// }
/// ```
#[macro_export]
macro_rules! table {
    (
        $(#[$meta:meta])*
        pub struct $name:ident in $table:literal {
            append_only;
            $($body:tt)*
        }
    ) => {
        $crate::table! { @define true; $(#[$meta])* pub struct $name in $table { $($body)* } }
    };
    (
        $(#[$meta:meta])*
        pub struct $name:ident in $table:literal {
            key $($body:tt)*
        }
    ) => {
        $crate::table! { @define false; $(#[$meta])* pub struct $name in $table { key $($body)* } }
    };
    (
        @define $append_only:literal;
        $(#[$meta:meta])*
        pub struct $name:ident in $table:literal {
            key { $($(#[$kmeta:meta])* $key:ident : $kty:ty),+ $(,)? }
            fields { $($(#[$fmeta:meta])* $field:ident : $fty:ty),* $(,)? }
            indexes [ $([ $($ix:literal),+ ]),* $(,)? ]
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            $($(#[$kmeta])* pub $key: $kty,)+
            $($(#[$fmeta])* pub $field: $fty,)*
        }

        impl $crate::rows::TableRow for $name {
            const TABLE: &'static $crate::rows::TableDef = &$crate::rows::TableDef {
                name: $table,
                columns: &[
                    $($crate::rows::Column {
                        name: stringify!($key),
                        ty: <$kty as $crate::rows::SqlValue>::TYPE,
                        nullable: <$kty as $crate::rows::SqlValue>::NULLABLE,
                    },)+
                    $($crate::rows::Column {
                        name: stringify!($field),
                        ty: <$fty as $crate::rows::SqlValue>::TYPE,
                        nullable: <$fty as $crate::rows::SqlValue>::NULLABLE,
                    },)*
                ],
                key_len: [$(stringify!($key)),+].len(),
                indexes: &[$(&[$($ix),+]),*],
                append_only: $append_only,
            };

            fn key(&self) -> $crate::rows::Row {
                vec![$($crate::rows::SqlValue::to_value(&self.$key),)+]
            }

            fn into_row(self) -> $crate::rows::Row {
                vec![
                    $($crate::rows::SqlValue::into_value(self.$key),)+
                    $($crate::rows::SqlValue::into_value(self.$field),)*
                ]
            }

            fn from_row(row: $crate::rows::Row) -> Result<Self, $crate::rows::ValueError> {
                let mut values = row.into_iter();
                let mut next = |column: &'static str| {
                    values.next().ok_or($crate::rows::ValueError {
                        column,
                        expected: "a value",
                        found: "nothing".to_owned(),
                    })
                };
                Ok(Self {
                    $($key: <$kty as $crate::rows::SqlValue>::from_value(next(stringify!($key))?, stringify!($key))?,)+
                    $($field: <$fty as $crate::rows::SqlValue>::from_value(next(stringify!($field))?, stringify!($field))?,)*
                })
            }
        }
    };
}
