/**
 * The two log formats: JSON lines (Cloud Logging) and pino-pretty lines for a person, chosen by whether the
 * destination is a terminal unless forced; secrets masked in both. The terminal case runs for real: a child
 * process whose stdout is a pseudo-terminal (util-linux `script`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { createLogger, type LoggerOptions } from '../../src/log';

const ROOT = resolve(__dirname, '../..');

function capture(opts: Omit<LoggerOptions, 'stream'> & { tty?: boolean } = {}) {
  let text = '';
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer, _enc, done) {
        text += chunk.toString();
        done();
      },
    }),
    opts.tty ? { isTTY: true } : {},
  );
  const logger = createLogger('debug', { ...opts, stream });
  return { logger, text: () => text };
}

const secrets = {
  slackBotToken: 'xoxb-1234-5678-abcdefghijkl',
  databaseUrl: 'postgres://sentinel:hunter2pw@db.internal:5432/sentinel',
};

function logSome(logger: ReturnType<typeof createLogger>) {
  logger.info({ store: 'sqlite', n: 3, ok: true }, 'store ready');
  logger.child({ reqId: 'req-7', authorization: 'Bearer abc.def.ghi' }).info({ note: 'two words' }, 'request');
  logger.info(
    { config: { ...secrets, port: 8080, streams: ['Southwest', 'Delta'], nested: { a: 1, b: 'x'.repeat(90) } } },
    'settings',
  );
  logger.error({ err: new Error('disk full') }, `cannot write: see ${secrets.databaseUrl}`);
}

test('auto: JSON lines when the destination is not a terminal', () => {
  const { logger, text } = capture();
  logSome(logger);
  const lines = text().trim().split('\n');
  expect(lines).toHaveLength(4);
  const records = lines.map((l) => JSON.parse(l));
  expect(records[0]).toMatchObject({ level: 30, msg: 'store ready', store: 'sqlite', n: 3, name: 'sentinel' });
  expect(records[1]).toMatchObject({ reqId: 'req-7', authorization: '[redacted]', note: 'two words' });
  expect(records[2].config).toMatchObject({ slackBotToken: '[redacted]', port: 8080 });
  expect(records[3].err).toMatchObject({ type: 'Error', message: 'disk full' });
  expect(text()).not.toMatch(/xoxb-1234|hunter2pw|abc\.def\.ghi/);
});

test('auto on a terminal, or pretty forced: one readable line a record, short fields after the message', () => {
  for (const opts of [{ tty: true }, { format: 'pretty' as const }]) {
    const { logger, text } = capture(opts);
    logSome(logger);
    // Colours on a terminal (by default), none on a stream that is not one.
    expect(text().includes('\u001b[')).toBe(Boolean(opts.tty));
    const out = stripVTControlCharacters(text());
    expect(out).not.toContain('{"level"');
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\] INFO \(sentinel\): store ready {2}store=sqlite n=3 ok=true$/);
    expect(lines[1]).toMatch(/INFO \(sentinel\): request {2}reqId=req-7 authorization=\[redacted\] note="two words"$/);
    // A large object below its line, one key a line, readable; errors with their stack.
    expect(lines[2]).toMatch(/INFO \(sentinel\): settings$/);
    expect(lines[3]).toBe('    config: {');
    expect(lines).toContain('      "slackBotToken": "[redacted]",');
    expect(lines).toContain('      "port": 8080,');
    const error = lines.findIndex((l) => / ERROR \(sentinel\): cannot write: see postgres:\/\/sentinel:/.test(l));
    expect(error).toBeGreaterThan(3);
    expect(lines.slice(error).join('\n')).toMatch(
      /err: \{[\s\S]*"message": "disk full"[\s\S]*Error: disk full\n\s+at /,
    );
    expect(out).not.toMatch(/xoxb-1234|hunter2pw|abc\.def\.ghi/);
  }
});

test('json forced on a terminal; colours on request', () => {
  const json = capture({ tty: true, format: 'json' });
  json.logger.info({ a: 1 }, 'hello');
  expect(JSON.parse(json.text())).toMatchObject({ msg: 'hello', a: 1 });
  const coloured = capture({ format: 'pretty', colour: true });
  coloured.logger.warn({ a: 1 }, 'hello');
  expect(coloured.text()).toContain('\u001b[33mWARN\u001b[39m');
});

const hasScript = spawnSync('script', ['--version']).status === 0;
(hasScript ? test : test.skip)('a real terminal on stdout gets pretty, coloured lines; a pipe gets JSON', () => {
  const program = `require('./src/log').createLogger('info').info({ token: '${secrets.slackBotToken}', n: 3 }, 'hello')`;
  const command = `${process.execPath} --import tsx -e "${program}"`;
  const tty = execFileSync('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, encoding: 'utf8' });
  const plain = stripVTControlCharacters(tty).replace(/\r/g, '');
  expect(plain).toMatch(/^\[\d\d:\d\d:\d\d\] INFO \(sentinel\): hello {2}token=\[redacted\] n=3\n$/);
  expect(tty).toContain('\u001b[32mINFO');
  const piped = execFileSync(process.execPath, ['--import', 'tsx', '-e', program], { cwd: ROOT, encoding: 'utf8' });
  expect(JSON.parse(piped)).toMatchObject({ msg: 'hello', token: '[redacted]', n: 3 });
});
