//! The Salla Merchant API as the history import reads it: orders (list short form, then the
//! detail), customers and products, page by page, with the rate-limit state of every answer
//! so a [`Pacer`] can keep the import inside its share of the store's budget.
//!
//! Confirmed (KIT salla-api-core, docs 421123/421124/421125; salla.md §4, §7.3): the base URL
//! `…/admin/v2`, bearer auth, `page`/`per_page` (max 60), the `{status, success, data,
//! pagination{count,total,perPage,currentPage,totalPages,links}}` envelope, the error envelope
//! `{status, success, error{code, message, fields?}}`, the 401 scope message, the rate-limit
//! headers and `Retry-After` on 429, the list's short form and the detail mirroring the
//! webhook order model. Assumed: `from_date`/`to_date` are inclusive local days, ids may arrive
//! as numbers or numeric strings (both seen in public client code), and a 403 may carry the
//! same scope message as the documented 401.

mod client;
mod pacer;
mod parse;

pub use client::{Answer, DEFAULT_TIMEOUT, MerchantApi, RateInfo};
pub(crate) use client::{auth_code, rejected};
pub use pacer::{Pacer, PacerConfig};
pub use parse::{OrderRef, RawJson, Record};

/// A closed range of the store's local days, sent as `from_date`/`to_date` (`yyyy-mm-dd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateWindow {
    pub from: time::Date,
    pub to: time::Date,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub current_page: u64,
    pub total_pages: u64,
    pub total: u64,
    /// Entries left out because they had no usable id (never expected; counted, not fatal).
    pub skipped: usize,
}

impl<T> Page<T> {
    /// Whether a later page exists.
    pub fn has_next(&self) -> bool {
        self.current_page < self.total_pages
    }
}
