/** Where the built dashboard front end lives: dist/dashboard/ under the project's root, from src/ or from dist/src/. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function dashboardAssetsDir(from = __dirname): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`dashboard: no package.json above ${from}`);
    dir = up;
  }
  return join(dir, 'dist', 'dashboard');
}

/** The fonts of the PNG charts (src/charts/render.ts), served to the browser too: same letters, accents, emoji. */
export const DASHBOARD_FONTS: Readonly<Record<string, string>> = {
  'NotoSans-Regular.ttf': '@expo-google-fonts/noto-sans/400Regular/NotoSans_400Regular.ttf',
  'NotoSans-Bold.ttf': '@expo-google-fonts/noto-sans/700Bold/NotoSans_700Bold.ttf',
  'NotoEmoji-Regular.ttf': '@expo-google-fonts/noto-emoji/400Regular/NotoEmoji_400Regular.ttf',
};
