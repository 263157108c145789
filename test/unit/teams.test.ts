/**
 * The Teams adapter's pure parts: command parsing, reaction ids, card button data, card text escaping,
 * the zip writer and the app package (manifest checks, icons).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { parseCommand, userOf } from '../../adapters/teams/bot';
import {
  answerCard,
  chartOf,
  MAX_CARD_CHART_CHARS,
  md,
  mdLink,
  parseSubmit,
  plain,
  type AnswerCardState,
} from '../../adapters/teams/cards';
import { baseConversationId, conversationFrom } from '../../adapters/teams/conversations';
import { activityProblem } from '../../adapters/teams/http';
import { botFrameworkServiceUrls, loopbackServiceUrls } from '../../adapters/teams/service-url';
import { MANIFEST_DIR, colorIcon, outlineIcon } from '../../adapters/teams/icons';
import { PackageError, buildTeamsPackage } from '../../adapters/teams/package';
import { reactionMeaning } from '../../adapters/teams/reactions';
import { zip } from '../../adapters/teams/zip';
import { crc32 } from 'node:zlib';

/** Reads a zip back (central directory → local headers → data), checking sizes and CRCs. */
function unzip(buf: Buffer): Record<string, Buffer> {
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  expect(end).toBeGreaterThan(0);
  const count = buf.readUInt16LE(end + 10);
  let p = buf.readUInt32LE(end + 16);
  const out: Record<string, Buffer> = {};
  for (let i = 0; i < count; i++) {
    expect(buf.readUInt32LE(p)).toBe(0x02014b50);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const size = buf.readUInt32LE(p + 20);
    const raw = buf.readUInt32LE(p + 24);
    const nameLength = buf.readUInt16LE(p + 28);
    const extra = buf.readUInt16LE(p + 30);
    const comment = buf.readUInt16LE(p + 32);
    const offset = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLength).toString('utf8');
    expect(buf.readUInt32LE(offset)).toBe(0x04034b50);
    const start = offset + 30 + buf.readUInt16LE(offset + 26) + buf.readUInt16LE(offset + 28);
    const body = buf.subarray(start, start + size);
    const data = method === 8 ? inflateRawSync(body) : Buffer.from(body);
    expect([name, data.length, crc32(data)]).toEqual([name, raw, crc]);
    out[name] = data;
    p += 46 + nameLength + extra + comment;
  }
  return out;
}

describe('parseCommand', () => {
  it.each([
    ['sentiment my bag is lost', { kind: 'score', text: 'my bag is lost' }],
    ['/sentiment my bag is lost', { kind: 'score', text: 'my bag is lost' }],
    ['  Sentiment   two\nlines ', { kind: 'score', text: 'two\nlines' }],
    ['<at>Sentinel</at> sentiment hi&nbsp;there &amp; you', { kind: 'score', text: 'hi there & you' }],
    // Decoded once: a typed `&lt;at&gt;` is text, and `&amp;gt;` (a typed "&gt;") stays "&gt;".
    ['sentiment 5 &gt; 4 &lt;3 &lt;at&gt;x&lt;/at&gt; &amp;gt;', { kind: 'score', text: '5 > 4 <3 <at>x</at> &gt;' }],
    ['help', { kind: 'help' }],
    ['/help', { kind: 'help' }],
    ['sentiment help', { kind: 'help' }],
    ['status', { kind: 'status' }],
    ['/sentiment status', { kind: 'status' }],
    ['digest', { kind: 'digest', args: '' }],
    ['sentiment digest Virgin America 2015-02-21', { kind: 'digest', args: 'Virgin America 2015-02-21' }],
    ['/digest delta', { kind: 'digest', args: 'delta' }],
    ['stats', { kind: 'stats' }],
    ['/sentiment stats', { kind: 'stats' }],
    ['digestive biscuits', { kind: 'unknown', text: 'digestive biscuits' }],
    ['', { kind: 'help' }],
    ['sentiment', { kind: 'help', note: 'Tell me what to score: `sentiment <text>`.' }],
    ['sentimental journey', { kind: 'unknown', text: 'sentimental journey' }],
    ['hello', { kind: 'unknown', text: 'hello' }],
  ])('%j', (text, command) => {
    expect(parseCommand(text)).toEqual(command);
  });
});

describe('userOf (the voter)', () => {
  it('names the voter by tenant and Entra object id (else the account id); the Emulator by its channel', () => {
    const from = { id: '29:alice', name: 'Alice', aadObjectId: 'aad-alice' };
    expect(userOf({ from, channelId: 'msteams', channelData: { tenant: { id: 't-1' } } })).toEqual({
      id: 'teams:t-1:aad-alice',
      name: 'Alice',
    });
    expect(
      userOf({ from: { id: '29:bob', name: '' }, channelId: 'msteams', conversation: { tenantId: 't-2' } as never }),
    ).toEqual({ id: 'teams:t-2:29:bob' });
    expect(userOf({ from: { id: 'user-1', name: 'User' }, channelId: 'emulator' })).toEqual({
      id: 'teams:emulator:user-1',
      name: 'User',
    });
    // The same account in two tenants: two voters.
    const a = userOf({ from, channelId: 'msteams', channelData: { tenant: { id: 't-1' } } })!.id;
    const b = userOf({ from, channelId: 'msteams', channelData: { tenant: { id: 't-9' } } })!.id;
    expect(a).not.toBe(b);
    expect(userOf({ channelId: 'msteams' })).toBeUndefined();
  });
});

describe('serviceUrl policies', () => {
  it('with authentication: https on the Bot Framework hosts only', () => {
    const p = botFrameworkServiceUrls();
    for (const ok of [
      'https://smba.trafficmanager.net/teams/',
      'https://smba.trafficmanager.net/emea/',
      'https://SMBA.trafficmanager.net:443/amer/',
      'https://smba.infra.gcc.teams.microsoft.com/teams',
      'https://smba.infra.gov.teams.microsoft.us/teams',
      'https://smba.infra.dod.teams.microsoft.us/teams',
      'https://webchat.botframework.com/',
      'https://europe.directline.botframework.com/',
      'https://token.botframework.azure.us/',
    ])
      expect([ok, p.allows(ok)]).toEqual([ok, true]);
    for (const bad of [
      'http://smba.trafficmanager.net/teams/',
      'https://smba.trafficmanager.net:8443/teams/',
      'https://smba.trafficmanager.net.evil.example/',
      'https://evilsmba.trafficmanager.net/',
      'https://botframework.com.evil.example/',
      'https://evilbotframework.com/',
      'https://user:pw@smba.trafficmanager.net/',
      'http://127.0.0.1:3978/',
      'https://169.254.169.254/',
      'not a url',
      42,
    ])
      expect([bad, p.allows(bad)]).toEqual([bad, false]);
  });

  it('without authentication (Emulator on loopback): this machine only', () => {
    const p = loopbackServiceUrls();
    for (const ok of ['http://127.0.0.1:53210/', 'http://localhost:3978', 'https://[::1]:8443/x'])
      expect([ok, p.allows(ok)]).toEqual([ok, true]);
    for (const bad of [
      'https://smba.trafficmanager.net/teams/',
      'http://127.0.0.2/',
      'http://10.0.0.1/',
      'file:///etc/passwd',
    ])
      expect([bad, p.allows(bad)]).toEqual([bad, false]);
  });
});

describe('reactionMeaning', () => {
  it('reads like / ✅ as right, angry / ❌ as wrong, knows the other classic ones, and flags the rest', () => {
    expect(reactionMeaning('like')).toEqual({ verdict: true });
    expect(reactionMeaning('2705_whiteheavycheckmark')).toEqual({ verdict: true });
    expect(reactionMeaning('2714_heavycheckmark')).toEqual({ verdict: true });
    expect(reactionMeaning('angry')).toEqual({ verdict: false });
    expect(reactionMeaning('274c_crossmark')).toEqual({ verdict: false });
    expect(reactionMeaning('Angry')).toEqual({ verdict: false });
    for (const r of ['heart', 'laugh', 'surprised', 'sad']) expect(reactionMeaning(r)).toBe('ignored');
    for (const r of ['1f984_unicorn', '', 42, undefined]) expect(reactionMeaning(r)).toBe('unknown');
  });
});

describe('parseSubmit', () => {
  it('reads Sentinel button data, ignores other values and names malformed data', () => {
    expect(parseSubmit({ sentinel: 'vote', predictionId: 'p1', correct: false })).toEqual({
      sentinel: 'vote',
      predictionId: 'p1',
      correct: false,
    });
    expect(parseSubmit({ sentinel: 'label', predictionId: 'p1', label: 'neutral', extra: 1 })).toEqual({
      sentinel: 'label',
      predictionId: 'p1',
      label: 'neutral',
    });
    expect(parseSubmit({ sentinel: 'alertVote', alertId: 'a1', correct: true })).toEqual({
      sentinel: 'alertVote',
      alertId: 'a1',
      correct: true,
    });
    expect(parseSubmit({ sentinel: 'alertAck', alertId: 'a1' })).toEqual({ sentinel: 'alertAck', alertId: 'a1' });
    expect(parseSubmit({ sentinel: 'alertSnooze', alertId: 'a1', hours: 4 })).toEqual({
      sentinel: 'alertSnooze',
      alertId: 'a1',
      hours: 4,
    });
    expect(parseSubmit({ sentinel: 'alertSnooze', alertId: 'a1', hours: 24 })).toHaveProperty('malformed');
    expect(parseSubmit(undefined)).toBeNull();
    expect(parseSubmit('text')).toBeNull();
    expect(parseSubmit({ somethingElse: 1 })).toBeNull();
    expect(parseSubmit({ sentinel: 'label', predictionId: 'p1', label: 'angry' })).toEqual({
      malformed: expect.stringContaining('unexpected button data'),
    });
    expect(parseSubmit({ sentinel: 'vote', predictionId: 'x'.repeat(201), correct: true })).toHaveProperty('malformed');
  });
});

describe('cards', () => {
  it('escapes the markdown of user text so it can neither format itself nor forge a link', () => {
    expect(md('**bold** [x](https://evil) _i_ `c` ~s~')).toBe(
      '\\*\\*bold\\*\\* \\[x\\]\u2060(https://evil) \\_i\\_ \\`c\\` \\~s\\~',
    );
    expect(md('# title\n- item\n1. one')).toBe('\\# title\n\\- item\n\\1. one');
  });

  it('breaks every tag (an <at> mention, a link) and drops control characters, keeping <3 and > as they are', () => {
    expect(md('<at>Lead</at> hi')).toBe('<\u2060at>Lead<\u2060/at> hi');
    expect(md('I <3 it, 5 > 4 <a href="https://evil">x</a>')).toBe(
      'I <3 it, 5 > 4 <\u2060a href="https://evil">x<\u2060/a>',
    );
    expect(md('\u001b[2Jcleared\u0007 \u202eevil')).toBe('cleared evil');
    expect(plain('<at>Lead</at> **b** "}]}')).toBe('<\u2060at>Lead<\u2060/at> **b** "}]}');
    expect(mdLink('@x', 'https://x.com/i/web/status/1')).toBe('[@x](https://x.com/i/web/status/1)');
    expect(mdLink('@x', 'javascript:alert(1)')).toBe('@x');
    expect(mdLink('@x', 'https://evil.example/a)(b')).toBe('@x');
  });

  it('draws an answer: label, bars, driving words, model, buttons; the question only while a ❌ waits for a label', () => {
    const state: AnswerCardState = {
      kind: 'answer',
      predictionId: 'p1',
      label: 'negative',
      text: 'delayed *again*',
      prediction: {
        label: 'negative',
        confidence: 0.9,
        probabilities: { negative: 0.9, neutral: 0.06, positive: 0.04 },
        modelVersion: 'v1',
        words: [
          { word: 'delayed', weight: 0.34 },
          { word: 'again', weight: 0.16 },
          { word: 'flight', weight: 0.001 },
        ],
      },
      votes: {},
    };
    const text = JSON.stringify(answerCard(state));
    expect(text).toContain('delayed \\\\*again\\\\*');
    expect(text).toContain('██████████████████░░');
    expect(text).toContain('Words that drove it: **delayed** (+34 pts) · **again** (+16 pts)');
    expect(text).not.toContain('flight');
    expect(text).not.toContain('Feedback');
    state.votes = { u1: { correct: false, name: 'Ann' } };
    expect(JSON.stringify(answerCard(state))).toContain('what should it have been?');
    state.votes = { u1: { correct: false, name: 'Ann', trueLabel: 'neutral' } };
    const answered = JSON.stringify(answerCard(state));
    expect(answered).not.toContain('what should it have been?');
    expect(answered).toContain('Feedback: ✅ 0 · ❌ 1 (should have been neutral ×1)');
  });
});

describe('conversations', () => {
  it('keeps one entry per team, the thread suffix dropped', () => {
    expect(baseConversationId('19:a@thread.tacv2;messageid=123')).toBe('19:a@thread.tacv2');
    const c = conversationFrom(
      {
        channelId: 'msteams',
        serviceUrl: 'https://smba.trafficmanager.net/emea/',
        conversation: { id: '19:a@thread.tacv2;messageid=9', conversationType: 'channel', isGroup: true, name: '' },
        channelData: { team: { id: '19:t@thread.tacv2', name: 'Ops' }, channel: { id: '19:a@thread.tacv2' } },
        recipient: { id: '28:bot', name: 'Sentinel' },
      },
      'installationUpdate',
      new Date('2026-01-01T00:00:00Z'),
    );
    expect(c).toMatchObject({
      key: 'team:19:t@thread.tacv2',
      scope: 'channel',
      teamsChannelId: '19:a@thread.tacv2',
      name: 'Ops',
      reference: { conversation: { id: '19:a@thread.tacv2' }, bot: { id: '28:bot' } },
    });
  });
});

describe('activityProblem', () => {
  it('accepts a minimal activity and names what is missing otherwise', () => {
    const ok = { type: 'message', serviceUrl: 'https://x.example/', conversation: { id: 'c' } };
    expect(activityProblem(ok)).toBeNull();
    expect(activityProblem({ ...ok, serviceUrl: 'ftp://x' })).toMatch(/serviceUrl/);
    expect(activityProblem({ ...ok, text: 5 })).toBe('"text" must be a string');
    expect(activityProblem({ ...ok, membersAdded: [{}] })).toBe('"membersAdded" has an item without an "id"');
    expect(activityProblem({ ...ok, reactionsRemoved: [{ type: 1 }] })).toBe(
      '"reactionsRemoved" has an item without a "type"',
    );
  });
});

describe('zip', () => {
  it('writes archives that read back byte for byte, deflated when it helps', () => {
    const entries = [
      { name: 'manifest.json', data: Buffer.from(JSON.stringify({ a: 'x'.repeat(500) })) },
      { name: 'tiny.txt', data: Buffer.from('a') },
      { name: 'empty', data: Buffer.alloc(0) },
      { name: 'dossier/é.txt', data: Buffer.from('accents') },
    ];
    const archive = zip(entries);
    const back = unzip(archive);
    expect(Object.keys(back)).toEqual(entries.map((e) => e.name));
    for (const e of entries) expect(back[e.name].equals(e.data)).toBe(true);
    expect(zip(entries).equals(archive)).toBe(true); // reproducible
  });
});

describe('the app package', () => {
  const appId = '0b5d6e5c-1c1a-4a8e-9f3e-2d0c6c1b7a10';

  it('fills the bot id and domains into the manifest and zips it with its icons at the root', () => {
    const { manifest, zip: archive } = buildTeamsPackage({
      appId,
      domains: ['sentinel.example.com'],
      version: '1.2.3',
    });
    expect(manifest).toMatchObject({
      manifestVersion: '1.17',
      version: '1.2.3',
      id: appId,
      bots: [{ botId: appId, scopes: ['personal', 'team', 'groupChat'] }],
      validDomains: ['sentinel.example.com'],
    });
    expect(manifest.bots[0].commandLists[0].commands.map((c: { title: string }) => c.title)).toEqual([
      'sentiment',
      'status',
      'digest',
      'stats',
      'resume',
      'help',
    ]);
    const files = unzip(archive);
    expect(Object.keys(files)).toEqual(['manifest.json', 'color.png', 'outline.png']);
    expect(JSON.parse(files['manifest.json'].toString())).toEqual(manifest);
  });

  it('refuses a bad app id, domain or version, and a wrong icon, naming each', () => {
    expect(() => buildTeamsPackage({ appId: 'bot', domains: ['https://x.example'], version: '1' })).toThrow(
      PackageError,
    );
    try {
      buildTeamsPackage({ appId: 'bot', domains: ['https://x.example'], version: '1' });
    } catch (err) {
      expect((err as Error).message.split('\n')).toEqual([
        'the app id must be the bot\'s Microsoft app id (a GUID), got "bot"',
        '--domain takes a host name without scheme or path (sentinel.example.com), got "https://x.example"',
        '--version takes major.minor.patch (1.0.1), got "1"',
      ]);
    }
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-teams-pkg-'));
    try {
      cpSync(MANIFEST_DIR, dir, { recursive: true });
      writeFileSync(join(dir, 'outline.png'), colorIcon());
      expect(() => buildTeamsPackage({ appId, dir })).toThrow('icon outline.png must be a 32×32 PNG');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ships the icons the generator draws (192×192 colour, 32×32 outline)', () => {
    expect(readFileSync(join(MANIFEST_DIR, 'color.png')).equals(colorIcon())).toBe(true);
    expect(readFileSync(join(MANIFEST_DIR, 'outline.png')).equals(outlineIcon())).toBe(true);
  });
});

describe('alert card charts', () => {
  const content = (png: Buffer) =>
    ({
      chart: { png, width: 800, height: 360, title: 'Southwest: negative mentions, last 24 h (alert)' },
    }) as Parameters<typeof chartOf>[0];

  it('embeds a chart of usual size as a data URI', () => {
    const png = Buffer.alloc(15 * 1024, 1);
    expect(chartOf(content(png))).toEqual({
      url: `data:image/png;base64,${png.toString('base64')}`,
      title: 'Southwest: negative mentions, last 24 h (alert)',
    });
  });

  it('leaves out a chart that would push the card over Teams’ 28 KB, rather than have the card refused', () => {
    const png = Buffer.alloc(Math.ceil((MAX_CARD_CHART_CHARS * 3) / 4) + 100, 1);
    expect(chartOf(content(png))).toBeUndefined();
  });
});
