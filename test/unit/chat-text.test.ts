/**
 * What every chat adapter does with untrusted text and voters (src/chat): entities decoded once, control
 * characters and terminal escape sequences dropped, voters named by platform and workspace.
 */
import { nothingToScore } from '../../src/chat/readable';
import { alertForChat, decodeOnce, stripControls, storedText } from '../../src/chat/text';
import { slackVoter, slackWorkspaceOf, teamsVoter } from '../../src/chat/voters';

describe('decodeOnce', () => {
  it('decodes entities once: the data set and X give tweets as published', () => {
    expect(decodeOnce('I &lt;3 you &amp; &gt; them &#39;x&#x27; &quot;q&quot;')).toBe(`I <3 you & > them 'x' "q"`);
    expect(decodeOnce('&amp;gt; stays one level: &amp;amp;')).toBe('&gt; stays one level: &amp;');
    expect(decodeOnce('no entity & < >')).toBe('no entity & < >');
  });

  it('decodes an alert’s mentions (text and author) and a stored mention, not a command', () => {
    const alert = alertForChat({
      mentions: [{ id: '1', url: 'u', text: 'late &amp; rude &gt;:(', createdAt: 'c', author: 'a&amp;b', negative: 1 }],
    });
    expect(alert.mentions[0]).toMatchObject({ text: 'late & rude >:(', author: 'a&b' });
    expect(storedText({ kind: 'mention', text: 'I &lt;3 it' })).toBe('I <3 it');
    expect(storedText({ kind: 'command', text: 'I typed &lt;3' })).toBe('I typed &lt;3');
  });
});

describe('stripControls', () => {
  it('drops escape sequences whole, other controls and bidi overrides; keeps tabs and newlines', () => {
    expect(stripControls('a\u001b[2Jb\u001b[1;31mc\u001b]0;title\u0007d\u001bce')).toBe('abcde');
    expect(stripControls('x\u0000y\u0008z\u007f\u009b!')).toBe('xyz!');
    expect(stripControls('evil\u202egnp.exe \u2066i\u2069')).toBe('evilgnp.exe i');
    expect(stripControls('one\r\ntwo\rthree\tfour')).toBe('one\ntwo\nthree\tfour');
    expect(stripControls('émoji 🙂 <3 & > 中文')).toBe('émoji 🙂 <3 & > 中文');
  });
});

describe('voters', () => {
  it('names a voter by platform and workspace, from the payload', () => {
    expect(slackVoter('T0001', 'U0123')).toBe('slack:T0001:U0123');
    expect(slackVoter('T0002', 'U0123')).not.toBe(slackVoter('T0001', 'U0123'));
    expect(teamsVoter('72f988bf-86f1-41af-91ab-2d7cd011db47', 'aad-1')).toBe(
      'teams:72f988bf-86f1-41af-91ab-2d7cd011db47:aad-1',
    );
    // Event envelope, slash command, interaction; an org-wide install names its enterprise.
    expect(slackWorkspaceOf({ team_id: 'T0001', event: {} })).toBe('T0001');
    expect(slackWorkspaceOf({ team: { id: 'T0002' }, user: { id: 'U1', team_id: 'T0003' } })).toBe('T0002');
    expect(slackWorkspaceOf({ user: { id: 'U1', team_id: 'T0003' } })).toBe('T0003');
    expect(slackWorkspaceOf({ team_id: null, enterprise_id: 'E0001' })).toBe('E0001');
    expect(slackWorkspaceOf({ team_id: 'slack:T1:U2' })).toBeUndefined();
    expect(slackWorkspaceOf(undefined)).toBeUndefined();
  });
});

describe('nothingToScore', () => {
  it('says why, plainly', () => {
    expect(nothingToScore('no words the model knows')).toBe(
      'Nothing to score in that text: no words the model knows. Try a sentence.',
    );
    expect(nothingToScore('only mentions and links.')).toBe(
      'Nothing to score in that text: only mentions and links. Try a sentence.',
    );
  });
});
