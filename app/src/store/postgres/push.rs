//! PostgreSQL's push queries: the statements of `crate::store::push_sql`, with `$N`
//! placeholders.

use super::{PgStore, DISPLAY_NAME};

crate::store::push_sql::push_queries!(
    PgStore,
    write,
    read,
    crate::store::push_sql::postgres,
    DISPLAY_NAME,
    "$1"
);
