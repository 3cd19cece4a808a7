import { performance } from 'node:perf_hooks';
import { MAX_PATTERN_WORK, answerPatternProblem, clientPattern, matchesWholeAnswer } from '../../src/domain/answerPattern';

/** Patterns that make JavaScript's backtracking RegExp take seconds to minutes on a short answer. */
const CATASTROPHIC_PATTERNS = ['^([a-zA-Z0-9]+\\s?)*$', '(a+)+$', '(a|a)*$', '(a|aa)+$', '^(\\w+\\s?)*$', '(.*a){20}$', '([a-z]*[0-9]*)*!'];

/** Answers of exactly maxLength characters that defeat each pattern near its end. */
function evilAnswers(maxLength: number): string[] {
  return ['a'.repeat(maxLength - 1) + '!', 'ab '.repeat(maxLength / 3).slice(0, maxLength - 1) + '!', 'a1'.repeat(maxLength / 2 - 1) + 'a!', 'a'.repeat(maxLength)];
}

describe('matchesWholeAnswer', () => {
  it('matches the whole answer, anchored even when the admin did not anchor', () => {
    expect(matchesWholeAnswer('[0-9]{4}', '4711')).toBe(true);
    expect(matchesWholeAnswer('[0-9]{4}', '47110')).toBe(false);
    expect(matchesWholeAnswer('[0-9]{4}', 'cc4711')).toBe(false);
    expect(matchesWholeAnswer('^[0-9]{4}$', '4711')).toBe(true);
  });

  it('anchors an alternation as a whole', () => {
    expect(matchesWholeAnswer('EU|US', 'US')).toBe(true);
    expect(matchesWholeAnswer('EU|US', 'USA')).toBe(false);
    expect(matchesWholeAnswer('EU|US', 'NEU')).toBe(false);
  });

  it('does not let a trailing newline pass $', () => {
    expect(matchesWholeAnswer('^[0-9]{4}$', '4711\n')).toBe(false);
    expect(matchesWholeAnswer('[0-9]{4}', '4711\nDROP TABLE')).toBe(false);
  });

  it('returns null for a pattern RE2 cannot run, so the caller fails closed', () => {
    expect(matchesWholeAnswer('(a)\\1', 'aa')).toBeNull();
    expect(matchesWholeAnswer('(?=x)x', 'x')).toBeNull();
    expect(matchesWholeAnswer('[0-9', '4')).toBeNull();
    expect(matchesWholeAnswer('\\Qabc', 'abc')).toBeNull();
  });

  it('checks every catastrophic pattern on maximum-length answers in linear time', () => {
    const timings: number[] = [];
    for (const maxLength of [1000, 4000]) {
      for (const pattern of CATASTROPHIC_PATTERNS) {
        expect(answerPatternProblem(pattern, maxLength)).toBeUndefined();
        for (const answer of evilAnswers(maxLength)) {
          expect(answer).toHaveLength(maxLength);
          const started = performance.now();
          matchesWholeAnswer(pattern, answer);
          timings.push(performance.now() - started);
        }
      }
    }
    // RegExp needs minutes for the first of these; RE2 about a millisecond. The bound is generous
    // so a busy CI machine doesn't make the test flaky.
    expect(Math.max(...timings)).toBeLessThan(50);
  });

  it('still answers correctly on those patterns', () => {
    expect(matchesWholeAnswer('^([a-zA-Z0-9]+\\s?)*$', 'Fred needs what Lola has')).toBe(true);
    expect(matchesWholeAnswer('^([a-zA-Z0-9]+\\s?)*$', 'a'.repeat(40) + '!')).toBe(false);
  });

  it('checks a pattern at the complexity limit on a maximum-length answer quickly', () => {
    // (?:a?){n}a{n} keeps RE2 on its slowest path; n = 80 is just under the limit for 1000 characters.
    const pattern = '(?:a?){80}a{80}';
    expect(answerPatternProblem(pattern, 1000)).toBeUndefined();
    const timings = evilAnswers(1000).map((answer) => {
      const started = performance.now();
      matchesWholeAnswer(pattern, answer);
      return performance.now() - started;
    });
    expect(Math.max(...timings)).toBeLessThan(50);
  });
});

describe('answerPatternProblem', () => {
  it.each([
    ['(a)\\1', { kind: 'backreference', at: '\\1' }],
    ['(?<n>a)\\k<n>', { kind: 'backreference', at: '\\k' }],
    ['(?=x)', { kind: 'lookahead', at: '(?=' }],
    ['^(?!admin).*', { kind: 'lookahead', at: '(?!' }],
    ['(?<=x)a', { kind: 'lookbehind', at: '(?<=' }],
    ['(?<!x)a', { kind: 'lookbehind', at: '(?<!' }],
    ['(?>a)', { kind: 'atomicOrPossessive', at: '(?>' }],
    ['a++', { kind: 'atomicOrPossessive', at: '++' }],
    ['\\u00e9', { kind: 'unicodeEscape', at: '\\u' }],
    ['\\cA', { kind: 'controlEscape', at: '\\c' }],
    ['[^]', { kind: 'anyCharacterClass', at: '[^]' }],
    ['a{1001}', { kind: 'repeatTooLarge', at: '{1001}' }],
    ['a{3,2}', { kind: 'syntax', reason: 'invalid repeat count', at: '{3,2}' }],
    ['\\Qa)|(b', { kind: 'unclosedQuote' }],
    ['[0-9', { kind: 'syntax', reason: 'missing closing ]', at: '[0-9' }],
    ['', { kind: 'empty' }],
  ])('refuses %j', (pattern, problem) => {
    expect(answerPatternProblem(pattern, 1000)).toEqual(problem);
  });

  it('accepts RE2 syntax JavaScript lacks', () => {
    for (const pattern of ['\\p{L}+', '[[:alpha:]]+', '(?i)chg[0-9]{7}', '\\x{00E9}', '(?P<year>[0-9]{4})']) {
      expect(answerPatternProblem(pattern, 1000)).toBeUndefined();
    }
  });

  it('refuses a pattern too complex for the maximum answer length, and says what the limit is', () => {
    expect(answerPatternProblem('[A-Za-z ]{3,200}', 1000)).toBeUndefined();
    const problem = answerPatternProblem('[A-Za-z ]{3,200}', 4000);
    expect(problem).toEqual({ kind: 'tooComplex', programSize: 401, maxLength: 4000, limit: MAX_PATTERN_WORK / 4000 });
  });
});

describe('clientPattern', () => {
  it('sends simple patterns anchored, allowing the whitespace the server trims', () => {
    expect(clientPattern('^[0-9]{4}$')).toBe('^\\s*(?:[0-9]{4})\\s*$');
    expect(clientPattern('[0-9]{4}')).toBe('^\\s*(?:[0-9]{4})\\s*$');
    expect(clientPattern('^EU$|^US$')).toBe('^\\s*(?:EU|US)\\s*$');
    expect(clientPattern('(INC|CHG)[0-9]{7}')).toBe('^\\s*(?:(?:INC|CHG)[0-9]{7})\\s*$');
  });

  it('rewrites what JavaScript reads differently into what RE2 means', () => {
    const anyBut = (excluded: string) => `(?:[\\ud800-\\udbff][\\udc00-\\udfff]|[^\\ud800-\\udfff${excluded}])`;
    expect(clientPattern('a.b')).toBe(`^\\s*(?:a${anyBut('\\n')}b)\\s*$`);
    expect(clientPattern('\\s\\S')).toBe(`^\\s*(?:[\\t\\n\\f\\r ]${anyBut('\\t\\n\\f\\r ')})\\s*$`);
    expect(clientPattern('[^a-]')).toBe(`^\\s*(?:${anyBut('a-')})\\s*$`);
    expect(clientPattern('[\\s,]')).toBe('^\\s*(?:[\\t\\n\\f\\r ,])\\s*$');
    expect(clientPattern('caf\\x{e9}')).toBe('^\\s*(?:caf\\u00e9)\\s*$');
    expect(clientPattern('\\$[0-9]+')).toBe('^\\s*(?:\\x24[0-9]+)\\s*$');
  });

  it.each([
    ['^([a-zA-Z0-9]+\\s?)*$', 'nested repetition: RegExp would freeze the client'],
    ['(a|a)*$', 'repeated alternation'],
    ['[a-z]+(\\.[a-z]+)*', 'nested repetition'],
    ['\\d{1,3}(\\.\\d{1,3}){3}', 'bounded nested repetition'],
    ['\\p{L}+', 'a Unicode class JavaScript without u reads as "p{L}"'],
    ['[[:alpha:]]+', 'a POSIX class JavaScript reads as a different class'],
    ['\\Qa.b\\E', 'RE2 quoting'],
    ['(?i)abc', 'an inline flag'],
    ['\\Aabc\\z', 'RE2 text anchors'],
    ['😀+', 'a character JavaScript without u sees as two'],
    ['[]a]', 'a class JavaScript reads as empty'],
    ['[\\s-z]', 'a range from a class escape'],
    ['[\\s\\S]', 'a negated escape in a class'],
    ['x$y', 'an anchor inside the pattern'],
    ['\\0', 'an octal escape'],
    ['(a)\\1', 'a pattern RE2 refuses'],
  ])('does not send %j (%s)', (pattern) => {
    expect(clientPattern(pattern)).toBeUndefined();
  });

  it("sends nothing RegExp backtracks on for long: the client's check of a maximum-length answer stays quick", () => {
    const sent = ['\\w+@\\w+', '[^a]+b', '\\S+ \\S+', '.*x', '[a-z]+[0-9]*', '(foo|bar)?x'].map((pattern) => clientPattern(pattern)!);
    expect(sent.every((client) => client !== undefined)).toBe(true);
    const timings: number[] = [];
    for (const client of sent) {
      for (const answer of evilAnswers(1000)) {
        const started = performance.now();
        new RegExp(client, 'g').test(answer);
        timings.push(performance.now() - started);
      }
    }
    expect(Math.max(...timings)).toBeLessThan(50);
  });

  // The same answers get the same verdict from RegExp on the translation as from RE2 on the
  // pattern; padded with whitespace the server trims, the client never refuses what the server
  // accepts (it may accept more: the server has the last word).
  it.each([
    '^[0-9]{4}$',
    'EU|US',
    '^CHG[0-9]{7}$',
    'a.b',
    '[^a]+',
    '\\w+@\\w+',
    '.{1,3}',
    '[^,]{2}',
    '\\D\\W\\S',
    '[^-a]+',
    '\\S+ \\S+',
    '\\bcat\\b.*',
    'caf\\x{e9}',
    '(?P<id>[A-Z]{2})-[0-9]{3}',
    'a{,3}',
    '(foo|bar)?x',
  ])('means the same in the client as on the server: %j', (pattern) => {
    const client = clientPattern(pattern);
    expect(client).toBeDefined();
    const samples = ['4711', '47110', 'EU', 'US', 'USA', 'CHG0012345', 'a\nb', 'a\rb', 'a\u2028b', 'axb', 'aa', 'bbb', 'fred@contoso', 'a b', 'a\u00a0b', 'x y', 'café', 'cafe', 'AB-123', 'a{,3}', 'foox', 'x', 'cat food', 'cat', '😀', 'a😀b', '😀😀', '😀😀😀😀', 'a😀', '1 😀', 'a-b', ',,'];
    for (const sample of samples) {
      const onServer = matchesWholeAnswer(pattern, sample);
      expect({ sample, client: new RegExp(client!, 'g').test(sample) }).toEqual({ sample, client: onServer });
      const padded = `  ${sample}\u00a0\n`;
      if (onServer) expect({ padded, client: new RegExp(client!, 'g').test(padded) }).toEqual({ padded, client: true });
    }
  });
});
