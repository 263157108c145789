/**
 * npm run model:rates -- [--model models/sentinel-bilstm] [--data ../shared/data/airline_val.csv]
 *
 * Measures the model's confusion on labelled tweets it never trained on — the rates at which negatives and
 * the others are labelled negative, and its mean P(negative) on each — and records them in its manifest
 * (`metrics.prevalence`): the trend's prevalence estimate corrects its counts with them
 * (src/trends/prevalence.ts). Training writes them too; this is for a model trained before that. Prints the
 * rates as one JSON line.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadScorer } from '../sentiment/load';
import { measureConfusionRates, type ConfusionRates } from '../sentiment/confusion-rates';
import type { Prediction } from '../sentiment/types';
import { readLabelledCsv, type LabelledText } from './dataset';

const HELP = 'usage: npm run model:rates -- [--model models/sentinel-bilstm] [--data ../shared/data/airline_val.csv]';

/** The rates of `predictions` (one per row) against the rows' labels. */
export function ratesOf(
  rows: readonly LabelledText[],
  predictions: readonly Prediction[],
  data: string,
): ConfusionRates {
  return measureConfusionRates(
    rows.map((r, i) => ({
      pNegative: predictions[i].probabilities.negative,
      labelledNegative: predictions[i].label === 'negative',
      negative: r.label === 'negative',
    })),
    data,
  );
}

/** Scores `data` with the model in `dir` and writes the rates into its manifest (metrics.prevalence). */
export async function recordRates(dir: string, data: string): Promise<ConfusionRates> {
  const rows = readLabelledCsv(data);
  const scorer = await loadScorer(dir, { maxBatch: 256 });
  let rates: ConfusionRates;
  try {
    rates = ratesOf(rows, await scorer.score(rows.map((r) => r.text)), data);
  } finally {
    scorer.dispose();
  }
  const path = join(dir, 'manifest.json');
  const manifest = JSON.parse(readFileSync(path, 'utf8')) as { metrics?: Record<string, unknown> };
  manifest.metrics = { ...manifest.metrics, prevalence: rates };
  writeFileSync(path, JSON.stringify(manifest, null, 2) + '\n');
  return rates;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'models/sentinel-bilstm' },
      data: { type: 'string', default: '../shared/data/airline_val.csv' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const rates = await recordRates(values.model, values.data);
  process.stderr.write(`model:rates: ${values.model}/manifest.json metrics.prevalence written\n`);
  process.stdout.write(JSON.stringify(rates) + '\n');
}

if (require.main === module)
  main().catch((err: Error) => {
    process.stderr.write(`error: ${err.message}\n${HELP}\n`);
    process.exit(1);
  });
