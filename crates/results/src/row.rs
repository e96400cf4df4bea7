//! One result row: a run of a sweep evaluated on one split.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Trained and evaluated.
    Ok,
    /// The loss became NaN or infinite; the sweep went on.
    Diverged,
    /// An error ended the run (out of memory, missing data, ...); `note` says which.
    Failed,
}

impl Status {
    /// `"ok"`, `"diverged"` or `"failed"`, as stored in Parquet and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Diverged => "diverged",
            Status::Failed => "failed",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ok" => Ok(Status::Ok),
            "diverged" => Ok(Status::Diverged),
            "failed" => Ok(Status::Failed),
            other => Err(format!(
                "unknown status `{other}`; expected ok, diverged or failed"
            )),
        }
    }
}

/// The result of one run of a sweep on one evaluated split: what was run (enough to rerun it),
/// the design point it is, what it scored and what it cost.
///
/// In Parquet every field is one column of the same name, except `metrics`, whose entries become
/// Float64 columns `metric.<name>` (null where a row lacks that metric).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// Stable hash of the resolved run config (computed by the runner). With `split` it is the
    /// row's identity: a store holds at most one row per (run_id, split).
    pub run_id: String,
    /// The sweep the run belongs to, e.g. `glue` (the store file is `results/<sweep>.parquet`).
    pub sweep: String,
    /// The resolved run config as JSON: everything needed to rerun it.
    pub config_json: String,
    /// Method name: a preset (`lora`, `mam_glue`) or the `name` of a spec file.
    pub method: String,
    /// Functional forms, `+`-joined per modification, e.g. `prefix+bottleneck`; empty for
    /// methods without modifications (`full`, `bitfit`).
    pub forms: String,
    /// Positions per modification, `+`-joined, e.g. `head+ffn`.
    pub positions: String,
    /// Insertions per modification, e.g. `parallel+parallel`.
    pub insertions: String,
    /// Compositions per modification, e.g. `add+scaled(s=4.0)` (`MethodSpec::dimensions`).
    pub compositions: String,
    /// Budget knobs per modification, e.g. `30+512`; empty when there are none.
    pub budgets: String,
    /// The backbone, e.g. `roberta-base`, or the model folder's name.
    pub backbone: String,
    /// The task, e.g. `glue/sst2`, `xsum`.
    pub task: String,
    /// The evaluated split, e.g. `validation`, `test`.
    pub split: String,
    /// Metric values on the papers' ×100 scale, e.g. `{"accuracy": 94.2}`.
    pub metrics: BTreeMap<String, f64>,
    /// The task's headline metric (a key of `metrics`), e.g. `mcc` for CoLA, `accuracy`.
    pub main_metric: String,
    /// Parameters that receive gradients, the task head excluded.
    pub trainable_params: u64,
    /// Parameters that receive gradients, the task head included.
    pub trainable_with_head: u64,
    /// `trainable_params` as a percentage of the backbone's parameters (He et al.'s "% params").
    pub percent_trainable: f64,
    /// The parameters left once training-time reparameterisations are merged (a prefix counts
    /// as its keys and values, its MLP dropped) as a % of the backbone: He et al.'s budget.
    /// `None` in files written before the column existed.
    pub percent_deployed: Option<f64>,
    /// The entries a deployed adapter file stores: the deployed parameters plus the frozen
    /// tensors kept beside them (VeRA's shared random bases), which can exceed the trainable
    /// count many times over. `None` in files written before the column existed.
    pub stored_params: Option<u64>,
    /// Peak accelerator (or process) memory during training, when the backend reports it.
    pub peak_memory_bytes: Option<u64>,
    /// Training throughput, when measured.
    pub train_samples_per_s: Option<f64>,
    /// Wall-clock seconds of the whole run.
    pub wall_s: f64,
    /// Size of the saved adapter file, when one was saved.
    pub adapter_bytes: Option<u64>,
    /// The run's seed.
    pub seed: u64,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Burn backend, e.g. `ndarray`, `cuda`.
    pub backend: String,
    /// Device in words, e.g. `cpu`, `NVIDIA H100`.
    pub device: String,
    /// Version of peftgrid that produced the row.
    pub peftgrid_version: String,
    /// Git commit of the checkout that produced the row (may carry a `-dirty` suffix).
    pub git_commit: String,
    /// How the run ended; reports only aggregate `ok` rows.
    pub status: Status,
    /// Free text: why a run failed, or what sample data stands in for, e.g. "sample data
    /// (MiniLM on real movie-review polarity in SST-2 format), not GLUE".
    pub note: String,
    /// The data is a stand-in, not the benchmark; reports say so in a banner.
    pub sample_data: bool,
    /// When the run finished, RFC 3339 in UTC, e.g. `2026-03-01T12:00:00Z`.
    pub finished_at: String,
}

impl ResultRow {
    /// The value of the main metric, if the row has it.
    pub fn main_value(&self) -> Option<f64> {
        self.metrics.get(&self.main_metric).copied()
    }

    /// The % of parameters tables and charts show: the deployed %, as the papers count a
    /// budget, where the row has it, else the trainable %.
    pub fn budget_percent(&self) -> f64 {
        self.percent_deployed.unwrap_or(self.percent_trainable)
    }

    /// The row's identity in a store: (run_id, split).
    pub fn key(&self) -> (&str, &str) {
        (&self.run_id, &self.split)
    }
}

/// Seconds and nanoseconds since the Unix epoch of an RFC 3339 timestamp
/// (`2026-03-01T12:00:00Z`, `2026-03-01T13:00:00.25+01:00`), or `None` if it is not one.
pub(crate) fn parse_rfc3339(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits = &s[start..i];
        let mut scaled = String::from(&digits[..digits.len().min(9)]);
        while scaled.len() < 9 {
            scaled.push('0');
        }
        nanos = scaled.parse().ok()?;
    }
    let offset = match s.get(i..)? {
        "Z" | "z" => 0,
        rest if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let h = num(i + 1..i + 3)?;
            let m = num(i + 4..i + 6)?;
            if &rest[3..4] != ":" {
                return None;
            }
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some((secs, nanos))
}

/// Orders two `finished_at` values: by instant when both parse as RFC 3339, else as strings.
pub(crate) fn cmp_finished(a: &str, b: &str) -> std::cmp::Ordering {
    match (parse_rfc3339(a), parse_rfc3339(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Greater,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_instants() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            parse_rfc3339("2000-03-01T00:00:00Z"),
            Some((951_868_800, 0))
        );
        assert_eq!(
            parse_rfc3339("1970-01-01T01:00:00.5+01:00"),
            Some((0, 500_000_000))
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        // A fraction sorts after the whole second, which plain string order gets wrong.
        assert_eq!(
            cmp_finished("2026-01-01T00:00:00.5Z", "2026-01-01T00:00:00Z"),
            std::cmp::Ordering::Greater
        );
    }

    #[test]
    fn status_strings() {
        for s in [Status::Ok, Status::Diverged, Status::Failed] {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert!("OK".parse::<Status>().is_err());
    }
}
