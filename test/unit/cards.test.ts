import { readdirSync } from 'node:fs';
import { CARDS_DIR, CardRenderer } from '../../src/bot/cards';
import { CHAT_COMMANDS } from '../../src/bot/commands';
import { helpCard, noticeCard, unknownCommandCard } from '../../src/bot/views';
import { validateCard } from '../support/cardValidation';

// Every template with realistic data, including edge cases (long text, empty lists).
const SAMPLES: Record<string, object[]> = {
  help: [helpCard(CHAT_COMMANDS, false), helpCard(CHAT_COMMANDS, true)],
  welcome: [{ name: 'Megan' }, { name: '' }],
  unknownCommand: [
    unknownCommandCard('hlep', CHAT_COMMANDS, false, 'help'),
    unknownCommandCard('x'.repeat(5000), CHAT_COMMANDS, false),
  ],
  notice: [noticeCard('Done', 'All good'), noticeCard('Careful', 'Something to know', 'warning'), noticeCard('Failed', 'It broke', 'error')],
};

const renderer = new CardRenderer();
const templates = readdirSync(CARDS_DIR).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));

describe('card templates', () => {
  it('every template in cards/ has sample data in this test', () => {
    expect(templates.filter((t) => !SAMPLES[t])).toEqual([]);
  });

  describe.each(templates)('%s', (template) => {
    it.each((SAMPLES[template] ?? []).map((data, i) => [i, data] as const))('renders sample %i to a valid Adaptive Card 1.5 under 80 KB', (_i, data) => {
      const card = renderer.render(template, data);
      expect(validateCard(card)).toEqual([]);
    });
  });

  it('the validator catches a broken card (so the checks above mean something)', () => {
    const problems = validateCard({
      type: 'AdaptiveCard',
      version: '1.4',
      body: [{ type: 'TextBlok', text: 'typo' }, { type: 'Input.Text' }, { type: 'TextBlock', text: 'x'.repeat(90 * 1024) }],
      actions: [{ type: 'Action.Execute', title: 'Go', verb: 'go', data: {} }],
    });
    expect(problems.join('\n')).toMatch(/Unknown element type "TextBlok"/);
    expect(problems.join('\n')).toMatch(/unique Id/);
    expect(problems.join('\n')).toMatch(/version is 1.4/);
    expect(problems.join('\n')).toMatch(/limit 81920/);
    expect(problems.join('\n')).toMatch(/must repeat its verb/);
    expect(problems.join('\n')).toMatch(/no Action.Submit fallback/);
  });

  it('the help card lists each command and a button per command verb', () => {
    const card = renderer.render('help', helpCard(CHAT_COMMANDS, false));
    const text = JSON.stringify(card);
    for (const command of CHAT_COMMANDS.filter((c) => !c.adminOnly)) expect(text).toContain(command.usage);
  });

  it('user text echoed in the unknown-command card is shortened', () => {
    const card = renderer.render('unknownCommand', unknownCommandCard('y'.repeat(500), CHAT_COMMANDS, false));
    expect(JSON.stringify(card)).not.toContain('y'.repeat(100));
    expect(JSON.stringify(card)).toContain('…');
  });

  it('refuses a template name that could escape cards/', () => {
    expect(() => renderer.render('../package', {})).toThrow(/invalid card template name/);
  });
});
