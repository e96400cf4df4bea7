//! `tokenizer.json` through the `tokenizers` crate: batches of single texts or text pairs,
//! truncated and padded to the longest, as id/mask/type-id matrices.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::error::{ModelError, Result};

pub struct TextTokenizer {
    inner: Tokenizer,
    path: PathBuf,
}

/// A tokenised batch, row-major `[batch, seq]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub batch: usize,
    pub seq: usize,
    pub input_ids: Vec<i64>,
    pub attention_mask: Vec<i64>,
    pub token_type_ids: Vec<i64>,
}

impl Encoded {
    pub fn tensors<B: Backend>(&self, device: &B::Device) -> [Tensor<B, 2, Int>; 3] {
        let t = |v: &Vec<i64>| {
            Tensor::from_data(TensorData::new(v.clone(), [self.batch, self.seq]), device)
        };
        [
            t(&self.input_ids),
            t(&self.attention_mask),
            t(&self.token_type_ids),
        ]
    }
}

impl TextTokenizer {
    /// Reads `tokenizer.json` from a model folder (or the file itself).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let mut path = path.as_ref().to_path_buf();
        if path.is_dir() {
            path = path.join("tokenizer.json");
        }
        if !path.is_file() {
            return Err(ModelError::MissingFile {
                dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
                wanted: "tokenizer.json".into(),
                hint: "It ships with the model on the Hugging Face Hub (the fast tokenizer file)."
                    .into(),
            });
        }
        // The tokenizers crate panics on some malformed files (0.23: its deserialisers of the
        // `Precompiled` normaliser and of decoders `expect` well-formed parts); the panic is
        // caught here and reported as an error naming the file.
        let read = std::panic::catch_unwind(|| Tokenizer::from_file(&path));
        let mut inner = match read {
            Ok(read) => read.map_err(|e| ModelError::Tokenizer {
                path: path.clone(),
                message: e.to_string(),
            })?,
            Err(_) => {
                return Err(ModelError::Tokenizer {
                    path,
                    message: "malformed tokenizer.json (the tokenizers crate failed on it)".into(),
                })
            }
        };
        // Pad to the longest text of each batch, whatever the file says (all-MiniLM-L6-v2's
        // tokenizer.json pads every text to 128), keeping the file's pad token.
        let padding = match inner.get_padding() {
            Some(p) => PaddingParams {
                strategy: PaddingStrategy::BatchLongest,
                ..p.clone()
            },
            None => {
                let (pad_id, pad_token) = ["[PAD]", "<pad>"]
                    .iter()
                    .find_map(|t| inner.token_to_id(t).map(|id| (id, t.to_string())))
                    .unwrap_or((0, "[PAD]".to_string()));
                PaddingParams {
                    strategy: PaddingStrategy::BatchLongest,
                    pad_id,
                    pad_token,
                    ..PaddingParams::default()
                }
            }
        };
        inner.with_padding(Some(padding));
        Ok(Self { inner, path })
    }

    /// Truncates every encoding to at most `max_len` tokens, special tokens included.
    pub fn with_max_len(mut self, max_len: usize) -> Result<Self> {
        let params = TruncationParams {
            max_length: max_len,
            ..self.inner.get_truncation().cloned().unwrap_or_default()
        };
        self.inner
            .with_truncation(Some(params))
            .map_err(|e| ModelError::Tokenizer {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        Ok(self)
    }

    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    /// Encodes single texts, with the model's special tokens, padded to the longest.
    pub fn encode(&self, texts: &[&str]) -> Result<Encoded> {
        let inputs: Vec<tokenizers::EncodeInput> = texts.iter().map(|t| (*t).into()).collect();
        self.encode_inputs(inputs)
    }

    /// Text of `ids`, special tokens (padding, EOS, language codes) left out, as
    /// `tokenizer.decode(ids, skip_special_tokens=True)`.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, true)
            .map_err(|e| ModelError::Tokenizer {
                path: self.path.clone(),
                message: e.to_string(),
            })
    }

    /// Encodes sentence pairs (`[CLS] a [SEP] b [SEP]` for BERT, with token types 0/1).
    pub fn encode_pairs(&self, pairs: &[(&str, &str)]) -> Result<Encoded> {
        let inputs: Vec<tokenizers::EncodeInput> =
            pairs.iter().map(|(a, b)| (*a, *b).into()).collect();
        self.encode_inputs(inputs)
    }

    fn encode_inputs(&self, inputs: Vec<tokenizers::EncodeInput>) -> Result<Encoded> {
        let batch = inputs.len();
        let encodings =
            self.inner
                .encode_batch(inputs, true)
                .map_err(|e| ModelError::Tokenizer {
                    path: self.path.clone(),
                    message: e.to_string(),
                })?;
        let seq = encodings.iter().map(|e| e.len()).max().unwrap_or(0);
        let mut out = Encoded {
            batch,
            seq,
            input_ids: Vec::with_capacity(batch * seq),
            attention_mask: Vec::with_capacity(batch * seq),
            token_type_ids: Vec::with_capacity(batch * seq),
        };
        for e in &encodings {
            out.input_ids.extend(e.get_ids().iter().map(|&v| v as i64));
            out.attention_mask
                .extend(e.get_attention_mask().iter().map(|&v| v as i64));
            out.token_type_ids
                .extend(e.get_type_ids().iter().map(|&v| v as i64));
        }
        Ok(out)
    }
}
