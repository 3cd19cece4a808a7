import { CHAT_COMMANDS, parseCommand, suggestCommand } from '../../src/bot/commands';

describe('parseCommand', () => {
  it.each(['help', 'HELP', '  help  ', '/help', '?', 'hi', 'Hello'])('%j is help', (text) => {
    expect(parseCommand(text).command?.name).toBe('help');
  });

  it('keeps the words after the command as arguments', () => {
    expect(parseCommand('help   me  please')).toMatchObject({ args: ['me', 'please'], text: 'help me please' });
  });

  it('unknown text has no command', () => {
    expect(parseCommand('give me the keys').command).toBeUndefined();
  });

  it('every command has a name, usage and description', () => {
    for (const command of CHAT_COMMANDS) {
      expect(command.name).toMatch(/^[a-z]+( [a-z]+)?$/);
      expect(command.usage.startsWith(command.name)).toBe(true);
      expect(command.description.length).toBeGreaterThan(5);
      expect(command.usage).not.toMatch(/[<>]/); // Teams would render it as markup
    }
  });
});

describe('suggestCommand', () => {
  it('suggests the nearest command for a typo', () => {
    expect(suggestCommand('hlep')).toBe('help');
    expect(suggestCommand('halp me')).toBe('help');
  });

  it('suggests nothing for text far from any command, or too short to judge', () => {
    expect(suggestCommand('quarterly numbers')).toBeUndefined();
    expect(suggestCommand('hp')).toBeUndefined();
  });
});
