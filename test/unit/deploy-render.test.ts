/**
 * The Deploy workflow's "Render the Cloud Run service" step, run as GitHub runs it (bash, the step's env),
 * and its service.yaml read back: what `gcloud run services replace` would get. No Google account needed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

interface Step {
  name?: string;
  run?: string;
  env?: Record<string, string>;
}

const workflow = parse(readFileSync(resolve(__dirname, '../../.github/workflows/deploy.yml'), 'utf8')) as {
  jobs: Record<string, { steps: Step[] }>;
};
const render = Object.values(workflow.jobs)
  .flatMap((j) => j.steps)
  .find((s) => s.name === 'Render the Cloud Run service')!;

const blank = Object.fromEntries(
  [...Object.keys(render.env ?? {}), 'PROJECT_ID', 'REGION', 'SERVICE', 'COMMIT'].map((k) => [k, '']),
);

const VARS = {
  PROJECT_ID: 'air-paradis',
  REGION: 'europe-west1',
  SERVICE: 'sentinel',
  COMMIT: '0123abc',
  IMAGE: 'europe-west1-docker.pkg.dev/air-paradis/sentinel/sentinel@sha256:' + 'a'.repeat(64),
  RUNTIME_SA: 'sentinel-run@air-paradis.iam.gserviceaccount.com',
  CLOUD_SQL_INSTANCE: 'air-paradis:europe-west1:sentinel',
  SLACK_ALERT_CHANNELS: '#alerts',
  MAX_INSTANCES: '3',
};

function run(env: Record<string, string>): { status: number | null; out: string; service?: Record<string, unknown> } {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-render-'));
  try {
    const res = spawnSync('bash', ['-c', render.run!], {
      cwd: dir,
      // As on GitHub: every variable the step's env names is set, empty when its repository variable is not.
      env: { PATH: process.env.PATH, ...blank, ...env },
      encoding: 'utf8',
    });
    const out = res.stdout + res.stderr;
    if (res.status !== 0) return { status: res.status, out };
    return { status: 0, out, service: parse(readFileSync(join(dir, 'service.yaml'), 'utf8')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const annotations = (service: Record<string, unknown>) =>
  (service as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec.template.metadata
    .annotations;

test('replicas: up to CLOUD_RUN_MAX_INSTANCES (3 by default) instances, one always on', () => {
  const { status, service, out } = run(VARS);
  expect(status).toBe(0);
  expect(annotations(service!)).toMatchObject({
    'autoscaling.knative.dev/minScale': '1',
    'autoscaling.knative.dev/maxScale': '3',
    'run.googleapis.com/cpu-throttling': 'false',
    'run.googleapis.com/cloudsql-instances': VARS.CLOUD_SQL_INSTANCE,
  });
  expect(out).not.toContain('::error::');
  expect(annotations(run({ ...VARS, MAX_INSTANCES: '5' }).service!)['autoscaling.knative.dev/maxScale']).toBe('5');
});

test('the container: the image by digest, production mode, secrets from Secret Manager, probes on /ready and /health', () => {
  const container = (
    run(VARS).service as {
      spec: { template: { spec: { containers: Array<Record<string, unknown>> } } };
    }
  ).spec.template.spec.containers[0] as {
    image: string;
    env: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef: { name: string } } }>;
    startupProbe: { httpGet: { path: string } };
    livenessProbe: { httpGet: { path: string } };
  };
  expect(container.image).toBe(VARS.IMAGE);
  const env = Object.fromEntries(
    container.env.map((e) => [e.name, e.value ?? `secret:${e.valueFrom!.secretKeyRef.name}`]),
  );
  expect(env).toMatchObject({
    NODE_ENV: 'production',
    SLACK_ALERT_CHANNELS: '#alerts',
    DATABASE_URL: 'secret:sentinel-database-url',
    SLACK_BOT_TOKEN: 'secret:sentinel-slack-bot-token',
    PRIVACY_USER_ID_SECRET: 'secret:sentinel-privacy-user-id-secret',
  });
  expect(env).not.toHaveProperty('MicrosoftAppId');
  expect([container.startupProbe.httpGet.path, container.livenessProbe.httpGet.path]).toEqual(['/ready', '/health']);
});

test('the dashboard: off unless DASHBOARD_BASE_URL is set, then with its secret from Secret Manager', () => {
  type Env = Array<{ name: string; value?: string; valueFrom?: { secretKeyRef: { name: string } } }>;
  const envOf = (vars: Record<string, string>) => {
    const service = run(vars).service as { spec: { template: { spec: { containers: Array<{ env: Env }> } } } };
    return Object.fromEntries(
      service.spec.template.spec.containers[0].env.map((e) => [
        e.name,
        e.value ?? `secret:${e.valueFrom!.secretKeyRef.name}`,
      ]),
    );
  };
  expect(envOf(VARS)).not.toHaveProperty('DASHBOARD_SECRET');
  expect(envOf({ ...VARS, DASHBOARD_BASE_URL: 'https://sentinel-abc-ew.a.run.app' })).toMatchObject({
    DASHBOARD_BASE_URL: 'https://sentinel-abc-ew.a.run.app',
    DASHBOARD_SECRET: 'secret:sentinel-dashboard-secret',
  });
});

test.each([
  [{ MAX_INSTANCES: 'many' }, "CLOUD_RUN_MAX_INSTANCES must be a whole number of at least 1, got 'many'"],
  [{ MAX_INSTANCES: '0' }, "CLOUD_RUN_MAX_INSTANCES must be a whole number of at least 1, got '0'"],
  [{ CLOUD_SQL_INSTANCE: '' }, 'repository variables not set: CLOUD_SQL_INSTANCE'],
  [{ SLACK_ALERT_CHANNELS: '' }, 'set SLACK_ALERT_CHANNELS (Slack) or MICROSOFT_APP_ID (Teams)'],
])('refuses to deploy with %j', (change, message) => {
  const { status, out } = run({ ...VARS, ...change });
  expect(status).toBe(1);
  expect(out).toContain(`::error::${message}`);
});
