//! The models the checker knows, one per file.

pub mod kv;
pub mod kv_map;
pub mod register;
