//! Rows as projections see them: typed row structs declared with [`table!`](crate::table), and the
//! working set ([`Rows`]) a projection reads and writes while it applies a batch of events.

mod cache;
mod memory;
mod set;
mod table;
mod value;

pub use cache::RowCache;
pub use memory::{MemoryRows, MemoryTable};
pub use set::{Changes, Decoded, Physical, Rows, RowsError, TableChanges};
pub use table::{Column, Row, TableDef, TableRow};
pub use value::{ColumnType, SqlValue, Value, ValueError, int, text};
