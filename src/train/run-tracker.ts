/**
 * MLflow-style tracking of training runs, as plain files that diff well in git:
 * runs/<run id>/params.json, metrics.jsonl (one line per epoch), summary.json (final metrics, artefacts).
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class RunTracker {
  readonly id: string;
  readonly dir: string;

  constructor(root: string, name: string, now = new Date()) {
    this.id = `${now.toISOString().replace(/[:.]/g, '-')}-${name}`;
    this.dir = join(root, this.id);
    mkdirSync(this.dir, { recursive: true });
  }

  params(params: Record<string, unknown>): void {
    writeFileSync(join(this.dir, 'params.json'), JSON.stringify(params, null, 2) + '\n');
  }

  metric(step: number, values: Record<string, number>): void {
    appendFileSync(join(this.dir, 'metrics.jsonl'), JSON.stringify({ step, ...values }) + '\n');
  }

  summary(summary: Record<string, unknown>): void {
    writeFileSync(join(this.dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  }
}
