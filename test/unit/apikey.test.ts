import { ApiAuth, hashApiKey, newApiKey, parseApiKeyEntry } from '../../src/http/auth';
import { runCli } from '../../src/apikey-cli';
import { loadConfig } from '../../config/schema';

describe('API keys', () => {
  it('npm run apikey prints a key and the entry that lets exactly that key in', () => {
    const { code, out } = runCli(['--name', 'dashboard', '--scopes', 'predict,feedback']);
    expect(code).toBe(0);
    const key = /^ {2}(snt_\S+)$/m.exec(out)![1];
    const entry = /^ {2}(dashboard:\S+)$/m.exec(out)![1];
    expect(entry).toBe(`dashboard:predict+feedback:${hashApiKey(key)}`);
    expect(out.split(key)).toHaveLength(2); // the key is printed once, the entry holds only its hash
    expect(loadConfig({ API_KEYS: entry }).apiKeys).toEqual([entry]); // the schema takes what the CLI prints
    const auth = ApiAuth.fromEntries([entry]);
    expect(auth.check(`Bearer ${key}`, 'predict')).toEqual({
      ok: true,
      principal: { name: 'dashboard', scopes: ['predict', 'feedback'] },
    });
    expect(auth.check(`Bearer ${key}`, 'metrics')).toMatchObject({ ok: false, status: 403 });
    expect(auth.check(`Bearer ${newApiKey('dashboard', ['predict']).key}`, 'predict')).toMatchObject({
      ok: false,
      status: 401,
    });
  });

  it('refuses bad arguments with the usage', () => {
    const { code, err } = runCli(['--name', 'Bad Name', '--scopes', 'admin']);
    expect(code).toBe(2);
    expect(err).toContain('--name: expected a-z, 0-9, _ or -, got "Bad Name"');
    expect(err).toContain('--scopes: unknown admin (known: predict, feedback, metrics)');
  });

  it('API_KEYS: malformed entries stop start-up without echoing them; a name twice is refused', () => {
    expect(() => loadConfig({ API_KEYS: 'dashboard:predict:snt_rawkeyinsteadofhash' })).toThrow(
      /API_KEYS: expected a comma-separated list of name:scopes:sha256 entries \(npm run apikey makes them\), got a value of \d+ characters/,
    );
    const a = newApiKey('same', ['predict']).entry;
    const b = newApiKey('same', ['feedback']).entry;
    expect(() => ApiAuth.fromEntries([a, b])).toThrow(/API_KEYS names same twice/);
    expect(parseApiKeyEntry(a).scopes).toEqual(['predict']);
  });
});
