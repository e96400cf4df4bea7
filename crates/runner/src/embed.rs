//! `peftgrid embed`: sentence embeddings as sentence-transformers computes them for
//! all-MiniLM-L6-v2 and friends: tokenise, encode, mean-pool under the mask, L2-normalise.

use std::path::PathBuf;

use anyhow::Context;
use burn::tensor::backend::Backend;
use burn::tensor::Device;
use peftgrid_model::{mean_pool_normalized, Inputs, TextTokenizer};

use crate::backend::BackendJob;

#[derive(Debug, clap::Args)]
pub struct EmbedArgs {
    /// Hugging Face model folder with config.json, model.safetensors and tokenizer.json.
    #[arg(long)]
    pub model: PathBuf,
    /// Longest input in tokens; default: `max_seq_length` of sentence_bert_config.json if the
    /// folder has one, else no truncation beyond the tokenizer's own.
    #[arg(long)]
    pub max_len: Option<usize>,
    /// Print every dimension of every embedding instead of the first eight.
    #[arg(long)]
    pub full: bool,
    /// The sentences to embed.
    #[arg(required = true)]
    pub texts: Vec<String>,
}

/// Embeddings (row per text, unit length) and their pairwise cosine similarities.
#[derive(Debug, Clone)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    pub cosine: Vec<Vec<f32>>,
}

pub struct Embed(pub EmbedArgs);

impl BackendJob for Embed {
    type Output = Embeddings;

    fn run<B: Backend>(self, device: Device<B>) -> anyhow::Result<Embeddings> {
        let args = self.0;
        let mut tokenizer = TextTokenizer::from_path(&args.model)?;
        if let Some(max_len) = args
            .max_len
            .or_else(|| sentence_transformers_max_len(&args.model))
        {
            tokenizer = tokenizer.with_max_len(max_len)?;
        }
        let loaded = peftgrid_model::load::<B>(&args.model, &device)?;
        let texts: Vec<&str> = args.texts.iter().map(String::as_str).collect();
        let encoded = tokenizer.encode(&texts)?;
        let [ids, mask, types] = encoded.tensors::<B>(&device);
        let out = loaded.model.forward(Inputs {
            input_ids: Some(ids),
            attention_mask: Some(mask),
            token_type_ids: Some(types),
            pixel_values: None,
            decoder_input_ids: None,
        })?;
        let mask = out.attention_mask.context("embed needs a text encoder")?;
        let pooled = mean_pool_normalized(out.last_hidden_state, mask);
        let cosine = pooled.clone().matmul(pooled.clone().transpose());
        let n = texts.len();
        let rows =
            |data: burn::tensor::TensorData, width: usize| -> anyhow::Result<Vec<Vec<f32>>> {
                let v: Vec<f32> = data
                    .convert::<f32>()
                    .into_vec()
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                Ok(v.chunks(width).map(<[f32]>::to_vec).collect())
            };
        let d = pooled.dims()[1];
        Ok(Embeddings {
            vectors: rows(pooled.into_data(), d)?,
            cosine: rows(cosine.into_data(), n)?,
        })
    }
}

impl Embeddings {
    pub fn print(&self, texts: &[String], full: bool) {
        for (i, (text, v)) in texts.iter().zip(&self.vectors).enumerate() {
            let shown = if full { v.len() } else { v.len().min(8) };
            let values: Vec<String> = v[..shown].iter().map(|x| format!("{x:+.4}")).collect();
            let more = if shown < v.len() { ", …" } else { "" };
            println!(
                "[{i}] {text:?}\n    dim {}: [{}{more}]",
                v.len(),
                values.join(", ")
            );
        }
        println!("\ncosine similarity");
        for (i, row) in self.cosine.iter().enumerate() {
            let cells: Vec<String> = row.iter().map(|c| format!("{c:7.4}")).collect();
            println!("[{i}] {}", cells.join(" "));
        }
    }
}

fn sentence_transformers_max_len(dir: &std::path::Path) -> Option<usize> {
    let text = std::fs::read_to_string(dir.join("sentence_bert_config.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value.get("max_seq_length")?.as_u64().map(|n| n as usize)
}
