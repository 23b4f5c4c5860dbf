//! The command-line app (cargo feature `cli`, on by default): argument parsing, the bench
//! tables and plots, `predict`/`eval` over image files, `fetch`, and the `check` command. It sits
//! on top of the engine and nothing in the engine imports from it, so a renderer that embeds
//! the library (`default-features = false`) compiles none of its crates (clap, plotters,
//! indicatif, ureq).

pub mod args;
pub mod bench;
pub mod check;
pub mod cli;
pub mod eval;
pub mod feed;
pub mod fetch;
pub mod inspect;
pub mod predict;
pub mod seed;
#[cfg(feature = "serve")]
pub mod serve;
pub mod tune;
