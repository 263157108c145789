/** The one check for names that reach the filesystem or the bucket (src/registry/names.ts). */
import { checkName, nameProblem, prefixProblem } from '../../src/registry/names';
import { Manifest } from '../../src/registry/manifest';
import { Pointer } from '../../src/registry/model-bucket';

describe('a safe name', () => {
  it.each([
    ['../../etc/passwd', 'contains a path separator'],
    ['a/b', 'contains a path separator'],
    ['a\\b', 'contains a path separator'],
    ['..', 'is "..", which names a directory, not an entry in it'],
    ['.', 'is ".", which names a directory, not an entry in it'],
    ['%2e%2e', 'contains "%" (percent-encoding is never decoded: write the name itself)'],
    ['/etc/passwd', 'is an absolute path'],
    ['\\\\server\\share', 'is an absolute path'],
    ['C:\\Windows', 'is an absolute path'],
    ['v1\u0000', 'contains a NUL character'],
    ['', 'is empty'],
    ['.hidden', 'starts with a dot'],
    ['.weights.bin.1a2b.part', 'starts with a dot'],
    ['v'.repeat(129), 'is 129 characters long (128 at most)'],
    ['tab\there', 'contains a control character'],
    ['a b', 'has characters other than letters, digits, dot, dash and underscore'],
    ['ünïcode', 'has characters other than letters, digits, dot, dash and underscore'],
  ])('%j: it %s', (name, problem) => {
    expect(nameProblem(name)).toBe(problem);
    expect(() => checkName(name, 'model version')).toThrow(
      `model version ${JSON.stringify(name)} is not a safe name: it ${problem}`,
    );
  });

  it('accepts the names models really have', () => {
    for (const name of [
      '20261125-word2vec-cw05',
      'keras-2024-06',
      'model.json',
      'weights.bin',
      'group1-shard1of2.bin',
      'MODEL_CARD.md',
      'v1..2',
      '_x',
    ])
      expect([name, nameProblem(name)]).toEqual([name, null]);
    expect(nameProblem(42)).toBe('is not a string (number)');
  });

  it('a prefix is safe names joined by "/"', () => {
    expect(prefixProblem('sentinel-bilstm')).toBeNull();
    expect(prefixProblem('/team/sentinel-bilstm/')).toBeNull();
    expect(prefixProblem('team/../other')).toBe(
      'has a segment ".." that is "..", which names a directory, not an entry in it',
    );
    expect(prefixProblem('a//b')).toBe('has a segment "" that is empty');
    expect(prefixProblem('/')).toBe('is empty');
  });

  it('is what the manifest and latest.json schemas check', () => {
    expect(Pointer.safeParse({ version: '../x' }).success).toBe(false);
    expect(Pointer.safeParse({ version: 'v2' }).success).toBe(true);
    const files = Manifest.shape.files.element.shape.path;
    expect(files.safeParse('weights.bin').success).toBe(true);
    const bad = files.safeParse('../weights.bin');
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0].message).toBe(
      '"../weights.bin" is not a safe name: it contains a path separator (1 to 128 letters, digits, dot, dash or underscore, not starting with a dot)',
    );
  });
});
