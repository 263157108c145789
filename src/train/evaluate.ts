/**
 * npm run evaluate -- --data <csv with label,text> [--model <dir>] [--peers] [--baseline <file>] [--confusion <file.svg|.png>]
 *
 * Scores every row with the BiLSTM (the shipped model by default) and prints, as the last stdout line,
 * one JSON object: n, accuracy, macro_f1, per_class, confusion, binary_accuracy (+ peers with --peers).
 * A data set labelled only negative/positive is scored on those two classes: the larger of the two
 * probabilities decides. Logs and progress go to stderr.
 */
import { parseArgs } from 'node:util';
import { existsSync, writeFileSync } from 'node:fs';
import { SingleBar, Presets } from 'cli-progress';
import { loadScorer } from '../sentiment/load';
import { LABELS, readLabelledCsv, type Label, type LabelledText } from './dataset';
import { argmaxLabel, evaluatePredictions, roundMetrics, type EvaluationMetrics } from './metrics';
import { loadBaselineFile } from './baseline';
import { scoreWithAfinn, scoreWithVader, type PeerPrediction } from './peers';
import { confusionPng, confusionSvg } from './confusion-chart';

const HELP =
  'usage: npm run evaluate -- --data <csv> [--model models/sentinel-bilstm] [--peers] [--baseline models/baseline/baseline.json] [--confusion out.svg|out.png]';

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n${HELP}\n`);
  process.exit(2);
}

/**
 * Probabilities [neg, neu, pos] → metrics; binary data sets only compare negative with positive.
 * `labels`: the system's own decisions when they are not the argmax (the lexicon tools use thresholds).
 */
export function metricsFor(
  rows: readonly LabelledText[],
  probs: number[][],
  labels?: readonly Label[],
): EvaluationMetrics {
  const binary = rows.every((r) => r.label !== 'neutral');
  const predicted: Label[] = probs.map((p, i) =>
    binary ? (p[0] >= p[2] ? 'negative' : 'positive') : (labels?.[i] ?? argmaxLabel(p)),
  );
  return evaluatePredictions(
    rows.map((r) => r.label),
    predicted,
    probs,
  );
}

export function peerMetrics(rows: readonly LabelledText[], predictions: PeerPrediction[]): EvaluationMetrics {
  return metricsFor(
    rows,
    predictions.map((p) => [...p.probs]),
    predictions.map((p) => p.label),
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      model: { type: 'string', default: 'models/sentinel-bilstm' },
      baseline: { type: 'string', default: 'models/baseline/baseline.json' },
      peers: { type: 'boolean', default: false },
      confusion: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return void process.stdout.write(HELP + '\n');
  if (!values.data) fail('--data is required');
  let rows: LabelledText[];
  try {
    rows = readLabelledCsv(values.data);
  } catch (err) {
    fail((err as Error).message);
  }

  let scorer;
  try {
    scorer = await loadScorer(values.model, { maxBatch: 256 });
  } catch (err) {
    fail(`cannot load the model: ${(err as Error).message}`);
  }
  process.stderr.write(
    `model ${scorer.info.name} ${scorer.info.version} on ${scorer.info.backend}, ${rows.length} rows\n`,
  );
  const bar = new SingleBar(
    { format: 'scoring | {bar} {value}/{total}', stream: process.stderr, noTTYOutput: true, notTTYSchedule: 5000 },
    Presets.shades_classic,
  );
  bar.start(rows.length, 0);
  const probs: number[][] = [];
  for (let i = 0; i < rows.length; i += 256) {
    const predictions = await scorer.score(rows.slice(i, i + 256).map((r) => r.text));
    for (const p of predictions) probs.push(LABELS.map((l) => p.probabilities[l]));
    bar.update(probs.length);
  }
  bar.stop();
  scorer.dispose();
  const metrics = metricsFor(rows, probs);
  if (values.confusion) {
    const title = `${scorer.info.name} ${scorer.info.version} on ${values.data.split('/').pop()}`;
    writeFileSync(
      values.confusion,
      values.confusion.endsWith('.png')
        ? confusionPng(metrics.confusion, LABELS, title)
        : confusionSvg(metrics.confusion, LABELS, title),
    );
    process.stderr.write(`confusion matrix written to ${values.confusion}\n`);
  }

  const result: Record<string, unknown> = {
    model: scorer.info.name,
    version: scorer.info.version,
    backend: scorer.info.backend,
    ...metrics,
  };
  if (values.peers) {
    const texts = rows.map((r) => r.text);
    const peers: Record<string, EvaluationMetrics> = {
      afinn_sentiment: peerMetrics(rows, scoreWithAfinn(texts)),
      vader_sentiment: peerMetrics(rows, scoreWithVader(texts)),
    };
    if (existsSync(values.baseline))
      peers.tfidf_logreg_baseline = metricsFor(rows, loadBaselineFile(values.baseline).predictProba(texts));
    else process.stderr.write(`no baseline at ${values.baseline}: train it with npm run train:baseline\n`);
    result.peers = peers;
  }
  process.stdout.write(JSON.stringify(roundMetrics(result)) + '\n');
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
