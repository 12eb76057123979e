// Run the README's DuckDB recipes as written and check what they give.
//
// usage: node recipes-duckdb.mjs README WORKDIR NODE_MODULES_PARENT
//
// Each recipe is the indented SQL after a line <!-- recipe: duckdb-NAME ... -->
// in the README, run statement by statement in WORKDIR, where
// scripts/recipes.sh has left the exports it reads; @duckdb/node-api is
// loaded from the folder given (npm installed it there).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [readme, work, modules] = process.argv.slice(2).map((p) => resolve(p));
const require = createRequire(modules.replace(/\/?$/, '/'));
const { DuckDBInstance } = await import(pathToFileURL(require.resolve('@duckdb/node-api')));

function recipes(text) {
  const out = {};
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const m = /^<!-- recipe: (\S+)/.exec(line);
    if (!m) return;
    let j = i + 1;
    while (j < lines.length && !lines[j].trim()) j++;
    const block = [];
    while (j < lines.length && (lines[j].startsWith('    ') || !lines[j].trim())) block.push(lines[j++].slice(4));
    out[m[1]] = block.join('\n').trim();
  });
  return out;
}

const check = (ok, what) => { if (!ok) throw new Error(what); };
const checks = {
  // [statement results] -> a line saying what was checked
  'duckdb-jsonl': async ([r]) => {
    const types = Object.fromEntries(r.columnNames().map((n, i) => [n, r.columnType(i).toString()]));
    check(r.getRows().length === 39, `${r.getRows().length} events, want 39`);
    check(types.created === 'TIMESTAMP' && types.closed_at === 'TIMESTAMP', `types ${JSON.stringify(types)}`);
    const closed = r.getRowsJson().find(([id]) => id === '511.org/762714')[2];
    check(closed === '2021-04-26 05:40:53', `511.org/762714 closed at ${closed}, want 2021-04-26 05:40:53 (UTC)`);
    return `39 events, times TIMESTAMP in UTC`;
  },
  'duckdb-parquet': async ([types, days, wkt]) => {
    const byType = Object.fromEntries(types.getRowsJson());
    check(byType.CONSTRUCTION && byType.INCIDENT && Number(byType.CONSTRUCTION) + Number(byType.INCIDENT) === 266, `rows by type ${JSON.stringify(byType)}`);
    const d = days.getRowsJson().map(([day, n]) => `${day}:${n}`).join(' ');
    check(d === '2021-04-25:17 2021-04-26:8', `days ${d}`);
    check(wkt.getRows().length === 39 && wkt.getRowsJson().every(([, g]) => /^POINT \(-12\d\.\d+ 3\d\.\d+\)$/.test(g)), `WKT ${JSON.stringify(wkt.getRowsJson().slice(0, 2))}`);
    return `266 snapshot rows, 2 days after 2021-04-20, 39 points as WKT without the spatial extension`;
  },
};

process.chdir(work);
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const version = (await con.runAndReadAll('SELECT version()')).getRows()[0][0];
const found = Object.fromEntries(Object.entries(recipes(readFileSync(readme, 'utf8'))).filter(([k]) => k.startsWith('duckdb-')));
let passed = 0, failed = 0;
for (const name of [...new Set([...Object.keys(found), ...Object.keys(checks)])].sort()) {
  try {
    check(found[name] !== undefined, 'not in the README');
    check(checks[name] !== undefined, 'has no check here');
    const results = [];
    for (const stmt of found[name].split(/;\s*(?:\n|$)/).map((s) => s.trim()).filter(Boolean)) {
      results.push(await con.runAndReadAll(stmt));
    }
    console.log(`recipe ${name}: ok, ${await checks[name](results)}`);
    passed++;
  } catch (e) {
    console.log(`recipe ${name}: FAILED: ${e.message}`);
    failed++;
  }
}
console.log(`duckdb ${version}: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
