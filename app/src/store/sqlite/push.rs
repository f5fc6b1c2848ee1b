//! SQLite's push queries: the statements of `crate::store::push_sql`, with `?N` placeholders.

use super::{SqliteStore, DISPLAY_NAME};

crate::store::push_sql::push_queries!(
    SqliteStore,
    write,
    read,
    crate::store::push_sql::sqlite,
    DISPLAY_NAME,
    "?1"
);
