//! `peftgrid score`: one-item-per-line hypothesis and reference files scored as sacreBLEU's and
//! rouge-score's command lines do (and the GLUE metrics on label files).

use std::path::{Path, PathBuf};

use anyhow::Context;
use peftgrid_metrics::Metric;

#[derive(Debug, clap::Args)]
pub struct ScoreArgs {
    /// bleu, bleu-ro-moses, rouge1, rouge2, rougeL, rougeLsum, accuracy, f1, mcc, pearson, spearman.
    #[arg(long)]
    pub metric: String,
    /// System outputs (or predicted labels), one per line.
    #[arg(long)]
    pub hyp: PathBuf,
    /// References (or gold labels), one per line.
    #[arg(long = "ref")]
    pub reference: PathBuf,
    /// Print the score and its details as JSON.
    #[arg(long)]
    pub json: bool,
}

fn lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    // One item per line; a final newline does not start another item.
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect())
}

pub fn score(args: &ScoreArgs) -> anyhow::Result<()> {
    let metric: Metric = args
        .metric
        .parse()
        .map_err(|e| anyhow::anyhow!("--metric: {e}"))?;
    let hyps = lines(&args.hyp)?;
    let refs = lines(&args.reference)?;
    let score = peftgrid_metrics::score_lines(metric, &hyps, &refs).with_context(|| {
        format!(
            "scoring {} against {}",
            args.hyp.display(),
            args.reference.display()
        )
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&score)?);
    } else {
        println!("{score}");
    }
    Ok(())
}
