// Fails when src/api/schema.d.ts is not what openapi-typescript makes of ../api/openapi.yaml
// today: the contract and the typed client must not drift. Fix with `npm run gen:api`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'trellis-api-'));
const fresh = join(dir, 'schema.d.ts');
try {
  execFileSync(
    process.execPath,
    ['node_modules/openapi-typescript/bin/cli.js', '../api/openapi.yaml', '-o', fresh],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const want = readFileSync(fresh, 'utf8');
  const have = readFileSync('src/api/schema.d.ts', 'utf8');
  if (want !== have) {
    console.error(
      'check:api: src/api/schema.d.ts is out of date with api/openapi.yaml; run `npm run gen:api` and commit it',
    );
    process.exit(1);
  }
  console.log('check:api: src/api/schema.d.ts matches api/openapi.yaml');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
