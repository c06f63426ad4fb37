// Writes precompressed siblings (.gz and .br, best quality) of every compressible file in the
// build, for the gateway and NGINX to serve to clients that accept them. Node's zlib only.
//   node scripts/compress.mjs dist
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const kCompressible = /\.(js|mjs|css|html|svg|json|map|txt)$/;
const kMinBytes = 1024;

function* Files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* Files(path);
    else yield path;
  }
}

const root = process.argv[2] ?? 'dist';
let count = 0;
for (const path of Files(root)) {
  if (!kCompressible.test(path)) continue;
  const data = readFileSync(path);
  if (data.length < kMinBytes) continue;
  writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }));
  writeFileSync(
    `${path}.br`,
    brotliCompressSync(data, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
      },
    }),
  );
  count += 1;
}
console.log(`compress: wrote .gz and .br for ${count} files in ${root}`);
