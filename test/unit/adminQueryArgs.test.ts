import { assignmentFilterOf, pageNumber, parseAuditArgs, parseListArgs, requestStateOf, utcDay } from '../../src/domain/adminQueryArgs';
import { parseCommand } from '../../src/bot/commands';

describe('parseListArgs ([state] [page N])', () => {
  const example = 'requests package-id [state] [page N]';

  it.each([
    [[], { ok: true, page: 1 }],
    [['denied'], { ok: true, state: 'denied', page: 1 }],
    [['page', '3'], { ok: true, page: 3 }],
    [['denied', 'page', '2'], { ok: true, state: 'denied', page: 2 }],
    [['PAGE', '2', 'denied'], { ok: true, state: 'denied', page: 2 }],
  ])('%j → %j', (args, expected) => {
    expect(parseListArgs(args, example)).toEqual(expected);
  });

  it.each([
    [['page'], /"page" takes a page number from 1 to 100000\./],
    [['page', '0'], /"page" takes a page number from 1 to 100000, not "0"/],
    [['page', '1.5'], /not "1.5"/],
    [['page', '1', 'page', '2'], /Give the page once/],
    [['denied', 'delivered'], /I don't understand "delivered". The command is: requests package-id \[state\] \[page N\]\./],
  ])('%j is refused with a specific message', (args, message) => {
    const result = parseListArgs(args, example);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(message);
  });

  it('page numbers come from words or card data, never anything else', () => {
    expect(pageNumber(4)).toEqual({ ok: true, page: 4 });
    expect(pageNumber('4')).toEqual({ ok: true, page: 4 });
    for (const bad of [0, -1, 1.5, 100_001, '', 'x', null, {}, ['1'], '1e3']) expect(pageNumber(bad).ok).toBe(false);
  });
});

describe('states', () => {
  it('request states in any letter case', () => {
    expect(requestStateOf('PendingApproval')).toBe('pendingApproval');
    expect(requestStateOf('approved')).toBeUndefined();
  });

  it('assignment filters: active, all or a state', () => {
    expect(assignmentFilterOf('ALL')).toBe('all');
    expect(assignmentFilterOf('active')).toBe('active');
    expect(assignmentFilterOf('deliveryfailed')).toBe('deliveryFailed');
    expect(assignmentFilterOf('pendingApproval')).toBeUndefined();
  });
});

describe('parseAuditArgs', () => {
  it('reads the filters in any order; "to" includes its whole day', () => {
    expect(parseAuditArgs(['to', '2026-11-30', 'USER', 'fredj@example.com', 'package', 'accounting', 'from', '2026-11-01'])).toEqual({
      ok: true,
      packageId: 'accounting',
      user: 'fredj@example.com',
      from: new Date('2026-11-01T00:00:00Z'),
      to: new Date('2026-12-01T00:00:00Z'),
    });
    expect(parseAuditArgs([])).toEqual({ ok: true });
  });

  it('one day: from and to the same date', () => {
    expect(parseAuditArgs(['from', '2026-11-01', 'to', '2026-11-01']).ok).toBe(true);
  });

  it.each([
    [['since', 'x'], /"since" is not a filter/],
    [['accounting'], /"accounting" is not a filter/],
    [['user'], /"user" needs a value/],
    [['from', '1/11/2026'], /"1\/11\/2026" is not a date: write it as YYYY-MM-DD/],
    [['to', '2026-02-29'], /"2026-02-29" is not a date/],
    [['package', 'a', 'package', 'b'], /Give "package" once/],
    [['from', '2026-11-02', 'to', '2026-11-01'], /The "from" date is after the "to" date/],
  ])('%j is refused', (args, message) => {
    const result = parseAuditArgs(args);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(message);
  });

  it('utcDay accepts real calendar days only', () => {
    expect(utcDay('2028-02-29')).toEqual(new Date('2028-02-29T00:00:00Z'));
    for (const bad of ['2026-02-29', '2026-00-10', '2026-1-1', '20261101', '2026-11-01T00:00']) expect(utcDay(bad)).toBeUndefined();
  });
});

describe('admin query commands among the chat commands', () => {
  it('"requests" or "assignments" with words after them are the admin lists; alone they stay the employee\'s own', () => {
    expect(parseCommand('requests accounting denied')).toMatchObject({ command: { name: 'requests' }, args: ['accounting', 'denied'] });
    expect(parseCommand('assignments accounting all')).toMatchObject({ command: { name: 'assignments' }, args: ['accounting', 'all'] });
    expect(parseCommand('requests').command?.name).toBe('my requests');
    expect(parseCommand('assignments').command?.name).toBe('my access');
    expect(parseCommand('my requests').command?.name).toBe('my requests');
  });

  it.each([
    ['show REQ-1', 'show'],
    ['details ASG-1', 'show'],
    ['audit user u-fred', 'audit'],
    ['log', 'audit'],
    ['export audit', 'export'],
  ])('%j → %s', (text, name) => {
    expect(parseCommand(text).command?.name).toBe(name);
  });
});
