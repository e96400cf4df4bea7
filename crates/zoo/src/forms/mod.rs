//! Functional forms of Δh, one file each.

mod low_rank;
mod prefix;
mod prompt;

pub use low_rank::LowRank;
pub use prefix::Prefix;
pub use prompt::Prompt;
