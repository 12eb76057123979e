"""Run the README's pandas recipes as written and check what they give.

usage: recipes.py README WORKDIR TRAFFICCTL

Each recipe is the indented code after a line <!-- recipe: pandas-NAME ... -->
in the README: lines that start with "trafficctl " are run as commands
(with the binary given), the rest as Python, in WORKDIR, where
scripts/recipes.sh has left the exports the recipes read. A recipe that
fails or gives the wrong thing is reported; the last line counts them.
"""
import datetime
import os
import re
import shlex
import subprocess
import sys
import traceback

import pandas as pd

MARKER = re.compile(r"^<!-- recipe: (\S+)")
TIMES = ["created", "updated", "starts_at", "ends_at", "first_seen_at", "last_seen_at", "closed_at"]


def recipes(readme):
    """The README's recipes: name -> their lines, unindented."""
    out, lines = {}, open(readme, encoding="utf-8").read().split("\n")
    for i, line in enumerate(lines):
        m = MARKER.match(line)
        if not m:
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        block = []
        while j < len(lines) and (lines[j].startswith("    ") or not lines[j].strip()):
            block.append(lines[j][4:])
            j += 1
        while block and not block[-1].strip():
            block.pop()
        out[m.group(1)] = block
    return out


def utc_times(df, columns):
    for c in columns:
        if str(df[c].dtype) != "datetime64[ns, UTC]":
            raise AssertionError(f"{c} is {df[c].dtype}, not datetime64[ns, UTC]")
        if df[c].notna().sum() == 0 and c not in ("starts_at", "ends_at"):
            raise AssertionError(f"{c} has no time at all")
    return f"{len(df)} rows, {len(columns)} time columns in UTC"


def events_frame(ns):
    df = ns["df"]
    if len(df) != 39:
        raise AssertionError(f"{len(df)} events, want the 39 of the 20 snapshots")
    if df.closed_at.isna().sum() != 8:
        raise AssertionError(f"{df.closed_at.isna().sum()} open events, want 8")
    if str(df.lat.dtype) != "float64":
        raise AssertionError(f"lat is {df.lat.dtype}")
    return utc_times(df, TIMES)


def counts(ns):
    df = ns["df"]
    gaps, seen = df.open_events.isna().sum(), df.open_events.notna().sum()
    if not gaps or not seen:
        raise AssertionError(f"{gaps} intervals without a run and {seen} with: want both")
    return utc_times(df, ["interval_start", "interval_end"]) + f", {gaps} without a run"


def counts_tz(ns):
    df = ns["df"]
    days = set(df[df.runs > 0].day)
    want = {datetime.date(2021, 4, 15), datetime.date(2021, 4, 25)}
    if days != want:
        raise AssertionError(f"days with runs {sorted(days)}, want {sorted(want)}")
    if df.interval_start.iloc[0] != pd.Timestamp("2021-04-15T07:00:00Z"):
        raise AssertionError(f"the first day starts at {df.interval_start.iloc[0]}, not local midnight")
    return utc_times(df, ["interval_start", "interval_end"]) + ", local days"


def lifetimes(ns):
    df = ns["df"]
    if len(df) != 39 or df.closed_at.isna().sum() != 8:
        raise AssertionError(f"{len(df)} lifetimes, {df.closed_at.isna().sum()} open")
    return utc_times(df, ["first_seen_at", "last_seen_at", "closed_at"])


def open_construction(ns):
    df = ns["df"]
    if len(df) == 0 or set(df.event_type) != {"CONSTRUCTION"} or df.closed_at.notna().any():
        raise AssertionError(f"{len(df)} rows of {set(df.event_type)}")
    return utc_times(df, [c for c in TIMES if c != "closed_at"])


CHECKS = {
    "pandas-csv": events_frame,
    "pandas-jsonl": events_frame,
    "pandas-lifetimes": lifetimes,
    "pandas-counts": counts,
    "pandas-counts-tz": counts_tz,
    "pandas-sqlite": open_construction,
    "pandas-postgres": open_construction,
}


def main():
    readme, work, binary = sys.argv[1:4]
    found = {k: v for k, v in recipes(readme).items() if k.startswith("pandas-")}
    os.chdir(work)
    passed = failed = 0
    for name in sorted(set(found) | set(CHECKS)):
        if name not in found or name not in CHECKS:
            print(f"recipe {name}: {'not in the README' if name not in found else 'has no check here'}")
            failed += 1
            continue
        if name == "pandas-postgres" and "DATABASE_URL" not in os.environ:
            print(f"recipe {name}: skipped (no DATABASE_URL)")
            continue
        code, ns = [], {}
        try:
            for line in found[name]:
                if line.startswith("trafficctl "):
                    subprocess.run([binary, *shlex.split(line)[1:]], check=True)
                else:
                    code.append(line)
            exec(compile("\n".join(code), f"README recipe {name}", "exec"), ns)
            print(f"recipe {name}: ok, {CHECKS[name](ns)}")
            passed += 1
        except Exception:
            print(f"recipe {name}: FAILED")
            traceback.print_exc(limit=2)
            failed += 1
    print(f"pandas {pd.__version__}: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
