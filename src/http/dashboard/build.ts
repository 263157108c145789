/**
 * Bundles the dashboard's front end (app.ts with the parts of ECharts it uses, app.css) into
 * dist/dashboard/, the folder the server serves it from. Run by `npm run build` and before `npm start`;
 * tests call `buildDashboard(dir)`.
 */
import { mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { DASHBOARD_FONTS, dashboardAssetsDir } from './assets';

export async function buildDashboard(outDir = dashboardAssetsDir()): Promise<{ outDir: string; bytes: number }> {
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    entryPoints: [join(__dirname, 'client', 'app.ts')],
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['chrome110', 'firefox110', 'safari16'],
    outfile: join(outDir, 'app.js'),
    metafile: true,
    legalComments: 'linked',
    logLevel: 'warning',
  });
  copyFileSync(join(__dirname, 'client', 'app.css'), join(outDir, 'app.css'));
  for (const [name, file] of Object.entries(DASHBOARD_FONTS)) copyFileSync(require.resolve(file), join(outDir, name));
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  return { outDir, bytes };
}

if (require.main === module) {
  buildDashboard().then(
    ({ outDir, bytes }) => console.log(`dashboard built into ${outDir} (${Math.round(bytes / 1024)} KB)`),
    (err: unknown) => {
      console.error(`dashboard build failed: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
