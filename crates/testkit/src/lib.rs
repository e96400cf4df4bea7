//! Test support shared by the workspace's integration tests (a dev-dependency only): one fuzz
//! harness for every crate's fuzz module, the seed inputs they mutate, and the word-level
//! `tokenizer.json` the fixture models are tested with. A crate of its own so that no test
//! includes another crate's files by path.

pub mod fuzz;
pub mod seeds;
pub mod tokenizer;

pub use tokenizer::word_level_tokenizer;
