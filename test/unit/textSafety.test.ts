/**
 * @jest-environment-options {"globalsCleanup": "off"}
 */
// Nothing a user types can deceive another (docs/text-safety.md): the escaping function, the
// rule the card templates follow, and every card rendered with hostile text by a Teams-like
// renderer (adaptivecards + markdown-it, test/support/cardRendering.ts). The globals cleanup
// is off because jsdom finishes setting up its window after the test file's last promise.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import MarkdownIt from 'markdown-it';
import { assignChooseCard, assignedNotice, reportCard } from '../../src/bot/adminChangeViews';
import { auditListCard, exportReadyCard, requestListCard, requestRecordCard } from '../../src/bot/adminQueryViews';
import { CARDS_DIR, CardRenderer } from '../../src/bot/cards';
import { CHAT_COMMANDS } from '../../src/bot/commands';
import { myAccessCard, myRequestsCard, noticeCard, packageDetailsCard, packageListCard, requestFormCard, requestSubmittedCard, unknownCommandCard } from '../../src/bot/views';
import { digestCardData, expiringByPackage } from '../../src/domain/digest';
import { newRequest } from '../../src/domain/newRequest';
import type { AccessSummary } from '../../src/services/access';
import type { AssignForm, AssignResult } from '../../src/services/adminAssignments';
import type { RequestRecord } from '../../src/services/adminQueries';
import { approvalCard, type ApprovalContext, approverReminder, requesterDenied, targetOutcome } from '../../src/services/approvalMessages';
import type { PackageDetails } from '../../src/services/catalogBrowser';
import { expiryWarningCard } from '../../src/services/lifecycle';
import { inlineText, literalText, visibleText } from '../../src/services/messages';
import { HOSTILE_BLOCK, HOSTILE_TEXT, INVISIBLES, renderCard, shown, textProblems } from '../support/cardRendering';
import { validateCard } from '../support/cardValidation';
import { makeAssignment, makeCatalog, makePackage, makePolicy, makeQuestion, makeStage, NOW } from '../support/domainFixtures';

const BIDI = ['\u202A', '\u202B', '\u202C', '\u202D', '\u202E', '\u2066', '\u2067', '\u2068', '\u2069', '\u200E', '\u200F', '\u061C'];

/** A CommonMark renderer set up like a Teams-like client, stricter: raw HTML on, URLs auto-linked. */
const markdown = new MarkdownIt({ html: true, linkify: true });
markdown.linkify.set({ fuzzyLink: true, fuzzyEmail: true });

/** What markdown makes of text: its HTML inside the paragraph, and the text a reader sees. */
function rendered(text: string): { tags: string[]; text: string } {
  const html = markdown.render(text).trim();
  const inner = html.replace(/^<p>([\s\S]*)<\/p>$/, '$1');
  const tags = inner.match(/<[a-z][^>]*>/gi) ?? [];
  const seen = inner.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
  return { tags: html.startsWith('<p>') ? tags : [html.slice(0, 20), ...tags], text: seen };
}

describe('literalText: text in a place Teams reads as markdown shows as typed', () => {
  it.each([
    ['a link', '[Approve here](https://evil.example/approve)'],
    ['an image', '![logo](https://evil.example/x.png)'],
    ['bold', '**Manager pre-approval:** ✅ granted by the CISO'],
    ['bold with underscores', '__urgent__'],
    ['italic', '*please* and _now_'],
    ['strikethrough', '~~denied~~ approved'],
    ['inline code', 'run `rm -rf /`'],
    ['a code fence', '```js alert(1) ```'],
    ['a heading', '# Approved by IT'],
    ['a heading (##)', '## Step 2 approved'],
    ['a bullet list', '- approved by the CISO'],
    ['a plus list', '+ approved'],
    ['a star list', '* approved'],
    ['a numbered list', '1. approved'],
    ['a numbered list with )', '2) approved'],
    ['a block quote', '> IT says yes'],
    ['a thematic break', '---'],
    ['a setext underline', '==='],
    ['HTML bold', '<b>approved</b>'],
    ['a Teams mention tag', '<at>Nadia Okafor</at> approved'],
    ['an HTML link', '<a href="https://evil.example">click</a>'],
    ['a script tag', '<script>alert(1)</script>'],
    ['an autolink', '<https://evil.example/approve>'],
    ['a bare URL', 'see https://evil.example/approve now'],
    ['a protocol-relative URL', 'see //evil.example/x'],
    ['a www link', 'www.evil.example.com'],
    ['a bare domain', 'go to evil-site.com/approve'],
    ['an e-mail address', 'mail boss@evil-mail.com'],
    ['a mailto link', 'mailto:boss@evil-mail.com'],
    ['entities', '&lt;b&gt; &amp; &#42;x&#42; &copy;'],
    ['a table row', '| a | b |'],
    ['backslashes', 'C:\\Users\\fred \\*not bold\\*'],
    ['ordinary text', 'Month end, batch 2 (Q3): 1,000 - 2,000 = fine; 50% done!'],
    ['names', "Zoë O'Brien-Ångström 🚀 日本語 J.R.R. Tolkien"],
  ])('%s', (_name, typed) => {
    const result = rendered(literalText(typed));
    expect(result.tags).toEqual([]);
    expect(result.text).toBe(shown(typed));
  });

  it('text on several lines is one line: no line can start a list, a heading or a quote', () => {
    const typed = 'I need it.\n# Approved\n- by the CISO\n1. today\n> signed\r\n    code\u2028---';
    const text = literalText(typed);
    expect(text).not.toMatch(/[\r\n\u2028]/);
    expect(rendered(text)).toEqual({ tags: [], text: shown(typed) });
  });

  it('ordinary words and ids stay as they are (nothing to escape)', () => {
    for (const plain of ['Fred Jansen', 'REQ-7K3M9QX2', 'Finance team (Member), Accounting (User)', '22 Nov 2026 at 09:00 UTC', 'v1.2 costs 3.50']) expect(literalText(plain)).toBe(plain);
  });

  it('the issue\'s examples: no link, no bold line', () => {
    expect(literalText('[Approve here](https://evil.example/approve)')).toBe('\\[Approve here\\](https\\:/\\/evil\\.example/approve)');
    expect(literalText('**Manager pre-approval:** ✅ granted by the CISO')).toBe('\\*\\*Manager pre-approval:\\*\\* ✅ granted by the CISO');
  });
});

describe('visibleText and inlineText: no bidi override or invisible character reaches a card', () => {
  it.each(BIDI.map((c) => [`U+${c.codePointAt(0)!.toString(16).toUpperCase()}`, c]))('removes %s', (_name, c) => {
    const typed = `${c}txt.exe${c} ok`;
    expect(visibleText(typed)).toBe('txt.exe ok');
    expect(inlineText(typed)).toBe('txt.exe ok');
    expect(literalText(typed)).toBe('txt\\.exe ok');
  });

  it('removes zero-width and other invisible format characters, tag characters and control characters', () => {
    expect(visibleText(`a\u200Bb\u2060c\uFEFFd\u00ADe\u180Ef\u2061g\u206Ah\uFFF9i\u3164j\u{E0041}\u{E007F}k\u0007l\u001Bm\u007Fn\u009Bo`)).toBe('abcdefghijklmno');
    expect(visibleText(INVISIBLES)).toBe('');
  });

  it('keeps what scripts and emoji need: joiners, variation selectors, right-to-left letters', () => {
    for (const kept of ['👨\u200D👩\u200D👧', 'می\u200Cخواهم', '❤\uFE0F', 'שלום مرحبا', 'Zoë']) expect(visibleText(kept)).toBe(kept);
  });

  it('makes every kind of line break a "\\n" and keeps tabs; inlineText puts it all on one line', () => {
    expect(visibleText('a\r\nb\rc\u2028d\u2029e\u0085f\tg')).toBe('a\nb\nc\nd\ne\nf\tg');
    expect(inlineText('  a\r\n\n b\t\tc  ')).toBe('a b c');
  });

  it('replaces half a surrogate pair, keeps whole ones', () => {
    expect(visibleText('a\uD800b\uDC00c 🚀')).toBe('a\uFFFDb\uFFFDc 🚀');
  });

  it("keeps a typed {{DATE(…)}} from turning into the client's formatted date", () => {
    expect(visibleText('{{DATE(2030-01-01T00:00:00Z, LONG)}} {{TIME(2030-01-01T00:00:00Z)}} {{x}}')).toBe('{\u2060{DATE(2030-01-01T00:00:00Z, LONG)}} {\u2060{TIME(2030-01-01T00:00:00Z)}} {{x}}');
  });
});

// Where a template may bind data into a markdown element: our own words and admin-authored
// descriptions (the catalog file), which may use markdown. Everything else is a TextRun, or a
// Fact whose view model escapes it (FACT_BINDINGS).
const TRUSTED_TEXTBLOCK_BINDINGS: Record<string, string[]> = {
  adminAssignChoose: ['${description}'],
  help: ['${intro}', '${usage}', '${description}', '${footer}'],
  packageDetails: ['${description}', '${shareText}'],
  packageList: ['${description}'],
  unknownCommand: ["${if(suggestion != '', 'Did you mean **' + suggestion + '**?', 'Here is what I can do:')}", '- **${usage}** — ${description}'],
};
// FactSet values and titles bound to data: each is escaped with literalText() by its view model.
const FACT_BINDINGS: Record<string, string[]> = {
  adminAssignChoose: ['${audience}', '${approval}', '${expiry}'],
  adminRecord: ['${title}', '${value}'],
  approvalRequest: ['${packageName}', '${grants}', '${policyName}', '${schedule}', '${requestId}'],
  exportReady: ['${title}', '${value}'],
  packageDetails: ['${resource}', '${role} (${kind})', '${approval}', '${expiry}', '${justification}'],
  requestSubmitted: ['${packageName}', '${requestId}', '${sentAt}'],
};

function markdownBindings(node: unknown, found: { textBlocks: string[]; facts: string[] } = { textBlocks: [], facts: [] }) {
  if (Array.isArray(node)) node.forEach((n) => markdownBindings(n, found));
  else if (node && typeof node === 'object') {
    const element = node as Record<string, unknown>;
    if (element.type === 'TextBlock' && typeof element.text === 'string' && element.text.includes('${')) found.textBlocks.push(element.text);
    if (element.type === 'FactSet' && Array.isArray(element.facts)) {
      for (const fact of element.facts as Record<string, unknown>[]) for (const key of ['title', 'value']) if (typeof fact[key] === 'string' && (fact[key] as string).includes('${')) found.facts.push(fact[key] as string);
    }
    Object.values(element).forEach((v) => markdownBindings(v, found));
  }
  return found;
}

describe('card templates: data reaches markdown only where it is trusted or escaped', () => {
  const templates = readdirSync(CARDS_DIR).filter((f) => f.endsWith('.json'));

  it.each(templates)('%s', (file) => {
    const name = path.basename(file, '.json');
    const { textBlocks, facts } = markdownBindings(JSON.parse(readFileSync(path.join(CARDS_DIR, file), 'utf8')));
    // A new TextBlock with data: bind it into a TextRun (RichTextBlock) instead, or, if it is
    // trusted markdown, say so here.
    expect(textBlocks.filter((t) => !(TRUSTED_TEXTBLOCK_BINDINGS[name] ?? []).includes(t))).toEqual([]);
    // A new Fact with data: escape it with literalText() in the view model, test it below, list it here.
    expect([...new Set(facts)].sort()).toEqual([...(FACT_BINDINGS[name] ?? [])].sort());
  });
});

describe('every card shows hostile text as text (adaptivecards + markdown-it)', () => {
  const renderer = new CardRenderer();

  /** Renders the template with the data, checks it is valid, and lists what is not shown as text. */
  function problems(template: string, data: object, typed: string[]): string[] {
    const card = renderer.render(template, data);
    expect(validateCard(card)).toEqual([]);
    return textProblems(renderCard(card), typed);
  }

  const person = { id: 'u-mallory', displayName: HOSTILE_TEXT.slice(0, 200), userPrincipalName: 'mallory@example.com', jobTitle: '**CISO** [verified](https://evil.example)', department: '<at>IT</at> \u202Eytiruces', userType: 'Member' as const, accountEnabled: true };
  const question = makeQuestion({ id: 'why', text: 'Why?', type: 'longText', maxLength: 4000 });
  const hostileRequest = {
    ...newRequest({ id: 'REQ-7K3M9QX2', type: 'add', packageId: 'accounting', policyId: 'employees', requesterId: person.id, targetUserId: person.id, state: 'pendingApproval', schedule: {}, now: NOW, justification: HOSTILE_BLOCK }),
    answers: [{ questionId: 'why', value: HOSTILE_BLOCK }],
  };
  const context: ApprovalContext = {
    request: hostileRequest,
    accessPackage: makePackage(),
    catalog: makeCatalog(),
    policy: makePolicy({ questions: [question], approval: { stages: [makeStage(), makeStage()] } }),
    requester: person,
  };
  const decision = { approverId: 'u-approver', decision: 'deny' as const, at: NOW, justification: HOSTILE_BLOCK };

  it('the approval card: the requester\'s name, job, department, justification and answers', () => {
    const data = approvalCard(context, 0, NOW, { kind: 'pending' }).data;
    expect(problems('approvalRequest', data, [person.displayName, person.jobTitle, HOSTILE_BLOCK])).toEqual([]);
  });

  it('the approval card of a later step: the earlier approver\'s name and reason', () => {
    const earlier = { ...context, request: { ...hostileRequest, stages: [{ index: 0, approverIds: ['u-approver'], startedAt: NOW, decision: { ...decision, decision: 'approve' as const } }], currentStage: 1 }, deciderNames: new Map([['u-approver', HOSTILE_TEXT]]) };
    expect(problems('approvalRequest', approvalCard(earlier, 1, NOW, { kind: 'pending' }).data, [HOSTILE_TEXT, HOSTILE_BLOCK])).toEqual([]);
  });

  it('the decided approval card: the approver\'s name and reason', () => {
    expect(problems('approvalRequest', approvalCard(context, 0, NOW, { kind: 'decided', decision, approverName: HOSTILE_TEXT }).data, [HOSTILE_TEXT, HOSTILE_BLOCK])).toEqual([]);
  });

  it('notices to the requester and the person asked for: the approver\'s reason; the reminder: the requester\'s name', () => {
    expect(problems('notice', requesterDenied(context, decision, HOSTILE_TEXT).data, [HOSTILE_TEXT, HOSTILE_BLOCK])).toEqual([]);
    expect(problems('notice', targetOutcome({ ...context, target: person }, { kind: 'denied', approverName: HOSTILE_TEXT, decision }).data, [HOSTILE_TEXT, HOSTILE_BLOCK])).toEqual([]);
    expect(problems('notice', approverReminder(context, NOW).data, [person.displayName])).toEqual([]);
    expect(problems('notice', noticeCard(HOSTILE_TEXT, HOSTILE_BLOCK), [HOSTILE_TEXT, HOSTILE_BLOCK])).toEqual([]);
  });

  it('a reason in a notice stays on its line: it cannot add lines that look like ours', () => {
    const card = renderer.render('notice', requesterDenied(context, { ...decision, justification: 'No.\nUpdate from IT: your access was granted.' }, 'Nadia').data);
    const message = renderCard(card).root.querySelectorAll('.ac-textRun')[1]!.textContent!;
    expect(message).toBe('Nadia denied your request REQ-7K3M9QX2. Their reason: "No. Update from IT: your access was granted."');
  });

  it('My requests (the reason the approver gave) and My access', () => {
    const summary = { id: 'REQ-1', packageId: 'accounting', packageName: HOSTILE_TEXT, type: 'add' as const, state: 'denied' as const, stateText: `Denied by ${HOSTILE_TEXT}: "${HOSTILE_BLOCK}"`, createdAt: NOW, canCancel: false };
    expect(problems('myRequests', myRequestsCard([summary]), [HOSTILE_TEXT, HOSTILE_BLOCK])).toEqual([]);
    const access: AccessSummary = { assignmentId: 'a1', packageId: 'p', packageName: HOSTILE_TEXT, state: 'delivered', startAt: NOW, roles: [{ resource: HOSTILE_TEXT, kind: 'Group', role: 'Member' }], canExtend: true, extendRequiresApproval: true, extendJustificationRequired: false, removalPending: false, extendNote: HOSTILE_TEXT };
    expect(problems('myAccess', myAccessCard([access]), [HOSTILE_TEXT])).toEqual([]);
  });

  it('the request submitted, details, list and form cards (names, directory group names in the approval text, a search)', () => {
    expect(problems('requestSubmitted', requestSubmittedCard({ requestId: 'REQ-1', packageName: HOSTILE_TEXT, sentAt: NOW, needsApproval: true, state: 'pendingApproval', approval: HOSTILE_TEXT }), [HOSTILE_TEXT])).toEqual([]);
    const details: PackageDetails = {
      accessPackage: { id: 'accounting', displayName: HOSTILE_TEXT, description: 'Plain words.' },
      catalogName: HOSTILE_TEXT,
      roles: [{ resource: HOSTILE_TEXT, kind: 'Group', role: HOSTILE_TEXT }],
      offers: [{ id: 'employees', displayName: HOSTILE_TEXT, description: '', approval: `Approval by a member of ${HOSTILE_TEXT}.`, expiry: 'Access lasts 90 days', justificationRequired: true, questions: [question], canChooseSchedule: false }],
      status: 'available',
    };
    expect(problems('packageDetails', packageDetailsCard(details), [HOSTILE_TEXT])).toEqual([]);
    expect(problems('requestForm', requestFormCard(details, 'employees', NOW), [HOSTILE_TEXT])).toEqual([]);
    const search = '[x](https://evil.example) **EVIL**';
    expect(problems('packageList', packageListCard({ items: [{ id: 'p', displayName: HOSTILE_TEXT, description: 'Plain words.', status: 'available' }], total: 1, page: 0, pageCount: 1, text: search }), [HOSTILE_TEXT, search])).toEqual([]);
    expect(problems('packageList', packageListCard({ items: [], total: 0, page: 0, pageCount: 1, text: search }), [search])).toEqual([]);
  });

  it('the unknown-command, welcome and expiry-warning cards', () => {
    const typed = '**EVIL** [x](https://evil.example) \u202Eok';
    expect(problems('unknownCommand', unknownCommandCard(typed, CHAT_COMMANDS, false), [typed])).toEqual([]);
    expect(problems('welcome', { name: typed }, [typed])).toEqual([]);
    const warning = expiryWarningCard({ assignmentId: 'ASG-1', packageName: HOSTILE_TEXT, roles: [{ resource: HOSTILE_TEXT, kind: 'Group', role: 'Member' }], expiresAt: NOW, now: NOW, offer: { allowed: true, requiresApproval: true, justificationRequired: true } });
    expect(problems('expiryWarning', warning.data, [HOSTILE_TEXT])).toEqual([]);
  });

  it('admin cards: show (justification, answers, names, history reasons), lists, audit, digest, assign, reports, exports', () => {
    const record: RequestRecord = {
      kind: 'request',
      request: { ...hostileRequest, justification: HOSTILE_TEXT },
      packageName: HOSTILE_TEXT,
      policyName: HOSTILE_TEXT,
      requesterName: HOSTILE_TEXT,
      targetName: HOSTILE_TEXT,
      stateText: 'Waiting for approval',
      answers: [{ question: 'Why?', answer: HOSTILE_BLOCK }],
      stages: [`Stage 1 of 1 · asked ${HOSTILE_TEXT}`],
      history: [{ at: NOW, who: HOSTILE_TEXT, what: 'denied at stage 1', details: HOSTILE_BLOCK }],
      historyTruncated: false,
    };
    expect(problems('adminRecord', requestRecordCard(record), [HOSTILE_TEXT, HOSTILE_BLOCK])).toEqual([]);
    const accounting = { id: 'accounting', displayName: HOSTILE_TEXT, catalog: 'finance' };
    const rows = { items: [{ id: 'REQ-1', type: 'add' as const, state: 'denied' as const, stateText: `Denied by ${HOSTILE_TEXT}`, requesterName: HOSTILE_TEXT, targetName: HOSTILE_TEXT, createdAt: NOW }], total: 1, page: 1, pageCount: 1 };
    expect(problems('adminList', requestListCard({ accessPackage: accounting, page: rows }), [HOSTILE_TEXT])).toEqual([]);
    expect(problems('adminList', auditListCard({ description: HOSTILE_TEXT, events: [{ at: NOW, actorName: HOSTILE_TEXT, action: 'approval.denied', userName: HOSTILE_TEXT, packageId: 'accounting', subjectId: 'REQ-1', details: HOSTILE_BLOCK }] }, 20), [HOSTILE_TEXT, HOSTILE_BLOCK])).toEqual([]);
    const names = { user: () => HOSTILE_TEXT, package: () => HOSTILE_TEXT, failedRoles: () => [HOSTILE_TEXT] };
    const digest = digestCardData({ now: NOW, days: 7, note: '', expiring: expiringByPackage([makeAssignment({ expiresAt: NOW })]), failed: [makeAssignment({ state: 'deliveryFailed', roles: [{ resource: 'r', role: 'member', state: 'failed', error: HOSTILE_TEXT }] })], timingOut: [], escalations: [] }, names);
    expect(problems('adminDigest', digest, [HOSTILE_TEXT])).toEqual([]);
    const form: AssignForm = { packageId: 'accounting', packageName: HOSTILE_TEXT, policies: [{ id: 'employees', displayName: HOSTILE_TEXT, description: '', audience: `Members of ${HOSTILE_TEXT}`, approval: `Approval by ${HOSTILE_TEXT}.`, approvalRequired: true, justificationRequired: true, expiry: 'Access lasts 90 days', questions: [] }] };
    expect(problems('adminAssignChoose', assignChooseCard(form), [HOSTILE_TEXT])).toEqual([]);
    const assigned = assignedNotice({ request: hostileRequest, packageName: HOSTILE_TEXT, userName: HOSTILE_TEXT, approval: 'Approval by your manager.', bypassedApproval: false } as AssignResult);
    expect(problems('notice', noticeCard(assigned.title, assigned.message), [HOSTILE_TEXT])).toEqual([]);
    expect(problems('adminReport', reportCard(HOSTILE_TEXT, HOSTILE_TEXT, [HOSTILE_TEXT]), [HOSTILE_TEXT])).toEqual([]);
    const ready = { title: HOSTILE_TEXT, filters: HOSTILE_TEXT, filename: 'audit-2026-11-22T0900Z.csv', url: 'https://bot.example.com/exports/EXP-1?expires=1&sig=aa', expiresAt: NOW, rowCount: 1, capped: false, namesCapped: false };
    expect(problems('exportReady', exportReadyCard(ready, 15), [HOSTILE_TEXT])).toEqual([]);
  });

  it('the checks find markup: the same hostile text unescaped in a TextBlock and a Fact renders links, bold and lists', () => {
    const card = { type: 'AdaptiveCard', version: '1.5', body: [{ type: 'TextBlock', text: HOSTILE_BLOCK, wrap: true }, { type: 'FactSet', facts: [{ title: 'Why', value: HOSTILE_TEXT }] }] };
    const found = textProblems(renderCard(card), []);
    for (const tag of ['<a>', '<strong>', '<em>', '<h1>', '<li>', '<code>', '<blockquote>', '<at>', '<b>', '<img>']) expect(found.join('\n')).toContain(tag.replace('>', ''));
    expect(found.join('\n')).toContain('bidi or invisible character shown');
  });

  it('admin-authored descriptions keep their markdown (package and policy descriptions)', () => {
    const details: PackageDetails = {
      accessPackage: { id: 'accounting', displayName: 'Accounting', description: 'For **accountants**: see [the guide](https://intranet.example.com/guide).' },
      catalogName: 'Finance',
      roles: [],
      offers: [{ id: 'employees', displayName: 'Employees', description: '_Any_ employee may ask', approval: 'Approval by your manager.', expiry: 'Access lasts 90 days', justificationRequired: true, questions: [], canChooseSchedule: false }],
      status: 'available',
    };
    const { root } = renderCard(renderer.render('packageDetails', packageDetailsCard(details)));
    expect(root.querySelector('strong')?.textContent).toBe('accountants');
    expect(root.querySelector('a[href="https://intranet.example.com/guide"]')?.textContent).toBe('the guide');
    expect(root.querySelector('em')?.textContent).toBe('Any');
    const list = renderCard(renderer.render('packageList', packageListCard({ items: [{ id: 'accounting', displayName: 'Accounting', description: details.accessPackage.description, status: 'available' }], total: 1, page: 0, pageCount: 1, text: '' }))).root;
    expect(list.querySelector('strong')?.textContent).toBe('accountants');
  });
});
