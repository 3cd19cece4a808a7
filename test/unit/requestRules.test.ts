import type { Expiration, Question } from '../../src/domain/model';
import { DEFAULT_JUSTIFICATION_MAX_LENGTH, validateSubmission, type SubmissionInput, type SubmissionResult } from '../../src/domain/requestRules';
import { NOW, makeChoiceQuestion, makePolicy, makeQuestion, type PolicyOverrides } from '../support/domainFixtures';

const at = (iso: string) => new Date(iso);
const HOSTILE_OBJECT = JSON.parse('{"$gt": ""}') as unknown;
const HUNDRED_KB = 'x'.repeat(100 * 1024);

function submit(overrides: Partial<Omit<SubmissionInput, 'policy'>> & { policy?: PolicyOverrides } = {}): SubmissionResult {
  const { policy, ...rest } = overrides;
  return validateSubmission({
    policy: makePolicy(policy),
    justification: 'I joined the accounting team.',
    answers: {},
    schedule: {},
    now: NOW,
    ...rest,
  });
}

function value(result: SubmissionResult) {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.errors)}`);
  return result.value;
}

function errors(result: SubmissionResult) {
  if (result.ok) throw new Error(`expected errors, got ${JSON.stringify(result.value)}`);
  return result.errors;
}

const onlyQuestion = (question: Question, extra: PolicyOverrides = {}): PolicyOverrides => ({ questions: [question], ...extra });
const choosing = (expiration: Expiration = { type: 'afterDuration', duration: 'P90D' }): PolicyOverrides => ({
  lifecycle: { requestorCanChooseSchedule: true, expiration },
});

describe('validateSubmission: a clean submission', () => {
  it('returns the normalised values', () => {
    const result = submit({
      policy: { questions: [makeQuestion({ regex: '[0-9]{4}' }), makeChoiceQuestion()] },
      justification: '  I joined the accounting team.\n',
      answers: { costCentre: ' 4711 ', region: 'emea' },
    });
    expect(value(result)).toEqual({
      justification: 'I joined the accounting team.',
      answers: [
        { questionId: 'costCentre', value: '4711' },
        { questionId: 'region', value: 'emea' },
      ],
      schedule: { startAt: NOW },
    });
  });

  it('returns answers in the policy question order, whatever order the card sent', () => {
    const questions = [makeQuestion({ id: 'b', text: 'B?' }), makeQuestion({ id: 'a', text: 'A?' })];
    const result = value(submit({ policy: { questions }, answers: { a: '1', b: '2' } }));
    expect(result.answers.map((a) => a.questionId)).toEqual(['b', 'a']);
  });

  it('returns a fresh start date, not the caller’s clock object', () => {
    const result = value(submit());
    expect(result.schedule.startAt).toEqual(NOW);
    expect(result.schedule.startAt).not.toBe(NOW);
  });
});

describe('validateSubmission: justification', () => {
  const required = 'A justification is required: say why you need this access.';

  it.each([undefined, null, '', '   \n\t '])('is required when the policy says so (%j)', (justification) => {
    expect(errors(submit({ justification }))).toEqual([{ field: 'justification', message: required }]);
  });

  it('is required by the flag alone, even when approval is not required', () => {
    const result = submit({ policy: { approval: { required: false, requestorJustificationRequired: true, stages: [] } }, justification: '' });
    expect(errors(result)).toEqual([{ field: 'justification', message: required }]);
  });

  it('is optional otherwise, and left out when blank', () => {
    const policy = { approval: { requestorJustificationRequired: false } };
    expect(value(submit({ policy, justification: undefined }))).not.toHaveProperty('justification');
    expect(value(submit({ policy, justification: '  ' }))).not.toHaveProperty('justification');
    expect(value(submit({ policy, justification: ' because ' })).justification).toBe('because');
  });

  it('may be as long as the limit, counted after trimming', () => {
    const text = 'a'.repeat(DEFAULT_JUSTIFICATION_MAX_LENGTH);
    expect(DEFAULT_JUSTIFICATION_MAX_LENGTH).toBe(1000);
    expect(value(submit({ justification: `  ${text}  ` })).justification).toBe(text);
  });

  it('refuses one character over the limit, saying both numbers', () => {
    expect(errors(submit({ justification: 'a'.repeat(1001) }))).toEqual([
      { field: 'justification', message: 'Your justification can be at most 1000 characters; yours has 1001.' },
    ]);
  });

  it('counts characters, not UTF-16 code units', () => {
    expect(value(submit({ justification: '😀'.repeat(1000) })).justification).toHaveLength(2000);
    expect(errors(submit({ justification: '😀'.repeat(1001) }))[0].message).toContain('yours has 1001');
  });

  it('honours a configured limit', () => {
    const limits = { justificationMaxLength: 10 };
    expect(value(submit({ justification: '0123456789', limits })).justification).toBe('0123456789');
    expect(errors(submit({ justification: '0123456789A', limits }))[0].message).toBe(
      'Your justification can be at most 10 characters; yours has 11.',
    );
  });

  it('refuses a 100 KB justification', () => {
    expect(errors(submit({ justification: HUNDRED_KB }))).toEqual([
      { field: 'justification', message: `Your justification can be at most 1000 characters; yours has ${100 * 1024}.` },
    ]);
  });

  it.each([42, true, ['why'], HOSTILE_OBJECT, {}])('refuses %j: it must be text', (justification) => {
    expect(errors(submit({ justification }))).toEqual([{ field: 'justification', message: 'The justification must be text.' }]);
  });
});

describe('validateSubmission: text questions', () => {
  const field = 'answers.costCentre';

  it('requires an answer to a required question', () => {
    const message = 'An answer to "What is your cost centre?" is required.';
    for (const answer of [undefined, null, '', '  ']) {
      const answers = answer === undefined ? {} : { costCentre: answer };
      expect(errors(submit({ policy: onlyQuestion(makeQuestion()), answers }))).toEqual([{ field, message }]);
    }
  });

  it('leaves an unanswered optional question out', () => {
    const result = value(submit({ policy: onlyQuestion(makeQuestion({ required: false })), answers: { costCentre: ' ' } }));
    expect(result.answers).toEqual([]);
  });

  it('enforces the question maxLength, at the boundary', () => {
    const policy = onlyQuestion(makeQuestion({ type: 'longText', maxLength: 5 }));
    expect(value(submit({ policy, answers: { costCentre: '12345' } })).answers).toEqual([{ questionId: 'costCentre', value: '12345' }]);
    expect(errors(submit({ policy, answers: { costCentre: '123456' } }))).toEqual([
      { field, message: 'The answer to "What is your cost centre?" can be at most 5 characters; yours has 6.' },
    ]);
  });

  it('refuses a 100 KB answer', () => {
    expect(errors(submit({ policy: onlyQuestion(makeQuestion()), answers: { costCentre: HUNDRED_KB } }))[0].message).toBe(
      `The answer to "What is your cost centre?" can be at most 1000 characters; yours has ${100 * 1024}.`,
    );
  });

  it('checks length before the regex, so a hostile pattern never runs on huge input', () => {
    const policy = onlyQuestion(makeQuestion({ regex: '(a+)+b' }));
    const started = Date.now();
    const result = submit({ policy, answers: { costCentre: 'a'.repeat(100 * 1024) } });
    expect(errors(result)[0].message).toContain('at most 1000 characters');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it.each([42, 0, false, ['4711'], HOSTILE_OBJECT, {}])('refuses %j: it must be text', (answer) => {
    expect(errors(submit({ policy: onlyQuestion(makeQuestion()), answers: { costCentre: answer } }))).toEqual([
      { field, message: 'The answer to "What is your cost centre?" must be text.' },
    ]);
  });

  describe('regex', () => {
    const defaultMessage = `The answer to "What is your cost centre?" isn't in the expected format.`;
    const check = (regex: string, answer: string, extra: Partial<Question> = {}) =>
      submit({ policy: onlyQuestion(makeQuestion({ regex, ...extra })), answers: { costCentre: answer } });

    it('accepts a matching answer', () => {
      expect(value(check('[0-9]{4}', '4711')).answers).toEqual([{ questionId: 'costCentre', value: '4711' }]);
    });

    it('must match the whole answer even when the admin did not anchor it', () => {
      expect(errors(check('[0-9]{4}', '47110'))).toEqual([{ field, message: defaultMessage }]);
      expect(errors(check('[0-9]{4}', 'cc4711'))).toEqual([{ field, message: defaultMessage }]);
    });

    it('anchors an alternation as a whole', () => {
      expect(value(check('EU|US', 'US')).answers).toHaveLength(1);
      expect(errors(check('EU|US', 'USA'))).toHaveLength(1);
      expect(errors(check('EU|US', 'NEU'))).toHaveLength(1);
    });

    it('works with patterns the admin already anchored', () => {
      expect(value(check('^[0-9]{4}$', '4711')).answers).toHaveLength(1);
      expect(errors(check('^[0-9]{4}$', '471'))).toEqual([{ field, message: defaultMessage }]);
    });

    it('matches the trimmed answer', () => {
      expect(value(check('[0-9]{4}', '  4711  ')).answers).toEqual([{ questionId: 'costCentre', value: '4711' }]);
    });

    it('does not let a newline slip past the anchors', () => {
      expect(errors(check('[0-9]{4}', '4711\nDROP TABLE'))).toHaveLength(1);
    });

    it("uses the admin's regexMessage when there is one", () => {
      const message = 'Your cost centre is four digits, like 4711.';
      expect(errors(check('[0-9]{4}', 'abc', { regexMessage: message }))).toEqual([{ field, message }]);
    });

    it('checks a hostile answer to a catastrophic pattern quickly, and still refuses it', () => {
      // With JavaScript's RegExp each of these took seconds (the first one minutes).
      const pattern = '^([a-zA-Z0-9]+\\s?)*$';
      for (const [answer, maxLength] of [
        ['a'.repeat(40) + '!', 1000],
        ['a'.repeat(999) + '!', 1000],
        ['ab '.repeat(1333) + '!', 4000],
      ] as const) {
        const started = performance.now();
        const result = check(pattern, answer, { maxLength, regexMessage: 'Letters, digits and single spaces only.' });
        expect(performance.now() - started).toBeLessThan(50);
        expect(errors(result)).toEqual([{ field, message: 'Letters, digits and single spaces only.' }]);
      }
      expect(value(check(pattern, 'Fred needs what Lola has')).answers).toHaveLength(1);
    });

    it('fails closed on a pattern only JavaScript can run (stored before the catalog required RE2)', () => {
      expect(errors(check('(\\d)\\1', '44'))[0].message).toMatch(/can't be checked because the question is set up wrongly/);
      expect(errors(check('(?=4)[0-9]{4}', '4711'))[0].message).toMatch(/can't be checked because the question is set up wrongly/);
    });

    it('fails closed when the pattern does not compile', () => {
      expect(errors(check('[0-9', '4711'))).toEqual([
        { field, message: `The answer to "What is your cost centre?" can't be checked because the question is set up wrongly. Ask IT to fix it.` },
      ]);
    });
  });
});

describe('validateSubmission: single-choice questions', () => {
  const field = 'answers.region';
  const policy = onlyQuestion(makeChoiceQuestion());
  const invalid = 'Choose from the offered answers for "Which region do you work in?".';

  it('accepts one of the choice values', () => {
    expect(value(submit({ policy, answers: { region: 'apac' } })).answers).toEqual([{ questionId: 'region', value: 'apac' }]);
  });

  it('refuses a value that is not a choice, including a display name, without echoing it', () => {
    for (const answer of ['antarctica', 'Americas', 'EMEA', '<b>emea</b>']) {
      const result = errors(submit({ policy, answers: { region: answer } }));
      expect(result).toEqual([{ field, message: invalid }]);
    }
  });

  it('refuses several values for a single selection', () => {
    expect(errors(submit({ policy, answers: { region: 'emea,amer' } }))).toEqual([
      { field, message: 'Choose only one answer for "Which region do you work in?".' },
    ]);
  });

  it('refuses an array, even of one valid value', () => {
    expect(errors(submit({ policy, answers: { region: ['emea'] } }))).toEqual([
      { field, message: 'The answer to "Which region do you work in?" must be text.' },
    ]);
  });

  it.each([7, HOSTILE_OBJECT, true])('refuses %j: it must be text', (answer) => {
    expect(errors(submit({ policy, answers: { region: answer } }))[0].message).toBe('The answer to "Which region do you work in?" must be text.');
  });

  it('requires a selection when required', () => {
    expect(errors(submit({ policy, answers: { region: '' } }))).toEqual([
      { field, message: 'An answer to "Which region do you work in?" is required.' },
    ]);
  });

  it('accepts a choice value that itself contains a comma', () => {
    const question = makeChoiceQuestion({ choices: [{ value: 'Paris, France', displayName: 'Paris' }] });
    expect(value(submit({ policy: onlyQuestion(question), answers: { region: 'Paris, France' } })).answers[0].value).toBe('Paris, France');
  });

  it('refuses a 100 KB value', () => {
    expect(errors(submit({ policy, answers: { region: HUNDRED_KB } }))).toEqual([{ field, message: invalid }]);
  });
});

describe('validateSubmission: multiple-choice questions', () => {
  const field = 'answers.region';
  const policy = onlyQuestion(makeChoiceQuestion({ allowsMultipleSelections: true }));
  const answer = (region: unknown) => submit({ policy, answers: { region } });

  it('accepts the comma-separated string Adaptive Cards send', () => {
    expect(value(answer('emea,apac')).answers).toEqual([{ questionId: 'region', value: ['emea', 'apac'] }]);
  });

  it('accepts a single selection as a one-element list', () => {
    expect(value(answer('amer')).answers).toEqual([{ questionId: 'region', value: ['amer'] }]);
  });

  it('accepts an array', () => {
    expect(value(answer(['apac', 'emea'])).answers).toEqual([{ questionId: 'region', value: ['apac', 'emea'] }]);
  });

  it('trims, drops empty parts and duplicates, keeping the first-seen order', () => {
    expect(value(answer(' apac , emea,,apac ,')).answers).toEqual([{ questionId: 'region', value: ['apac', 'emea'] }]);
    expect(value(answer(['emea', 'emea', ' amer '])).answers).toEqual([{ questionId: 'region', value: ['emea', 'amer'] }]);
  });

  it('refuses when any selection is not a choice', () => {
    const message = 'Choose from the offered answers for "Which region do you work in?".';
    expect(errors(answer('emea,mars'))).toEqual([{ field, message }]);
    expect(errors(answer(['emea', 'mars']))).toEqual([{ field, message }]);
  });

  it('refuses arrays holding anything but text', () => {
    const message = 'The answer to "Which region do you work in?" must be text.';
    for (const region of [['emea', 3], [HOSTILE_OBJECT], [['emea']], [null]]) {
      expect(errors(answer(region))).toEqual([{ field, message }]);
    }
  });

  it.each([5, HOSTILE_OBJECT, true])('refuses %j: it must be text', (region) => {
    expect(errors(answer(region))[0].message).toBe('The answer to "Which region do you work in?" must be text.');
  });

  it('treats an empty selection as unanswered', () => {
    const message = 'An answer to "Which region do you work in?" is required.';
    for (const region of ['', ' , ', [], ['', ' '], null]) {
      expect(errors(answer(region))).toEqual([{ field, message }]);
    }
    const optional = onlyQuestion(makeChoiceQuestion({ allowsMultipleSelections: true, required: false }));
    expect(value(submit({ policy: optional, answers: { region: [] } })).answers).toEqual([]);
  });

  it('copes with a huge array of repeats', () => {
    expect(value(answer(Array.from({ length: 50_000 }, () => 'emea'))).answers).toEqual([{ questionId: 'region', value: ['emea'] }]);
  });
});

describe('validateSubmission: tampered answers', () => {
  const unknown = {
    field: 'answers',
    message: "The form included answers to questions this package doesn't ask. Reload the card and try again.",
  };

  it('refuses answers to questions the policy does not ask, once', () => {
    const result = submit({ policy: onlyQuestion(makeQuestion()), answers: { costCentre: '4711', isAdmin: 'yes', role: 'owner' } });
    expect(errors(result)).toEqual([unknown]);
  });

  it('refuses unknown keys even when the policy has no questions', () => {
    expect(errors(submit({ answers: { x: '' } }))).toEqual([unknown]);
  });

  it('refuses a __proto__ key smuggled in through JSON', () => {
    const answers = JSON.parse('{"__proto__": {"polluted": "yes"}}') as Record<string, unknown>;
    expect(errors(submit({ answers }))).toEqual([unknown]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reads only own properties, so a question called "constructor" is simply unanswered', () => {
    const question = makeQuestion({ id: 'constructor', text: 'Who built it?' });
    expect(errors(submit({ policy: onlyQuestion(question), answers: {} }))).toEqual([
      { field: 'answers.constructor', message: 'An answer to "Who built it?" is required.' },
    ]);
  });

  it.each([null, 'costCentre=4711', ['4711'], 3])('refuses answers that are not an object (%j)', (answers) => {
    const result = submit({ policy: onlyQuestion(makeQuestion()), answers: answers as unknown as Record<string, unknown> });
    expect(errors(result)).toEqual([{ field: 'answers', message: "The form's answers couldn't be read. Reload the card and try again." }]);
  });
});

describe('validateSubmission: schedule when the policy sets it', () => {
  const notAllowed = {
    field: 'schedule',
    message: "This package doesn't let you choose dates: access starts when it's granted and lasts as long as the package allows.",
  };

  it('starts now and leaves the expiry to delivery', () => {
    expect(value(submit()).schedule).toEqual({ startAt: NOW });
  });

  it.each([{ startDate: '2026-12-01' }, { endDate: '2026-12-01' }, { startDate: '2026-12-01', endDate: '2027-01-01' }, { startDate: HOSTILE_OBJECT }, { endDate: 42 }])(
    'refuses chosen dates (%j)',
    (schedule) => {
      expect(errors(submit({ schedule }))).toEqual([notAllowed]);
    },
  );

  it('accepts blank date inputs, which cards send for untouched fields', () => {
    expect(value(submit({ schedule: { startDate: '', endDate: null } })).schedule).toEqual({ startAt: NOW });
  });

  it('refuses a request once an onDate policy has ended', () => {
    const result = submit({ policy: { lifecycle: { expiration: { type: 'onDate', date: at('2026-11-01T00:00:00Z') } } } });
    expect(errors(result)).toEqual([
      { field: 'schedule', message: "This package's access ended on 1 Nov 2026, so it can't be granted any more." },
    ]);
  });

  it('refuses a schedule that is not an object', () => {
    const result = submit({ schedule: 'tomorrow' as unknown as SubmissionInput['schedule'] });
    expect(errors(result)).toEqual([{ field: 'schedule', message: "The form's dates couldn't be read. Reload the card and try again." }]);
  });
});

describe('validateSubmission: schedule chosen by the requester', () => {
  const schedule = (startDate?: unknown, endDate?: unknown, expiration?: Expiration, now = NOW) =>
    submit({ policy: choosing(expiration), schedule: { startDate, endDate }, now });

  describe('start', () => {
    it('defaults to now', () => {
      expect(value(schedule()).schedule).toEqual({ startAt: NOW });
    });

    it('today means now', () => {
      expect(value(schedule('2026-11-22')).schedule).toEqual({ startAt: NOW });
    });

    it('a later day starts at 00:00 UTC that day', () => {
      expect(value(schedule('2026-11-23')).schedule).toEqual({ startAt: at('2026-11-23T00:00:00.000Z') });
    });

    it('today is still today in its last millisecond (UTC)', () => {
      const lastMoment = at('2026-11-22T23:59:59.999Z');
      expect(value(schedule('2026-11-22', undefined, undefined, lastMoment)).schedule).toEqual({ startAt: lastMoment });
      expect(errors(schedule('2026-11-21', undefined, undefined, lastMoment))).toHaveLength(1);
    });

    it('is today from the first millisecond of the UTC day', () => {
      const midnight = at('2026-11-23T00:00:00.000Z');
      expect(value(schedule('2026-11-23', undefined, undefined, midnight)).schedule).toEqual({ startAt: midnight });
      expect(errors(schedule('2026-11-22', undefined, undefined, midnight))).toEqual([
        { field: 'startDate', message: "The start date can't be in the past." },
      ]);
    });

    it('may not be in the past', () => {
      expect(errors(schedule('2026-11-21'))).toEqual([{ field: 'startDate', message: "The start date can't be in the past." }]);
      expect(errors(schedule('1970-01-01'))).toHaveLength(1);
    });

    it.each(
      ['23/11/2026', '2026-11-23T10:00:00Z', '2026-2-3', '2026-02-30', '2026-13-01', '2026-00-10', '+02026-11-23', 'tomorrow', HUNDRED_KB].map(
        (text) => [text.length > 40 ? `${text.length} characters of "x"` : text, text],
      ),
    )(
      'refuses %s: not a YYYY-MM-DD date',
      (_label, startDate) => {
        expect(errors(schedule(startDate))).toEqual([{ field: 'startDate', message: "The start date isn't a valid date: use the form YYYY-MM-DD." }]);
      },
    );

    it('accepts 29 February in a leap year only', () => {
      expect(value(schedule('2028-02-29', undefined, { type: 'noExpiration' })).schedule.startAt).toEqual(at('2028-02-29T00:00:00Z'));
      expect(errors(schedule('2027-02-29'))).toHaveLength(1);
    });

    it.each([20261123, HOSTILE_OBJECT, ['2026-11-23'], true])('refuses %j: it must be text', (startDate) => {
      expect(errors(schedule(startDate))).toEqual([{ field: 'startDate', message: 'The start date must be text in the form YYYY-MM-DD.' }]);
    });
  });

  describe('end', () => {
    it('ends at the last millisecond of the chosen UTC day', () => {
      expect(value(schedule(undefined, '2026-12-01')).schedule).toEqual({ startAt: NOW, expiresAt: at('2026-12-01T23:59:59.999Z') });
    });

    it('may end on the start day (one-day access)', () => {
      expect(value(schedule('2026-11-25', '2026-11-25')).schedule).toEqual({
        startAt: at('2026-11-25T00:00:00Z'),
        expiresAt: at('2026-11-25T23:59:59.999Z'),
      });
      expect(value(schedule(undefined, '2026-11-22')).schedule).toEqual({ startAt: NOW, expiresAt: at('2026-11-22T23:59:59.999Z') });
    });

    it('may not be before the start', () => {
      expect(errors(schedule('2026-11-25', '2026-11-24'))).toEqual([{ field: 'endDate', message: "The end date can't be before the start date." }]);
    });

    it('may not be in the past', () => {
      expect(errors(schedule(undefined, '2026-11-21'))).toEqual([{ field: 'endDate', message: "The end date can't be in the past." }]);
    });

    it('refuses an end that has already passed in the last millisecond of today', () => {
      const lastMoment = at('2026-11-22T23:59:59.999Z');
      expect(errors(schedule(undefined, '2026-11-22', undefined, lastMoment))).toEqual([
        { field: 'endDate', message: "The end date can't be in the past." },
      ]);
    });

    it.each([HOSTILE_OBJECT, 1, ['2026-12-01']])('refuses %j: it must be text', (endDate) => {
      expect(errors(schedule(undefined, endDate))).toEqual([{ field: 'endDate', message: 'The end date must be text in the form YYYY-MM-DD.' }]);
    });

    it('reports a bad start and a bad end together', () => {
      expect(errors(schedule('yesterday', HOSTILE_OBJECT))).toEqual([
        { field: 'startDate', message: "The start date isn't a valid date: use the form YYYY-MM-DD." },
        { field: 'endDate', message: 'The end date must be text in the form YYYY-MM-DD.' },
      ]);
    });
  });

  describe('against the policy maximum (afterDuration P90D: at most until 2027-02-20T09:00Z from now)', () => {
    it('accepts the day before the maximum in full', () => {
      expect(value(schedule(undefined, '2027-02-19')).schedule.expiresAt).toEqual(at('2027-02-19T23:59:59.999Z'));
    });

    it('accepts the day of the maximum, capped at the maximum', () => {
      expect(value(schedule(undefined, '2027-02-20')).schedule.expiresAt).toEqual(at('2027-02-20T09:00:00.000Z'));
    });

    it('refuses the day after, stating the limit', () => {
      expect(errors(schedule(undefined, '2027-02-21'))).toEqual([
        { field: 'endDate', message: 'Access to this package can last at most 90 days: choose an earlier end date.' },
      ]);
    });

    it('counts the maximum from a later chosen start', () => {
      // From 2026-12-01T00:00Z, 90 days end at 2027-03-01T00:00Z.
      expect(value(schedule('2026-12-01', '2027-02-28')).schedule.expiresAt).toEqual(at('2027-02-28T23:59:59.999Z'));
      expect(value(schedule('2026-12-01', '2027-03-01')).schedule.expiresAt).toEqual(at('2027-03-01T00:00:00.000Z'));
      expect(errors(schedule('2026-12-01', '2027-03-02'))).toHaveLength(1);
    });

    it('caps just-in-time access at its duration when the end is today', () => {
      const jit: Expiration = { type: 'afterDuration', duration: 'PT2H' };
      expect(value(schedule(undefined, '2026-11-22', jit)).schedule.expiresAt).toEqual(at('2026-11-22T11:00:00.000Z'));
      expect(errors(schedule(undefined, '2026-11-23', jit))).toEqual([
        { field: 'endDate', message: 'Access to this package can last at most 2 hours: choose an earlier end date.' },
      ]);
    });

    it('lets any future end through when access never expires', () => {
      expect(value(schedule(undefined, '2099-12-31', { type: 'noExpiration' })).schedule.expiresAt).toEqual(at('2099-12-31T23:59:59.999Z'));
    });
  });

  describe('against an onDate policy (access ends 2026-12-31T00:00Z)', () => {
    const dated: Expiration = { type: 'onDate', date: at('2026-12-31T00:00:00Z') };

    it('caps an end on the policy date at the policy date', () => {
      expect(value(schedule(undefined, '2026-12-31', dated)).schedule.expiresAt).toEqual(at('2026-12-31T00:00:00Z'));
      expect(value(schedule(undefined, '2026-12-30', dated)).schedule.expiresAt).toEqual(at('2026-12-30T23:59:59.999Z'));
    });

    it('refuses an end after the policy date', () => {
      expect(errors(schedule(undefined, '2027-01-01', dated))).toEqual([
        { field: 'endDate', message: 'Access to this package can last only until 31 Dec 2026: choose an earlier end date.' },
      ]);
    });

    it('refuses a start on or after the policy date', () => {
      const message = "The start date must be before 31 Dec 2026, when this package's access ends.";
      expect(errors(schedule('2026-12-31', undefined, dated))).toEqual([{ field: 'startDate', message }]);
      expect(errors(schedule('2027-01-15', '2027-01-20', dated))).toEqual([{ field: 'startDate', message }]);
      expect(value(schedule('2026-12-30', undefined, dated)).schedule.startAt).toEqual(at('2026-12-30T00:00:00Z'));
    });

    it('refuses any request once the policy date has passed', () => {
      const ended: Expiration = { type: 'onDate', date: at('2026-11-01T00:00:00Z') };
      expect(errors(schedule(undefined, undefined, ended))).toEqual([
        { field: 'schedule', message: "This package's access ended on 1 Nov 2026, so it can't be granted any more." },
      ]);
    });
  });
});

describe('validateSubmission: every error at once', () => {
  it('reports each invalid field', () => {
    const result = submit({
      policy: { questions: [makeQuestion(), makeChoiceQuestion()], lifecycle: { requestorCanChooseSchedule: true } },
      justification: HOSTILE_OBJECT,
      answers: { costCentre: ['4711'], region: 'mars', extra: 'x' },
      schedule: { startDate: '2026-11-01' },
    });
    expect(errors(result).map((e) => e.field)).toEqual(['justification', 'answers', 'answers.costCentre', 'answers.region', 'startDate']);
    for (const error of errors(result)) expect(error.message).toMatch(/[.]$/);
  });
});
