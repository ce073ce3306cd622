//! One module per resource; each handler forwards to the worker that owns the resource.

pub mod auth;
pub mod comments;
pub mod health;
pub mod problems;
pub mod submissions;
