//! The fuzz harness shared by the data, model and runner fuzz modules: a proptest runner with a fixed seed and no
//! persisted failures, mutations of real seed inputs (bytes, and JSON/TOML value trees), and a
//! tally per parser.
//!
//! Every case runs inside `catch_unwind`: a panic fails the property with the case's input
//! (shrunk by proptest), as does an error that does not name the file it is about, a case that
//! takes longer than [`SLOW_CASE`] (a hang in the making) and, where [`PeakAlloc`] is the
//! binary's allocator, a single allocation over [`ALLOCATION_LIMIT`] (a declared size trusted
//! before the data was checked).
//!
//! Over 800 lines on purpose: one harness (runner, mutators, tally) that three crates' fuzz
//! modules share, so every crate fuzzes with the same machinery; split, its mutators and runner
//! would be read together anyway.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::{Debug, Display};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// The seed of every fuzz run: a failure reproduces on every machine and every run.
pub const SEED: [u8; 32] = *b"peftgrid issue 19: fuzz seed 001";

/// A parser that needs this long for one small input is looping (debug build, 2 busy cores:
/// the slowest honest case is well under a second).
pub const SLOW_CASE: Duration = Duration::from_secs(10);

/// No input here is over a few hundred KiB, so a single allocation of 1 GiB can only come from
/// a size declared in the input and trusted.
pub const ALLOCATION_LIMIT: usize = 1 << 30;

/// How a case ended: the parser's value or its error message (`{:#}`, so anyhow chains show
/// every context); `Unnamed` is an error about a file that does not say which.
pub enum Outcome {
    Ok,
    Err(String),
    Unnamed { message: String, files: Vec<String> },
}

impl Outcome {
    /// Any error will do (settings that are not a file, e.g. resolved generation settings).
    pub fn of<T, E: Display>(result: Result<T, E>) -> Self {
        match result {
            Ok(_) => Outcome::Ok,
            Err(e) => Outcome::Err(format!("{e:#}")),
        }
    }

    /// An error must name `file`.
    pub fn naming<T, E: Display>(result: Result<T, E>, file: &Path) -> Self {
        Self::naming_one_of(result, &[file])
    }

    /// An error must name one of `files` (a loader that reads several files together).
    pub fn naming_one_of<T, E: Display>(result: Result<T, E>, files: &[&Path]) -> Self {
        match Self::of(result) {
            Outcome::Err(message)
                if !files
                    .iter()
                    .any(|f| message.contains(&f.display().to_string())) =>
            {
                Outcome::Unnamed {
                    message,
                    files: files.iter().map(|f| f.display().to_string()).collect(),
                }
            }
            other => other,
        }
    }

    /// Runs `next` on the parser's value; the parser's error ends the case.
    pub fn then<T, E: Display>(result: Result<T, E>, next: impl FnOnce(T) -> Outcome) -> Self {
        match result {
            Ok(value) => next(value),
            Err(e) => Outcome::Err(format!("{e:#}")),
        }
    }

    /// This outcome, its error required to name `file` (a parser and what reads its value).
    pub fn named(self, file: &Path) -> Self {
        self.named_one_of(&[file])
    }

    /// This outcome, its error required to name one of `files`.
    pub fn named_one_of(self, files: &[&Path]) -> Self {
        match self {
            Outcome::Err(message) => Self::naming_one_of(Err::<(), _>(message), files),
            other => other,
        }
    }

    /// Goes on with `next` while the outcome is Ok (two readers of one file).
    pub fn and_then(self, next: impl FnOnce() -> Outcome) -> Outcome {
        match self {
            Outcome::Ok => next(),
            other => other,
        }
    }
}

/// Runs `cases` cases of `strategy` through `case`, prints `fuzz NAME: N cases, N Ok, N Err`
/// and fails the test on the first property violation (shrunk by proptest).
pub fn fuzz<S: Strategy>(name: &str, cases: u32, strategy: S, case: impl Fn(S::Value) -> Outcome)
where
    S::Value: Debug,
{
    let (ok, err) = (Cell::new(0u32), Cell::new(0u32));
    let slowest = Cell::new(Duration::ZERO);
    let largest = Cell::new(0usize);
    let config = Config {
        cases,
        failure_persistence: None,
        // A failing case is shrunk, but not for ever: each step re-runs a parser.
        max_shrink_iters: 512,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &SEED));
    let started = Instant::now();
    let result = runner.run(&strategy, |input| {
        set_current_case(format!("fuzz {name}: {input:?}"));
        let case_started = Instant::now();
        let (result, peak) =
            tracking_allocations(|| catch_unwind(AssertUnwindSafe(|| case(input))));
        let took = case_started.elapsed();
        slowest.set(slowest.get().max(took));
        largest.set(largest.get().max(peak));
        let outcome = result.map_err(|panic| {
            TestCaseError::fail(format!("{name}: panicked: {}", panic_message(&panic)))
        })?;
        match outcome {
            Outcome::Ok => ok.set(ok.get() + 1),
            Outcome::Err(_) => err.set(err.get() + 1),
            Outcome::Unnamed { message, files } => {
                return Err(TestCaseError::fail(format!(
                    "{name}: the error names none of {files:?}: {message}"
                )))
            }
        }
        if peak > ALLOCATION_LIMIT {
            return Err(TestCaseError::fail(format!(
                "{name}: one allocation of {peak} bytes (over {ALLOCATION_LIMIT})"
            )));
        }
        if took > SLOW_CASE {
            return Err(TestCaseError::fail(format!(
                "{name}: one case took {took:?}"
            )));
        }
        Ok(())
    });
    // Written past the test harness's capture, so that CI logs show the counts of passing runs.
    let line = format!(
        "fuzz {name}: {} cases, {} Ok, {} Err (slowest case {} ms, largest allocation {} KiB, {:.1} s)\n",
        ok.get() + err.get(),
        ok.get(),
        err.get(),
        slowest.get().as_millis(),
        largest.get() / 1024,
        started.elapsed().as_secs_f64()
    );
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
    if let Err(e) = result {
        panic!("fuzz {name}: {e}");
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a non-string panic payload)".into())
}

// ---- allocation tracking ----

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    /// The case running on this thread, for the message before an allocation failure aborts.
    static CURRENT_CASE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

fn set_current_case(description: String) {
    CURRENT_CASE.with(|c| *c.borrow_mut() = description);
}

/// The system allocator, noting the largest single request made by a thread while it runs a
/// fuzz case. Worker threads a parser hands work to (rayon) are not followed: the sizes read
/// from a file's header are allocated by the thread that reads it. The data and model fuzz
/// binaries install it; the runner's binary keeps its own allocator (mimalloc), so there the
/// largest allocation reads 0.
#[allow(dead_code)]
pub struct PeakAlloc;

fn note(size: usize) {
    let _ = TRACKING.try_with(|on| {
        if on.get() {
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(size)));
            if size > ALLOCATION_LIMIT {
                // Such a request may fail, and a failed allocation aborts the process before
                // the harness can report: say which case it was first (stderr is unbuffered,
                // and writing to it does not allocate).
                let _ = CURRENT_CASE.try_with(|case| {
                    if let Ok(case) = case.try_borrow() {
                        let _ = std::io::stderr().write_fmt(format_args!(
                            "{case}\n  asks for {size} bytes in one allocation\n"
                        ));
                    }
                });
            }
        }
    });
}

// SAFETY: every call is forwarded to `System` unchanged; `note` touches only const-initialised
// thread-locals (no allocation, no destructor).
unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` with this thread's allocations tracked; returns its value and the largest request.
pub fn tracking_allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    PEAK.with(|p| p.set(0));
    TRACKING.with(|t| t.set(true));
    let value = f();
    TRACKING.with(|t| t.set(false));
    (value, PEAK.with(|p| p.get()))
}

// ---- byte mutations ----

/// Tokens that mean something to the text formats read here (separators, quotes, numbers at
/// and past the limits of their types, encodings), inserted as well as random bytes.
const TOKENS: &[&[u8]] = &[
    b"\t",
    b"\n",
    b"\r\n",
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"=",
    b"-1",
    b"0",
    b"18446744073709551615",
    b"99999999999999999999999",
    b"1e999",
    b"-1e999",
    b"NaN",
    b"nan",
    b"inf",
    b"null",
    b"true",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\0",
    b"\xc3\x28",
    "\u{e9}\u{1f600}".as_bytes(),
];

/// One edit of a byte string. Positions are [`Index`]es, scaled to the input they land in.
#[derive(Debug, Clone)]
pub enum ByteEdit {
    FlipBit {
        at: Index,
        bit: u8,
    },
    Set {
        at: Index,
        byte: u8,
    },
    Truncate {
        at: Index,
    },
    Insert {
        at: Index,
        bytes: Vec<u8>,
    },
    Delete {
        at: Index,
        len: usize,
    },
    /// Repeats a run in place (grows a field, a row, a record).
    Repeat {
        at: Index,
        len: usize,
        times: usize,
    },
    /// Copies a run of another seed over this one.
    Splice {
        at: Index,
        donor: Index,
        from: Index,
        len: usize,
    },
}

pub fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..8),
        proptest::sample::select(TOKENS).prop_map(<[u8]>::to_vec),
    ];
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(at, bit)| ByteEdit::FlipBit { at, bit }),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| ByteEdit::Set { at, byte }),
        2 => any::<Index>().prop_map(|at| ByteEdit::Truncate { at }),
        3 => (any::<Index>(), bytes).prop_map(|(at, bytes)| ByteEdit::Insert { at, bytes }),
        2 => (any::<Index>(), 1usize..64).prop_map(|(at, len)| ByteEdit::Delete { at, len }),
        1 => (any::<Index>(), 1usize..64, 1usize..8)
            .prop_map(|(at, len, times)| ByteEdit::Repeat { at, len, times }),
        1 => (any::<Index>(), any::<Index>(), any::<Index>(), 1usize..256)
            .prop_map(|(at, donor, from, len)| ByteEdit::Splice { at, donor, from, len }),
    ]
}

/// One to four byte edits.
pub fn byte_edits() -> impl Strategy<Value = Vec<ByteEdit>> {
    proptest::collection::vec(byte_edit(), 1..=4)
}

/// A position in `0..=len` (an insertion may land at the end).
fn position(at: &Index, len: usize) -> usize {
    at.index(len + 1)
}

/// `data` with `edits` applied in order; splices copy from `donors`.
pub fn apply_bytes(data: &[u8], donors: &[&[u8]], edits: &[ByteEdit]) -> Vec<u8> {
    let mut out = data.to_vec();
    for edit in edits {
        let len = out.len();
        match edit {
            ByteEdit::FlipBit { at, bit } if len > 0 => out[at.index(len)] ^= 1 << bit,
            ByteEdit::Set { at, byte } if len > 0 => out[at.index(len)] = *byte,
            ByteEdit::Truncate { at } => out.truncate(at.index(len.max(1))),
            ByteEdit::Insert { at, bytes } => {
                let p = position(at, len);
                out.splice(p..p, bytes.iter().copied());
            }
            ByteEdit::Delete { at, len: n } => {
                let p = position(at, len);
                out.drain(p..(p + n).min(len));
            }
            ByteEdit::Repeat { at, len: n, times } => {
                let p = position(at, len);
                let run = out[p..(p + n).min(len)].to_vec();
                let copies: Vec<u8> = run
                    .iter()
                    .copied()
                    .cycle()
                    .take(run.len() * times)
                    .collect();
                out.splice(p..p, copies);
            }
            ByteEdit::Splice {
                at,
                donor,
                from,
                len: n,
            } if !donors.is_empty() => {
                let donor = donors[donor.index(donors.len())];
                let from = position(from, donor.len());
                let run = &donor[from..(from + n).min(donor.len())];
                let p = position(at, len);
                let end = (p + run.len()).min(len);
                out.splice(p..end, run.iter().copied());
            }
            _ => {}
        }
    }
    out
}

/// A case over seeds read as bytes: which seed, and its edits.
#[derive(Debug, Clone)]
pub struct BytesCase {
    pub seed: Index,
    pub edits: Vec<ByteEdit>,
    /// For text formats: whether the result is repaired to valid UTF-8 (most cases), so that
    /// the parser gets past its decoding step.
    pub valid_utf8: bool,
}

pub fn bytes_case() -> impl Strategy<Value = BytesCase> {
    (any::<Index>(), byte_edits(), proptest::bool::weighted(0.75)).prop_map(
        |(seed, edits, valid_utf8)| BytesCase {
            seed,
            edits,
            valid_utf8,
        },
    )
}

impl BytesCase {
    /// The mutated bytes of the chosen seed (the other seeds donate splices).
    pub fn apply(&self, seeds: &[Vec<u8>]) -> Vec<u8> {
        let donors: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
        apply_bytes(self.seed.get(seeds).as_slice(), &donors, &self.edits)
    }

    /// [`BytesCase::apply`] for a text format.
    pub fn apply_text(&self, seeds: &[Vec<u8>]) -> Vec<u8> {
        repaired(self.apply(seeds), self.valid_utf8)
    }

    /// The edits land before the seed's last `tail` bytes, which stay as they are (a Parquet
    /// footer, so that the mutations reach the pages it points to).
    pub fn apply_keeping_tail(&self, seeds: &[Vec<u8>], tail: impl Fn(&[u8]) -> usize) -> Vec<u8> {
        let seed = self.seed.get(seeds);
        let keep = tail(seed).min(seed.len());
        let (body, end) = seed.split_at(seed.len() - keep);
        let donors: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
        [apply_bytes(body, &donors, &self.edits), end.to_vec()].concat()
    }
}

fn repaired(bytes: Vec<u8>, valid_utf8: bool) -> Vec<u8> {
    if valid_utf8 {
        String::from_utf8_lossy(&bytes).into_owned().into_bytes()
    } else {
        bytes
    }
}

// ---- value-tree mutations (JSON, TOML) ----

/// Values that break assumptions: integers at and past their types' limits, negatives where
/// counts are expected, non-finite floats (as strings in JSON, which has none), empty and
/// very long strings and arrays, the wrong type, deep nesting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weird {
    MaxU64,
    TwoPow32,
    Billion,
    Million,
    MaxI64,
    MinI64,
    MinusOne,
    Zero,
    Half,
    HugeFloat,
    NaN,
    Infinity,
    MinusInfinity,
    EmptyString,
    LongString,
    OddString,
    EmptyArray,
    LongArray,
    EmptyObject,
    Null,
    True,
    DeepNesting,
}

const WEIRD: &[Weird] = &[
    Weird::MaxU64,
    Weird::TwoPow32,
    Weird::Billion,
    Weird::Million,
    Weird::MaxI64,
    Weird::MinI64,
    Weird::MinusOne,
    Weird::Zero,
    Weird::Half,
    Weird::HugeFloat,
    Weird::NaN,
    Weird::Infinity,
    Weird::MinusInfinity,
    Weird::EmptyString,
    Weird::LongString,
    Weird::OddString,
    Weird::EmptyArray,
    Weird::LongArray,
    Weird::EmptyObject,
    Weird::Null,
    Weird::True,
    Weird::DeepNesting,
];

/// What a number (a size, a count, an id, a rate) is replaced with: past every integer type's
/// range, large enough that allocating that many of anything fails, negative, fractional.
const WEIRD_NUMBERS: &[Weird] = &[
    Weird::MaxU64,
    Weird::TwoPow32,
    Weird::Billion,
    Weird::Million,
    Weird::MaxI64,
    Weird::MinI64,
    Weird::MinusOne,
    Weird::Zero,
    Weird::Half,
    Weird::HugeFloat,
    Weird::NaN,
    Weird::Infinity,
];

/// Long enough to be costly if copied per element, short enough for a CI case.
const LONG: usize = 100_000;
/// Deeper than serde_json's recursion limit (128).
const DEEP: usize = 200;

/// A step from a node to a child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    At(usize),
}

/// A JSON or TOML value tree, as far as the mutations need it.
pub trait Tree: Sized {
    fn steps(&self) -> Vec<Step>;
    fn is_number(&self) -> bool;
    fn child(&self, step: &Step) -> Option<&Self>;
    fn child_mut(&mut self, step: &Step) -> Option<&mut Self>;
    fn remove(&mut self, step: &Step);
    /// The weird value in this format, if it can hold it (TOML has no null).
    fn weird(w: Weird) -> Option<Self>;
}

/// An edit of a value tree: nodes are numbered in pre-order.
#[derive(Debug, Clone)]
pub enum TreeEdit {
    Replace {
        node: Index,
        with: Weird,
    },
    /// Replaces a number of the seed (the sizes and counts that parsers trust).
    Number {
        node: Index,
        with: Weird,
    },
    Remove {
        node: Index,
    },
}

pub fn tree_edit() -> impl Strategy<Value = TreeEdit> {
    prop_oneof![
        3 => (any::<Index>(), proptest::sample::select(WEIRD))
            .prop_map(|(node, with)| TreeEdit::Replace { node, with }),
        3 => (any::<Index>(), proptest::sample::select(WEIRD_NUMBERS))
            .prop_map(|(node, with)| TreeEdit::Number { node, with }),
        1 => any::<Index>().prop_map(|node| TreeEdit::Remove { node }),
    ]
}

fn paths<T: Tree>(node: &T, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(prefix.clone());
    for step in node.steps() {
        let Some(child) = node.child(&step) else {
            continue;
        };
        prefix.push(step);
        paths(child, prefix, out);
        prefix.pop();
    }
}

fn node_ref<'a, T: Tree>(root: &'a T, path: &[Step]) -> Option<&'a T> {
    let mut node = root;
    for step in path {
        node = node.child(step)?;
    }
    Some(node)
}

fn node_at<'a, T: Tree>(root: &'a mut T, path: &[Step]) -> Option<&'a mut T> {
    let mut node = root;
    for step in path {
        node = node.child_mut(step)?;
    }
    Some(node)
}

/// Applies `edits` to `root`, in order.
pub fn apply_tree<T: Tree>(root: &mut T, edits: &[TreeEdit]) {
    for edit in edits {
        let mut all = Vec::new();
        paths(root, &mut Vec::new(), &mut all);
        match edit {
            TreeEdit::Replace { node, with } => {
                let path = node.get(&all).clone();
                if let (Some(target), Some(value)) = (node_at(root, &path), T::weird(*with)) {
                    *target = value;
                }
            }
            TreeEdit::Number { node, with } => {
                let numbers: Vec<&Vec<Step>> = all
                    .iter()
                    .filter(|p| node_ref(root, p).is_some_and(T::is_number))
                    .collect();
                if numbers.is_empty() {
                    continue;
                }
                let path = (*node.get(&numbers)).clone();
                if let (Some(target), Some(value)) = (node_at(root, &path), T::weird(*with)) {
                    *target = value;
                }
            }
            TreeEdit::Remove { node } => {
                let children: Vec<&Vec<Step>> = all.iter().filter(|p| !p.is_empty()).collect();
                if children.is_empty() {
                    continue;
                }
                let path = (*node.get(&children)).clone();
                let (last, parent) = path.split_last().expect("a non-root path");
                if let Some(parent) = node_at(root, parent) {
                    parent.remove(last);
                }
            }
        }
    }
}

impl Tree for serde_json::Value {
    fn steps(&self) -> Vec<Step> {
        match self {
            serde_json::Value::Object(m) => m.keys().cloned().map(Step::Key).collect(),
            serde_json::Value::Array(a) => (0..a.len()).map(Step::At).collect(),
            _ => Vec::new(),
        }
    }
    fn is_number(&self) -> bool {
        serde_json::Value::is_number(self)
    }
    fn child(&self, step: &Step) -> Option<&Self> {
        match (self, step) {
            (serde_json::Value::Object(m), Step::Key(k)) => m.get(k),
            (serde_json::Value::Array(a), Step::At(i)) => a.get(*i),
            _ => None,
        }
    }
    fn child_mut(&mut self, step: &Step) -> Option<&mut Self> {
        match (self, step) {
            (serde_json::Value::Object(m), Step::Key(k)) => m.get_mut(k),
            (serde_json::Value::Array(a), Step::At(i)) => a.get_mut(*i),
            _ => None,
        }
    }
    fn remove(&mut self, step: &Step) {
        match (self, step) {
            (serde_json::Value::Object(m), Step::Key(k)) => {
                m.remove(k);
            }
            (serde_json::Value::Array(a), Step::At(i)) if *i < a.len() => {
                a.remove(*i);
            }
            _ => {}
        }
    }
    fn weird(w: Weird) -> Option<Self> {
        use serde_json::{json, Value};
        Some(match w {
            Weird::MaxU64 => json!(u64::MAX),
            Weird::TwoPow32 => json!(1u64 << 32),
            Weird::Billion => json!(1_000_000_000),
            Weird::Million => json!(1_000_000),
            Weird::MaxI64 => json!(i64::MAX),
            Weird::MinI64 => json!(i64::MIN),
            Weird::MinusOne => json!(-1),
            Weird::Zero => json!(0),
            Weird::Half => json!(0.5),
            Weird::HugeFloat => json!(1e308),
            Weird::NaN => json!("NaN"),
            Weird::Infinity => json!("Infinity"),
            Weird::MinusInfinity => json!("-inf"),
            Weird::EmptyString => json!(""),
            Weird::LongString => Value::String("x".repeat(LONG)),
            Weird::OddString => json!("../\u{0}\t\n\"\u{e9}\u{1f600}"),
            Weird::EmptyArray => json!([]),
            Weird::LongArray => Value::Array(vec![json!(0); LONG / 10]),
            Weird::EmptyObject => json!({}),
            Weird::Null => Value::Null,
            Weird::True => json!(true),
            Weird::DeepNesting => (0..DEEP).fold(json!(1), |v, _| json!([v])),
        })
    }
}

impl Tree for toml::Value {
    fn steps(&self) -> Vec<Step> {
        match self {
            toml::Value::Table(t) => t.keys().cloned().map(Step::Key).collect(),
            toml::Value::Array(a) => (0..a.len()).map(Step::At).collect(),
            _ => Vec::new(),
        }
    }
    fn is_number(&self) -> bool {
        matches!(self, toml::Value::Integer(_) | toml::Value::Float(_))
    }
    fn child(&self, step: &Step) -> Option<&Self> {
        match (self, step) {
            (toml::Value::Table(t), Step::Key(k)) => t.get(k),
            (toml::Value::Array(a), Step::At(i)) => a.get(*i),
            _ => None,
        }
    }
    fn child_mut(&mut self, step: &Step) -> Option<&mut Self> {
        match (self, step) {
            (toml::Value::Table(t), Step::Key(k)) => t.get_mut(k),
            (toml::Value::Array(a), Step::At(i)) => a.get_mut(*i),
            _ => None,
        }
    }
    fn remove(&mut self, step: &Step) {
        match (self, step) {
            (toml::Value::Table(t), Step::Key(k)) => {
                t.remove(k);
            }
            (toml::Value::Array(a), Step::At(i)) if *i < a.len() => {
                a.remove(*i);
            }
            _ => {}
        }
    }
    fn weird(w: Weird) -> Option<Self> {
        use toml::Value;
        Some(match w {
            // TOML integers are i64.
            Weird::MaxU64 | Weird::MaxI64 => Value::Integer(i64::MAX),
            Weird::TwoPow32 => Value::Integer(1 << 32),
            Weird::Billion => Value::Integer(1_000_000_000),
            Weird::Million => Value::Integer(1_000_000),
            Weird::MinI64 => Value::Integer(i64::MIN),
            Weird::MinusOne => Value::Integer(-1),
            Weird::Zero => Value::Integer(0),
            Weird::Half => Value::Float(0.5),
            Weird::HugeFloat => Value::Float(1e308),
            Weird::NaN => Value::Float(f64::NAN),
            Weird::Infinity => Value::Float(f64::INFINITY),
            Weird::MinusInfinity => Value::Float(f64::NEG_INFINITY),
            Weird::EmptyString => Value::String(String::new()),
            Weird::LongString => Value::String("x".repeat(LONG)),
            Weird::OddString => Value::String("../\u{0}\t\n\"\u{e9}\u{1f600}".into()),
            Weird::EmptyArray => Value::Array(Vec::new()),
            Weird::LongArray => Value::Array(vec![Value::Integer(0); LONG / 10]),
            Weird::EmptyObject => Value::Table(toml::Table::new()),
            Weird::Null => return None,
            Weird::True => Value::Boolean(true),
            Weird::DeepNesting => (0..DEEP).fold(Value::Integer(1), |v, _| Value::Array(vec![v])),
        })
    }
}

/// A case over text seeds: tree edits, byte edits, or both.
#[derive(Debug, Clone)]
pub struct TextCase {
    pub seed: Index,
    pub tree: Vec<TreeEdit>,
    pub bytes: Vec<ByteEdit>,
    /// As in [`BytesCase`].
    pub valid_utf8: bool,
}

pub fn text_case() -> impl Strategy<Value = TextCase> {
    let trees = || proptest::collection::vec(tree_edit(), 1..=3);
    let edits = prop_oneof![
        2 => trees().prop_map(|tree| (tree, vec![])),
        2 => byte_edits().prop_map(|bytes| (vec![], bytes)),
        1 => (trees(), byte_edits()),
    ];
    (any::<Index>(), edits, proptest::bool::weighted(0.75)).prop_map(
        |(seed, (tree, bytes), valid_utf8)| TextCase {
            seed,
            tree,
            bytes,
            valid_utf8,
        },
    )
}

impl TextCase {
    /// A JSON seed, tree-edited, written out, byte-edited.
    pub fn json(&self, seeds: &[String]) -> Vec<u8> {
        let seed = self.seed.get(seeds);
        let text = if self.tree.is_empty() {
            seed.clone()
        } else {
            let mut value: serde_json::Value =
                serde_json::from_str(seed).expect("a JSON seed parses");
            apply_tree(&mut value, &self.tree);
            serde_json::to_string_pretty(&value).expect("JSON values serialise")
        };
        self.bytes_of(text, seeds)
    }

    /// A TOML seed, tree-edited, written out (the seed itself where TOML cannot write the
    /// edited tree, e.g. a table in an array after values), byte-edited.
    pub fn toml(&self, seeds: &[String]) -> Vec<u8> {
        let seed = self.seed.get(seeds);
        let text = if self.tree.is_empty() {
            seed.clone()
        } else {
            let mut value = toml::Value::Table(toml::from_str(seed).expect("a TOML seed parses"));
            apply_tree(&mut value, &self.tree);
            toml::to_string(&value).unwrap_or_else(|_| seed.clone())
        };
        self.bytes_of(text, seeds)
    }

    fn bytes_of(&self, text: String, seeds: &[String]) -> Vec<u8> {
        let donors: Vec<&[u8]> = seeds.iter().map(|s| s.as_bytes()).collect();
        repaired(
            apply_bytes(text.as_bytes(), &donors, &self.bytes),
            self.valid_utf8,
        )
    }
}
