// Writes FILE.br (brotli q11) and FILE.gz (gzip -9) beside each built asset of
// the folder given, so the server sends them as they are (no compression per
// request, and the best ratio). Run by Trunk's post_build hook in release.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const folder = process.argv[2];
for (const name of readdirSync(folder)) {
  // Not config.json: whoever replaces it must not have a stale .br of the old one sent.
  if (!/\.(wasm|js|css|svg)$/.test(name)) continue;
  const data = readFileSync(join(folder, name));
  writeFileSync(join(folder, `${name}.br`), brotliCompressSync(data, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
  }));
  writeFileSync(join(folder, `${name}.gz`), gzipSync(data, { level: 9 }));
}
