//! `tokenizer.json` files for the fixture models, whose real tokenizers are not in the fixtures.

use std::path::Path;

/// A word-level tokenizer.json over the fixtures' 512 ids ("w17" is id 17) with the model's
/// special tokens and its real tokenizer's layout (`template`, e.g. `<s> $A </s>` for BART).
pub fn word_level_tokenizer(
    dir: &Path,
    special: &[(&str, usize)],
    template: &[&str],
) -> std::path::PathBuf {
    let mut vocab = serde_json::Map::new();
    for i in 0..512usize {
        let name = special
            .iter()
            .find(|(_, id)| *id == i)
            .map(|(t, _)| t.to_string());
        vocab.insert(name.unwrap_or(format!("w{i}")), i.into());
    }
    let added: Vec<_> = special
        .iter()
        .map(|(t, i)| {
            serde_json::json!({"id": i, "content": t, "single_word": false,
            "lstrip": false, "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    let single: Vec<_> = template
        .iter()
        .map(|t| match *t {
            "$A" => serde_json::json!({"Sequence": {"id": "A", "type_id": 0}}),
            s => serde_json::json!({"SpecialToken": {"id": s, "type_id": 0}}),
        })
        .collect();
    let tokens: serde_json::Map<_, _> = special
        .iter()
        .map(|(t, i)| {
            (
                t.to_string(),
                serde_json::json!({"id": t, "ids": [i], "tokens": [t]}),
            )
        })
        .collect();
    let json = serde_json::json!({"version": "1.0", "truncation": null, "padding": null,
        "added_tokens": added, "normalizer": null, "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": {"type": "TemplateProcessing", "single": single, "pair": single,
            "special_tokens": tokens},
        "decoder": null, "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"}});
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, json.to_string()).unwrap();
    path
}
