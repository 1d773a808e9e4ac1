//! Version 3 of the records that changed since version 2.
//!
//! - `Event`: `by`, who caused it (`None` for a change made by time), for the audit
//!   trail. A version-2 or version-1 event reads with `by` unknown (`None`).
//!
//! Never change a type here either: the next change is a `v4` beside it.

use super::{v1, v2};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub at: v1::Time,
    pub by: Option<u64>,
    pub body: v2::EventBody,
}
