import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ApiErrorCode, ApigErrorCode, itemErrorHints } from '../src/index.js';

// Compiled to packages/core/dist/test: the docs are four levels up.
const doc = readFileSync(new URL('../../../../docs/errors.md', import.meta.url), 'utf8');
const rows = new Map([...doc.matchAll(/^\| `([A-Z0-9_.]+)` \| (.*) \|$/gm)].map((m) => [m[1]!, m[2]!]));

describe('docs/errors.md', () => {
  it('has every item code with the hint the code carries', () => {
    for (const [code, hint] of Object.entries(itemErrorHints)) assert.equal(rows.get(code), hint, `docs/errors.md row for ${code}`);
  });
  it('has every API code, and every gateway code', () => {
    for (const code of [...Object.values(ApiErrorCode), ...Object.values(ApigErrorCode)]) assert.ok(rows.has(code), `docs/errors.md has no row for ${code}`);
  });
  it('lists no code that does not exist', () => {
    const known = new Set<string>([...Object.keys(itemErrorHints), ...Object.values(ApiErrorCode), ...Object.values(ApigErrorCode)]);
    for (const code of rows.keys()) assert.ok(known.has(code), `docs/errors.md lists unknown code ${code}`);
  });
});
