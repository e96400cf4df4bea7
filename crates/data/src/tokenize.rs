//! Tokenisation and batching: [`TextEncoder`] wraps a Hugging Face `tokenizer.json` (via the
//! `tokenizers` crate) and produces padded [`TextBatch`]es; [`TextEncoder::encode_targets`]
//! builds seq2seq labels and decoder inputs as `DataCollatorForSeq2Seq` does;
//! [`bucketed_batches`] groups examples of similar length.
//!
//! Truncation is Hugging Face's `truncation=True` (longest-first for pairs, room left for the
//! special tokens); padding is to the batch's longest sequence, on the right, with the
//! tokenizer's pad id (its padding config, else its `[PAD]` / `<pad>` token), attention mask 0
//! and token type 0 on padding. The tokenizer file's own padding/truncation settings are
//! replaced by these.

use std::path::{Path, PathBuf};

use tokenizers::{
    EncodeInput, Encoding, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy,
};

use crate::error::{DataError, Result};
use crate::{rng, Label, TextExample};

/// A padded batch of token sequences, row-major `[batch, seq_len]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TextBatch {
    pub input_ids: Vec<i64>,
    pub attention_mask: Vec<i64>,
    pub token_type_ids: Vec<i64>,
    pub batch: usize,
    pub seq_len: usize,
    /// One label per row (empty when the batch was built from bare texts).
    pub labels: Vec<Label>,
}

impl TextBatch {
    /// Rows `rows` of the batch, padded as the whole batch is (a shard of it for one thread).
    pub fn rows(&self, rows: std::ops::Range<usize>) -> TextBatch {
        let cut = |v: &[i64]| v[rows.start * self.seq_len..rows.end * self.seq_len].to_vec();
        TextBatch {
            input_ids: cut(&self.input_ids),
            attention_mask: cut(&self.attention_mask),
            token_type_ids: cut(&self.token_type_ids),
            batch: rows.len(),
            seq_len: self.seq_len,
            labels: self
                .labels
                .get(rows.clone())
                .map_or_else(Vec::new, <[Label]>::to_vec),
        }
    }

    /// Row `i` of `input_ids`.
    pub fn row(&self, i: usize) -> &[i64] {
        &self.input_ids[i * self.seq_len..(i + 1) * self.seq_len]
    }

    /// The unpadded length of row `i`.
    pub fn len_of(&self, i: usize) -> usize {
        self.attention_mask[i * self.seq_len..(i + 1) * self.seq_len]
            .iter()
            .filter(|&&m| m != 0)
            .count()
    }
}

/// Seq2seq targets for a batch, row-major `[batch, seq_len]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetBatch {
    /// Target token ids, −100 on padding (ignored by the loss).
    pub labels: Vec<i64>,
    /// `labels` shifted right by one with `decoder_start_token_id` in front; −100 replaced by
    /// the pad id.
    pub decoder_input_ids: Vec<i64>,
    /// 1 where `decoder_input_ids` is not padding.
    pub decoder_attention_mask: Vec<i64>,
    pub batch: usize,
    pub seq_len: usize,
}

/// The label value Hugging Face's losses ignore.
pub const IGNORE_INDEX: i64 = -100;

/// A tokenizer with a fixed truncation length.
#[derive(Clone)]
pub struct TextEncoder {
    tokenizer: Tokenizer,
    path: PathBuf,
    pad_id: u32,
    max_length: usize,
}

impl std::fmt::Debug for TextEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextEncoder")
            .field("path", &self.path)
            .field("pad_id", &self.pad_id)
            .field("max_length", &self.max_length)
            .finish()
    }
}

/// Reads a `tokenizer.json`. The `tokenizers` crate panics on some malformed files (0.23: a
/// `Precompiled` normaliser whose charsmap is not a base64 string `expect`s in its
/// deserialiser); that panic is caught here and reported as an error naming the file.
fn read_tokenizer(file: &Path) -> Result<Tokenizer> {
    let error = |message: String| DataError::Tokenizer {
        path: file.to_path_buf(),
        message,
    };
    match std::panic::catch_unwind(|| Tokenizer::from_file(file)) {
        Ok(Ok(tokenizer)) => Ok(tokenizer),
        Ok(Err(e)) => Err(error(e.to_string())),
        Err(_) => Err(error(
            "malformed tokenizer.json (the tokenizers crate failed on it)".into(),
        )),
    }
}

impl TextEncoder {
    /// Loads `tokenizer.json` (or a checkpoint folder that has one) and truncates to
    /// `max_length` tokens, special tokens included.
    pub fn from_file(path: &Path, max_length: usize) -> Result<Self> {
        let file = if path.is_dir() {
            path.join("tokenizer.json")
        } else {
            path.to_path_buf()
        };
        if !file.is_file() {
            return Err(DataError::missing(
                "tokenizer",
                &file,
                "it ships with the checkpoint (Hugging Face folder, tokenizer.json)",
            ));
        }
        let tokenizer = read_tokenizer(&file)?;
        let pad_id = tokenizer
            .get_padding()
            .map(|p| p.pad_id)
            .or_else(|| tokenizer.token_to_id("[PAD]"))
            .or_else(|| tokenizer.token_to_id("<pad>"))
            .ok_or_else(|| DataError::Tokenizer {
                path: file.clone(),
                message: "no padding configuration and no [PAD] or <pad> token".into(),
            })?;
        let mut enc = TextEncoder {
            tokenizer,
            path: file,
            pad_id,
            max_length: 0,
        };
        enc.set_max_length(max_length)?;
        Ok(enc)
    }

    fn set_max_length(&mut self, max_length: usize) -> Result<()> {
        if max_length == 0 {
            return Err(DataError::Invalid("max_length must be at least 1".into()));
        }
        self.tokenizer.with_padding(None);
        self.tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| DataError::Tokenizer {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        self.max_length = max_length;
        Ok(())
    }

    /// A copy that truncates to another length (e.g. the target side of a seq2seq task).
    pub fn with_max_length(&self, max_length: usize) -> Result<Self> {
        let mut e = self.clone();
        e.set_max_length(max_length)?;
        Ok(e)
    }

    pub fn max_length(&self) -> usize {
        self.max_length
    }

    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// The id of a token of the vocabulary (`"[CLS]"`, `"</s>"`, `"ro_RO"`, ...).
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.tokenizer.token_to_id(token)
    }

    /// The underlying tokenizer (configured: truncation on, padding off).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    fn tok_err(&self, e: impl std::fmt::Display) -> DataError {
        DataError::Tokenizer {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Encodes single texts or pairs, truncated, unpadded (in parallel).
    pub fn encode_raw(&self, a: &[&str], b: Option<&[&str]>) -> Result<Vec<Encoding>> {
        if let Some(b) = b {
            if b.len() != a.len() {
                return Err(DataError::Invalid(format!(
                    "{} first texts but {} second texts",
                    a.len(),
                    b.len()
                )));
            }
        }
        let inputs: Vec<EncodeInput> = match b {
            Some(b) => a
                .iter()
                .zip(b)
                .map(|(x, y)| EncodeInput::Dual((*x).into(), (*y).into()))
                .collect(),
            None => a.iter().map(|x| EncodeInput::Single((*x).into())).collect(),
        };
        self.tokenizer
            .encode_batch_fast(inputs, true)
            .map_err(|e| self.tok_err(e))
    }

    /// Encodes and pads texts (pairs when `b` is given); `labels` is left empty.
    pub fn encode_texts(&self, a: &[&str], b: Option<&[&str]>) -> Result<TextBatch> {
        let encodings = self.encode_raw(a, b)?;
        Ok(self.pad(&encodings, Vec::new()))
    }

    /// Encodes examples into a padded batch with their labels. Pairs are encoded as pairs when
    /// the example has a `text_b`; a batch mixing single texts and pairs is allowed.
    pub fn encode_examples(&self, examples: &[&TextExample]) -> Result<TextBatch> {
        let inputs: Vec<EncodeInput> = examples
            .iter()
            .map(|e| match &e.text_b {
                Some(b) => EncodeInput::Dual(e.text_a.as_str().into(), b.as_str().into()),
                None => EncodeInput::Single(e.text_a.as_str().into()),
            })
            .collect();
        let encodings = self
            .tokenizer
            .encode_batch_fast(inputs, true)
            .map_err(|e| self.tok_err(e))?;
        Ok(self.pad(&encodings, examples.iter().map(|e| e.label).collect()))
    }

    /// [`encode_examples`](Self::encode_examples) for the examples at `indices` (one batch of
    /// [`bucketed_batches`]).
    pub fn encode_batch(&self, examples: &[TextExample], indices: &[usize]) -> Result<TextBatch> {
        let picked: Vec<&TextExample> = indices
            .iter()
            .map(|&i| {
                examples.get(i).ok_or_else(|| {
                    DataError::Invalid(format!(
                        "index {i} is out of range for {} examples",
                        examples.len()
                    ))
                })
            })
            .collect::<Result<_>>()?;
        self.encode_examples(&picked)
    }

    /// Token counts after truncation (special tokens included), for bucketing.
    pub fn lengths(&self, examples: &[TextExample]) -> Result<Vec<usize>> {
        let refs: Vec<&TextExample> = examples.iter().collect();
        let inputs: Vec<EncodeInput> = refs
            .iter()
            .map(|e| match &e.text_b {
                Some(b) => EncodeInput::Dual(e.text_a.as_str().into(), b.as_str().into()),
                None => EncodeInput::Single(e.text_a.as_str().into()),
            })
            .collect();
        Ok(self
            .tokenizer
            .encode_batch_fast(inputs, true)
            .map_err(|e| self.tok_err(e))?
            .iter()
            .map(|e| e.get_ids().len())
            .collect())
    }

    /// Token counts of texts without truncation (special tokens included), for the data check.
    pub fn untruncated_lengths(&self, a: &[&str], b: Option<&[&str]>) -> Result<Vec<usize>> {
        let mut t = self.clone();
        t.tokenizer
            .with_truncation(None)
            .map_err(|e| self.tok_err(e))?;
        Ok(t.encode_raw(a, b)?
            .iter()
            .map(|e| e.get_ids().len())
            .collect())
    }

    fn pad(&self, encodings: &[Encoding], labels: Vec<Label>) -> TextBatch {
        let batch = encodings.len();
        let seq_len = encodings
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0);
        let mut input_ids = vec![self.pad_id as i64; batch * seq_len];
        let mut attention_mask = vec![0i64; batch * seq_len];
        let mut token_type_ids = vec![0i64; batch * seq_len];
        for (r, e) in encodings.iter().enumerate() {
            let o = r * seq_len;
            for (k, ((&id, &m), &t)) in e
                .get_ids()
                .iter()
                .zip(e.get_attention_mask())
                .zip(e.get_type_ids())
                .enumerate()
            {
                input_ids[o + k] = id as i64;
                attention_mask[o + k] = m as i64;
                token_type_ids[o + k] = t as i64;
            }
        }
        TextBatch {
            input_ids,
            attention_mask,
            token_type_ids,
            batch,
            seq_len,
            labels,
        }
    }

    /// Seq2seq targets as `DataCollatorForSeq2Seq` builds them: the targets tokenised (with the
    /// tokenizer's special tokens, truncated to this encoder's `max_length`), padded with −100
    /// in `labels`; `decoder_input_ids` = labels shifted right with `decoder_start_token_id`
    /// first and −100 turned into the pad id (BART's `shift_tokens_right`). For mBART pass the
    /// target language code's id (`ro_RO`) as the start token.
    pub fn encode_targets(
        &self,
        targets: &[&str],
        decoder_start_token_id: u32,
    ) -> Result<TargetBatch> {
        let encodings = self.encode_raw(targets, None)?;
        Ok(targets_from_ids(
            encodings.iter().map(|e| e.get_ids()),
            decoder_start_token_id,
            self.pad_id,
        ))
    }
}

/// Builds a [`TargetBatch`] from token id sequences (see [`TextEncoder::encode_targets`]).
pub fn targets_from_ids<'a>(
    rows: impl ExactSizeIterator<Item = &'a [u32]> + Clone,
    decoder_start_token_id: u32,
    pad_id: u32,
) -> TargetBatch {
    let batch = rows.len();
    let seq_len = rows.clone().map(|r| r.len()).max().unwrap_or(0);
    let mut labels = vec![IGNORE_INDEX; batch * seq_len];
    let mut decoder_input_ids = vec![pad_id as i64; batch * seq_len];
    let mut decoder_attention_mask = vec![0i64; batch * seq_len];
    for (r, ids) in rows.enumerate() {
        let o = r * seq_len;
        for (k, &id) in ids.iter().enumerate() {
            labels[o + k] = id as i64;
        }
        if seq_len > 0 {
            decoder_input_ids[o] = decoder_start_token_id as i64;
            for k in 1..seq_len {
                let prev = labels[o + k - 1];
                decoder_input_ids[o + k] = if prev == IGNORE_INDEX {
                    pad_id as i64
                } else {
                    prev
                };
            }
            for m in decoder_attention_mask[o..o + ids.len().max(1).min(seq_len)].iter_mut() {
                *m = 1;
            }
        }
    }
    TargetBatch {
        labels,
        decoder_input_ids,
        decoder_attention_mask,
        batch,
        seq_len,
    }
}

/// Random batches of `n` examples, as PyTorch's `DataLoader(shuffle=True, drop_last=False)`
/// gives them (transformers' `Trainer` default): a new permutation from `seed`, cut in order
/// into batches of `batch_size`; the last batch keeps the remainder. Each batch is padded to
/// its own longest example. A `batch_size` of 0 is taken as 1. Each `(seed, epoch)` has its own
/// stream ([`rng::epoch_stream`]), so that no epoch of one seed repeats an epoch of another.
pub fn random_batches(n: usize, batch_size: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut r = rng::epoch_stream(seed, epoch);
    rng::shuffle(&mut r, &mut idx);
    idx.chunks(batch_size.max(1)).map(|c| c.to_vec()).collect()
}

/// A batch order written by another program (e.g. `tools/train_torch.py`), to replay its
/// batches exactly: JSON `{"epochs": [[[i, j, …], …], …]}`, per epoch the batches in order,
/// each the 0-based indices of training examples.
pub fn read_batch_order(path: &Path, n: usize) -> Result<Vec<Vec<Vec<usize>>>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Order {
        epochs: Vec<Vec<Vec<usize>>>,
    }
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let order: Order = serde_json::from_str(&text).map_err(|e| DataError::Format {
        path: path.to_path_buf(),
        message: format!("not a batch order ({{\"epochs\": [[[indices], ...], ...]}}): {e}"),
    })?;
    let bad = |at: String, message: String| DataError::Value {
        path: path.to_path_buf(),
        at,
        field: "epochs".into(),
        message,
    };
    if order.epochs.is_empty() {
        return Err(bad("top level".into(), "no epochs".into()));
    }
    for (e, epoch) in order.epochs.iter().enumerate() {
        if epoch.is_empty() {
            return Err(bad(format!("epoch {e}"), "no batches".into()));
        }
        for (b, batch) in epoch.iter().enumerate() {
            if batch.is_empty() {
                return Err(bad(
                    format!("epoch {e}, batch {b}"),
                    "an empty batch".into(),
                ));
            }
            if let Some(i) = batch.iter().find(|&&i| i >= n) {
                return Err(bad(
                    format!("epoch {e}, batch {b}"),
                    format!("index {i} is past the {n} training examples"),
                ));
            }
        }
    }
    Ok(order.epochs)
}

/// Length-bucketed batches of indices into `lengths`.
///
/// With `shuffle`: the indices are shuffled with `seed`, cut into chunks of 50 × `batch_size`,
/// each chunk is sorted by length (longest first), cut into batches, and the batches are
/// shuffled (same seed). Without: all indices sorted by length (longest first, ties by index)
/// and cut in order, for evaluation. Every index appears exactly once; only the last batch of
/// the last chunk can be short. Deterministic for a seed on every platform. A `batch_size` of 0
/// is taken as 1. The shuffle of `(seed, epoch)` draws from its own stream, as
/// [`random_batches`]'s.
pub fn bucketed_batches(
    lengths: &[usize],
    batch_size: usize,
    seed: u64,
    epoch: usize,
    shuffle: bool,
) -> Vec<Vec<usize>> {
    let bs = batch_size.max(1);
    let mut idx: Vec<usize> = (0..lengths.len()).collect();
    if !shuffle {
        idx.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
        return idx.chunks(bs).map(|c| c.to_vec()).collect();
    }
    let mut r = rng::epoch_stream(seed, epoch);
    rng::shuffle(&mut r, &mut idx);
    let mut batches = Vec::with_capacity(idx.len().div_ceil(bs));
    for chunk in idx.chunks_mut(bs.saturating_mul(50)) {
        chunk.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
        batches.extend(chunk.chunks(bs).map(|c| c.to_vec()));
    }
    rng::shuffle(&mut r, &mut batches);
    batches
}

/// Token-budget batches (fairseq's `--max-tokens`): indices are shuffled with `seed`, cut into
/// chunks of 1,000, each chunk sorted by length (longest first) and cut greedily so that a
/// batch's padded size — its sentence count times its longest length — stays within
/// `max_tokens`, with at most `max_sentences` sentences; the batches are then shuffled. A sentence
/// longer than the budget gets a batch of its own. Every index appears exactly once. The
/// shuffles of `(seed, epoch)` draw from its own stream, as [`random_batches`]'s.
pub fn token_batches(
    lengths: &[usize],
    max_tokens: usize,
    max_sentences: usize,
    seed: u64,
    epoch: usize,
) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..lengths.len()).collect();
    let mut r = rng::epoch_stream(seed, epoch);
    rng::shuffle(&mut r, &mut idx);
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for chunk in idx.chunks_mut(1000) {
        chunk.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
        let mut current: Vec<usize> = Vec::new();
        let mut longest = 0;
        for &i in chunk.iter() {
            let l = lengths[i].max(1);
            let wider = longest.max(l);
            let fits =
                (current.len() + 1) * wider <= max_tokens && current.len() < max_sentences.max(1);
            if !current.is_empty() && !fits {
                batches.push(std::mem::take(&mut current));
                longest = 0;
            }
            longest = longest.max(l);
            current.push(i);
        }
        if !current.is_empty() {
            batches.push(current);
        }
    }
    rng::shuffle(&mut r, &mut batches);
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_batches_keep_the_remainder_and_change_each_epoch() {
        let a = random_batches(10, 4, 1, 0);
        let sizes: Vec<usize> = a.iter().map(Vec::len).collect();
        assert_eq!(sizes, [4, 4, 2]);
        let mut all: Vec<usize> = a.concat();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(a, random_batches(10, 4, 1, 0));
        // The next epoch groups other examples together, not just reorders.
        let first = |b: &[Vec<usize>]| {
            b[0].iter()
                .copied()
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_ne!(first(&a), first(&random_batches(10, 4, 1, 1)));
        // No epoch of one seed is an epoch of another (seed + epoch made seed 1's first epoch
        // seed 0's second, so runs "of three seeds" shared most of their batches).
        let n = 1000;
        let epochs: Vec<Vec<Vec<usize>>> = (0..4u64)
            .flat_map(|seed| (0..3).map(move |epoch| random_batches(n, 32, seed, epoch)))
            .collect();
        for (i, x) in epochs.iter().enumerate() {
            for y in &epochs[i + 1..] {
                assert_ne!(x[0], y[0]);
            }
        }
    }

    #[test]
    fn batch_orders_are_checked_against_the_training_set() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("order.json");
        std::fs::write(&path, r#"{"epochs": [[[2, 0], [1]], [[0, 1, 2]]]}"#).unwrap();
        assert_eq!(
            read_batch_order(&path, 3).unwrap(),
            vec![vec![vec![2, 0], vec![1]], vec![vec![0, 1, 2]]]
        );
        let e = read_batch_order(&path, 2).unwrap_err().to_string();
        assert!(e.contains("order.json") && e.contains("index 2"), "{e}");
        std::fs::write(&path, r#"{"epochs": [[[]]]}"#).unwrap();
        assert!(read_batch_order(&path, 3)
            .unwrap_err()
            .to_string()
            .contains("empty batch"));
        std::fs::write(&path, "[1, 2]").unwrap();
        assert!(read_batch_order(&path, 3)
            .unwrap_err()
            .to_string()
            .contains("not a batch order"));
    }

    #[test]
    fn buckets_cover_every_index_once_and_are_seeded() {
        let lengths: Vec<usize> = (0..1037).map(|i| (i * 7919) % 113).collect();
        let b = bucketed_batches(&lengths, 8, 3, 0, true);
        let mut all: Vec<usize> = b.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, (0..1037).collect::<Vec<_>>());
        assert_eq!(b.iter().filter(|x| x.len() != 8).count(), 1);
        assert_eq!(b, bucketed_batches(&lengths, 8, 3, 0, true));
        assert_ne!(b, bucketed_batches(&lengths, 8, 4, 0, true));
        assert_ne!(b, bucketed_batches(&lengths, 8, 3, 1, true));
        // Within a batch lengths are sorted (longest first).
        assert!(b
            .iter()
            .all(|x| x.windows(2).all(|w| lengths[w[0]] >= lengths[w[1]])));
        let e = bucketed_batches(&lengths, 100, 0, 0, false);
        assert_eq!(e.len(), 11);
        assert_eq!(lengths[e[0][0]], 112);
        assert!(bucketed_batches(&[], 4, 0, 0, true).is_empty());
    }

    #[test]
    fn token_batches_keep_the_budget() {
        let lengths: Vec<usize> = (0..2500).map(|i| 1 + (i * 7919) % 97).collect();
        let b = token_batches(&lengths, 512, 16, 5, 0);
        let mut all: Vec<usize> = b.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, (0..2500).collect::<Vec<_>>());
        for x in &b {
            let longest = x.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(x.len() * longest <= 512 && x.len() <= 16, "{x:?}");
        }
        assert_eq!(b, token_batches(&lengths, 512, 16, 5, 0));
        assert_ne!(b, token_batches(&lengths, 512, 16, 6, 0));
        // A sentence over the budget is a batch of its own.
        assert_eq!(token_batches(&[700, 3], 512, 16, 0, 0).len(), 2);
    }

    #[test]
    fn targets_shift_right_like_hf() {
        let a: &[u32] = &[0, 5, 6, 2];
        let b: &[u32] = &[0, 7, 2];
        let t = targets_from_ids([a, b].into_iter(), 2, 1);
        assert_eq!(t.seq_len, 4);
        assert_eq!(t.labels, vec![0, 5, 6, 2, 0, 7, 2, -100]);
        assert_eq!(t.decoder_input_ids, vec![2, 0, 5, 6, 2, 0, 7, 2]);
        assert_eq!(t.decoder_attention_mask, vec![1, 1, 1, 1, 1, 1, 1, 0]);
    }
}
