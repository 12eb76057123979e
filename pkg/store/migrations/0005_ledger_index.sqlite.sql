-- 0005_ledger_index: status and the runs, counts and lifetimes exports read
-- what they need of a ledger of millions of runs without reading it all.
-- A summary kept by a trigger in each run's own transaction (a run that
-- rolls back takes its part of the summary with it), filled here from the
-- ledger as it is.

-- Runs by start time: the failures of the last day, export --since.
CREATE INDEX fetch_runs_started_at ON fetch_runs (started_at);

-- Each feed's ledger in a row: its runs, failed runs, successful runs and
-- the latest successful run.
CREATE TABLE ledger_feeds (
	feed TEXT PRIMARY KEY,
	runs BIGINT NOT NULL DEFAULT 0,
	failed_runs BIGINT NOT NULL DEFAULT 0,
	successful_runs BIGINT NOT NULL DEFAULT 0,
	last_success_id BIGINT REFERENCES fetch_runs (id)
);

-- Each successful run: its number among its feed's successful runs (1 for
-- the first), and the seconds since the start of the one before (NULL for
-- the first). Gaps are the long intervals; a spell's runs are a difference
-- of numbers.
CREATE TABLE ledger_successes (
	run_id BIGINT PRIMARY KEY REFERENCES fetch_runs (id),
	feed TEXT NOT NULL,
	seq BIGINT NOT NULL,
	started_at DATETIME NOT NULL,
	seconds BIGINT
);

-- How many intervals between successive successful runs of each length,
-- per feed: their median without reading them one by one.
CREATE TABLE ledger_intervals (
	feed TEXT NOT NULL,
	seconds BIGINT NOT NULL,
	runs BIGINT NOT NULL,
	PRIMARY KEY (feed, seconds)
);

INSERT INTO ledger_feeds (feed, runs, failed_runs, successful_runs, last_success_id)
SELECT feed, COUNT(*), SUM(status = 'failed'), SUM(status = 'succeeded'), MAX(CASE WHEN status = 'succeeded' THEN id END)
FROM fetch_runs GROUP BY feed;

INSERT INTO ledger_successes (run_id, feed, seq, started_at, seconds)
SELECT id, feed, ROW_NUMBER() OVER w, started_at, unixepoch(started_at) - unixepoch(LAG(started_at) OVER w)
FROM fetch_runs WHERE status = 'succeeded'
WINDOW w AS (PARTITION BY feed ORDER BY id);

INSERT INTO ledger_intervals (feed, seconds, runs)
SELECT feed, seconds, COUNT(*) FROM ledger_successes WHERE seconds IS NOT NULL GROUP BY feed, seconds;

-- The indexes are built once the rows are in: faster than keeping them
-- row by row.
CREATE UNIQUE INDEX ledger_successes_seq ON ledger_successes (feed, seq);
CREATE INDEX ledger_successes_seconds ON ledger_successes (feed, seconds);

-- A run's ledger row is written once with its final status (a successful
-- run's in its own transaction, a failed run's after that was rolled back).
CREATE TRIGGER fetch_runs_ledger AFTER INSERT ON fetch_runs
BEGIN
	INSERT INTO ledger_feeds (feed) VALUES (NEW.feed) ON CONFLICT (feed) DO NOTHING;
	INSERT INTO ledger_successes (run_id, feed, seq, started_at, seconds)
	SELECT NEW.id, NEW.feed, f.successful_runs + 1, NEW.started_at, unixepoch(NEW.started_at) - unixepoch(p.started_at)
	FROM ledger_feeds f LEFT JOIN ledger_successes p ON p.run_id = f.last_success_id
	WHERE f.feed = NEW.feed AND NEW.status = 'succeeded';
	INSERT INTO ledger_intervals (feed, seconds, runs)
	SELECT feed, seconds, 1 FROM ledger_successes WHERE run_id = NEW.id AND seconds IS NOT NULL
	ON CONFLICT (feed, seconds) DO UPDATE SET runs = runs + 1;
	UPDATE ledger_feeds SET
		runs = runs + 1,
		failed_runs = failed_runs + (NEW.status = 'failed'),
		successful_runs = successful_runs + (NEW.status = 'succeeded'),
		last_success_id = CASE WHEN NEW.status = 'succeeded' THEN NEW.id ELSE last_success_id END
	WHERE feed = NEW.feed;
END;
