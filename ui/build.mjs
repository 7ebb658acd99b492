// Builds the dashboard's browser assets (docs/dashboard.md): ui/client/app.ts bundled by esbuild
// (with @dagrejs/dagre) and ui/client/style.css, written under content-hashed names with a manifest
// that the server reads (functions/uiAssets.ts). `npm run build` runs it; so do the browser tests.
//   node ui/build.mjs [outDir]   (default: dist/ui)
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));

export async function buildUi(outDir = path.join(here, '..', 'dist', 'ui')) {
  const entries = {
    'app.js': path.join(here, 'client', 'app.ts'),
    'style.css': path.join(here, 'client', 'style.css'),
  };
  const manifest = {};
  const files = [];
  for (const [name, entry] of Object.entries(entries)) {
    const r = await build({
      entryPoints: [entry],
      bundle: true,
      minify: true,
      format: 'iife',
      target: ['es2020'],
      platform: 'browser',
      write: false,
      outfile: name,
      legalComments: 'none',
      logLevel: 'silent',
    });
    const out = r.outputFiles.find((f) => f.path.endsWith(path.extname(name)));
    if (!out) throw new Error(`esbuild produced no ${name}`);
    const hash = createHash('sha256').update(out.contents).digest('hex').slice(0, 12);
    const hashed = name.replace(/\.(\w+)$/, `.${hash}.$1`);
    manifest[name] = hashed;
    files.push([hashed, out.contents]);
  }
  const staticDir = path.join(outDir, 'static');
  mkdirSync(staticDir, { recursive: true });
  // Old hashed files go (a browser holding an old page gets a 404 and reloads).
  for (const f of readdirSync(staticDir)) if (!files.some(([n]) => n === f)) rmSync(path.join(staticDir, f));
  for (const [n, c] of files) writeFileSync(path.join(staticDir, n), c);
  writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildUi(process.argv[2] ? path.resolve(process.argv[2]) : undefined).then(
    (m) => console.log(`ui assets: ${Object.values(m).join(', ')}`),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
