//! `peftgrid methods` (the presets and their place in the design space) and `peftgrid params`
//! (a method's exact parameter accounting on a backbone, from its config.json alone).

use std::path::PathBuf;

use anyhow::Context;
use peftgrid_model::config::ModelConfig;
use peftgrid_zoo::presets::PRESETS;
use peftgrid_zoo::{count, match_budget, Count, MethodSpec, Target};

#[derive(Debug, clap::Args)]
pub struct MethodsArgs {
    /// Print each preset's full spec as JSON (what a config file would hold).
    #[arg(long)]
    pub json: bool,
}

pub fn methods(args: &MethodsArgs) -> anyhow::Result<()> {
    if args.json {
        let all: Vec<_> = PRESETS.iter().map(|p| (p.build)()).collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    for p in PRESETS {
        let spec = (p.build)();
        println!("{:<22} {}", p.name, p.about);
        for m in &spec.modifications {
            println!("{:<22}   + {m}", "");
        }
        if !spec.unfreeze.is_empty() {
            let groups: Vec<String> = spec.unfreeze.iter().map(|g| g.to_string()).collect();
            println!("{:<22}   unfreezes {}", "", groups.join(", "));
        }
        if !spec.train_head {
            println!("{:<22}   task head frozen", "");
        }
    }
    println!(
        "\nA method is NAME, NAME:B1,B2 (budget knobs in order), or a .json/.toml spec file \
         (`peftgrid methods --json` prints every preset as one)."
    );
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct ParamsArgs {
    /// A Hugging Face model folder (only its config.json is read) or a config.json file.
    #[arg(long)]
    pub model: PathBuf,
    /// NAME, NAME:B1,B2 or a .json/.toml spec file.
    #[arg(long)]
    pub method: String,
    /// Choose a budget knob to come closest to this target: a count (`294912`) or a percentage
    /// of the pretrained model (`0.5%`).
    #[arg(long)]
    pub target: Option<String>,
    /// Which budget knob --target sets (0 = the first modification that has one).
    #[arg(long, default_value_t = 0)]
    pub knob: usize,
    /// Print the accounting as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn params(args: &ParamsArgs) -> anyhow::Result<()> {
    let config = ModelConfig::from_path(&args.model)?;
    let shape = config.shape();
    let method = MethodSpec::from_arg(&args.method)?;
    let (method, count) = match &args.target {
        None => {
            let c = count(&method, &shape)?;
            (method, c)
        }
        Some(t) => match_budget(&method, &shape, parse_target(t)?, args.knob)?,
    };
    if args.json {
        let out = serde_json::json!({ "method": method, "count": count });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{} on {} ({})",
        method.name,
        config.model_type,
        args.model.display()
    );
    for m in &method.modifications {
        println!("  + {m}");
    }
    print_count(&count);
    Ok(())
}

fn parse_target(text: &str) -> anyhow::Result<Target> {
    let t = text.trim();
    if let Some(p) = t.strip_suffix('%') {
        let p: f64 = p
            .trim()
            .parse()
            .with_context(|| format!("--target `{text}`: not a percentage"))?;
        anyhow::ensure!(p > 0.0, "--target `{text}`: must be positive");
        Ok(Target::Percent(p))
    } else {
        let n: usize = t.replace('_', "").parse().with_context(|| {
            format!("--target `{text}`: neither a count nor a percentage like 0.5%")
        })?;
        Ok(Target::Params(n))
    }
}

fn print_count(c: &Count) {
    println!(
        "  {:<40} {:>6} {:>10} {:>10} {:>12}",
        "what", "sites", "per site", "shared", "total"
    );
    for r in &c.rows {
        println!(
            "  {:<40} {:>6} {:>10} {:>10} {:>12}",
            r.what, r.sites, r.per_site, r.shared, r.total
        );
    }
    println!(
        "  trainable (without head)  {:>12}  {:.4}% of {}",
        c.trainable, c.percent, c.pretrained
    );
    println!("  task head                 {:>12}", c.head);
    println!("  trainable (with head)     {:>12}", c.with_head);
    if c.deployed != c.trainable {
        println!(
            "  deployed (merged)         {:>12}  {:.4}%",
            c.deployed, c.deployed_percent
        );
    }
    if c.stored != c.deployed {
        println!(
            "  stored (frozen included)  {:>12}  ({} bytes in fp32)",
            c.stored,
            c.stored * 4
        );
    }
}
