//! The transform: parsed records → `songs`, `artists`, `songplays`, `users`, `time`, streamed
//! from a source to Parquet by [`stream::transform`] ([`catalog`] reads the songs, [`events`]
//! streams the logs; the other modules hold the rules).
//!
//! The catalogue is small and built first, fully in memory ([`dims::SongCatalog`]), so that events can
//! then stream through file by file: each file's plays are matched and given their ids by a
//! [`songplays::SongplayBuilder`] on a parse worker, and deduplicated in input order by
//! [`songplays::Dedup`] before being written.

pub mod catalog;
pub mod dims;
pub mod events;
pub mod id;
mod read;
pub mod songplays;
pub mod stream;
pub mod text;
pub mod time;
pub mod users;

pub use stream::{transform, TransformOptions};
