import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  type CatalogDefinition,
  type CatalogError,
  formatCatalogError,
  loadCatalogFile,
  parseCatalogFile,
  summarizeDefinition,
} from '../../src/catalog/catalogFile';

/** Removes the indentation of a template literal so YAML can be written inline. */
function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = strings.reduce((acc, s, i) => acc + s + (i < values.length ? String(values[i]) : ''), '');
  const lines = text.replace(/^\n/, '').replace(/\n\s*$/, '\n').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

/** 1-based line of the first line containing `snippet` (after `after`, if given). */
function lineOf(text: string, snippet: string, after = 0): number {
  const lines = text.split('\n');
  const index = lines.findIndex((l, i) => i + 1 > after && l.includes(snippet));
  if (index < 0) throw new Error(`snippet not found: ${snippet}`);
  return index + 1;
}

function valid(text: string): CatalogDefinition {
  const result = parseCatalogFile(text, 'catalog.yaml');
  if (!result.ok) throw new Error(`expected a valid file, got:\n${result.errors.map(formatCatalogError).join('\n')}`);
  return result.catalog;
}

function errorsOf(text: string): CatalogError[] {
  const result = parseCatalogFile(text, 'catalog.yaml');
  if (result.ok) throw new Error('expected errors, the file is valid');
  return result.errors;
}

/** The single error at `path` (fails with every error listed otherwise). */
function errorAt(errors: CatalogError[], path: string): CatalogError {
  const found = errors.filter((e) => e.path === path);
  if (found.length !== 1) throw new Error(`expected one error at ${path}, got:\n${errors.map(formatCatalogError).join('\n')}`);
  return found[0];
}

// A small valid file; tests add to it with string replacement or write their own.
const base = yaml`
  catalogs:
    - id: finance
      displayName: Finance
      resources:
        - { id: finance-team, type: group, originId: grp-finance, displayName: Finance team }
        - id: accounting-app
          type: application
          originId: sp-accounting
          displayName: Accounting
          roles:
            - { id: role-accounting-user, displayName: User }
            - { id: role-accounting-approver, displayName: Approver }
  accessPackages:
    - id: accounting
      catalog: finance
      displayName: Accounting
      resourceRoles:
        - { resource: finance-team, role: member }
        - { resource: accounting-app, role: User }
      policies:
        - id: employees
          displayName: Employees
`;

describe('parseCatalogFile: valid files', () => {
  it('applies every documented default', () => {
    const definition = valid(base);
    expect(definition.catalogs).toEqual([
      {
        id: 'finance',
        displayName: 'Finance',
        description: '',
        enabled: true,
        externalUsersEnabled: false,
        resources: [
          {
            id: 'finance-team',
            type: 'group',
            originId: 'grp-finance',
            displayName: 'Finance team',
            roles: [
              { id: 'member', displayName: 'Member' },
              { id: 'owner', displayName: 'Owner' },
            ],
          },
          {
            id: 'accounting-app',
            type: 'application',
            originId: 'sp-accounting',
            displayName: 'Accounting',
            roles: [
              { id: 'role-accounting-user', displayName: 'User' },
              { id: 'role-accounting-approver', displayName: 'Approver' },
            ],
          },
        ],
      },
    ]);
    expect(definition.packages).toEqual([
      {
        id: 'accounting',
        catalog: 'finance',
        displayName: 'Accounting',
        description: '',
        hidden: false,
        enabled: true,
        resourceRoles: [
          { resource: 'finance-team', role: 'member' },
          { resource: 'accounting-app', role: 'role-accounting-user' },
        ],
        incompatibleAccessPackages: [],
        incompatibleGroups: [],
      },
    ]);
    expect(definition.policies).toEqual([
      {
        id: 'employees',
        packageId: 'accounting',
        displayName: 'Employees',
        description: '',
        enabled: true,
        allowedRequestors: { scope: 'allMemberUsers' },
        approval: { required: false, requestorJustificationRequired: false, stages: [] },
        questions: [],
        lifecycle: {
          expiration: { type: 'afterDuration', duration: 'P365D' },
          requestorCanChooseSchedule: false,
          extension: { allowed: false, requiresApproval: true },
        },
      },
    ]);
  });

  it('resolves application roles by id, by displayName and regardless of case', () => {
    const text = base.replace('{ resource: accounting-app, role: User }', '{ resource: accounting-app, role: approver }');
    expect(valid(text).packages[0].resourceRoles[1]).toEqual({ resource: 'accounting-app', role: 'role-accounting-approver' });
    const byId = base.replace('role: User }', 'role: role-accounting-user }');
    expect(valid(byId).packages[0].resourceRoles[1].role).toBe('role-accounting-user');
  });

  it('fills stage defaults and infers required when stages are listed', () => {
    const text = base + yaml`
          approval:
            stages:
              - approvers: [{ group: grp-finance-approvers }]
              - approvers: [{ manager: true }]
                fallbackApprovers: [{ user: u-megan }]
                approverJustificationRequired: true
                durationBeforeAutomaticDenial: P3D
                escalation: { after: P1D, approvers: [{ user: u-lola }] }
    `.replace(/^/gm, '        ');
    const approval = valid(text).policies[0].approval;
    expect(approval).toEqual({
      required: true,
      requestorJustificationRequired: false,
      stages: [
        { approvers: [{ group: 'grp-finance-approvers' }], fallbackApprovers: [], approverJustificationRequired: false, durationBeforeAutomaticDenial: 'P14D' },
        {
          approvers: [{ manager: true }],
          fallbackApprovers: [{ user: 'u-megan' }],
          approverJustificationRequired: true,
          durationBeforeAutomaticDenial: 'P3D',
          escalation: { after: 'P1D', approvers: [{ user: 'u-lola' }] },
        },
      ],
    });
  });

  it('keeps no stages when approval is switched off explicitly', () => {
    const text = base + '        approval: { required: false, stages: [{ approvers: [{ user: u-lola }] }] }\n';
    expect(valid(text).policies[0].approval).toEqual({ required: false, requestorJustificationRequired: false, stages: [] });
  });

  it('fills question defaults; choices may be strings or { value, displayName }', () => {
    const text = base + yaml`
          questions:
            - { id: costCentre, text: Cost centre?, regex: "^[0-9]{4}$", regexMessage: Four digits }
            - { id: why, text: Why?, type: longText, required: true }
            - id: office
              text: Which office?
              type: choice
              allowsMultipleSelections: true
              choices: [Paris, { value: ber, displayName: Berlin }, 2025]
    `.replace(/^/gm, '        ');
    expect(valid(text).policies[0].questions).toEqual([
      {
        id: 'costCentre',
        text: 'Cost centre?',
        type: 'text',
        choices: [],
        allowsMultipleSelections: false,
        required: false,
        regex: '^[0-9]{4}$',
        regexMessage: 'Four digits',
        maxLength: 1000,
      },
      { id: 'why', text: 'Why?', type: 'longText', choices: [], allowsMultipleSelections: false, required: true, maxLength: 4000 },
      {
        id: 'office',
        text: 'Which office?',
        type: 'choice',
        choices: [
          { value: 'Paris', displayName: 'Paris' },
          { value: 'ber', displayName: 'Berlin' },
          { value: '2025', displayName: '2025' },
        ],
        allowsMultipleSelections: true,
        required: false,
        maxLength: 1000,
      },
    ]);
  });

  it('parses expirations: on a date (UTC midnight or with offset), never, after a duration', () => {
    const policy = (expiration: string) =>
      valid(base + `        lifecycle: { expiration: ${expiration} }\n`).policies[0].lifecycle.expiration;
    expect(policy('{ type: onDate, date: 2026-06-30 }')).toEqual({ type: 'onDate', date: new Date('2026-06-30T00:00:00Z') });
    expect(policy('{ type: onDate, date: "2026-06-30T17:00:00+02:00" }')).toEqual({ type: 'onDate', date: new Date('2026-06-30T15:00:00Z') });
    expect(policy('{ type: noExpiration }')).toEqual({ type: 'noExpiration' });
    expect(policy('{ type: afterDuration, duration: PT2H }')).toEqual({ type: 'afterDuration', duration: 'PT2H' });
  });

  it('gives sites member/owner and a directory role its role definition ("Entra role") by default', () => {
    const text = base.replace(
      '    resources:\n',
      '    resources:\n      - { id: site, type: sharePointSite, originId: grp-site, displayName: Site }\n      - { id: reader, type: directoryRole, originId: role-def-reader, displayName: Reports reader }\n',
    );
    const resources = valid(text).catalogs[0].resources;
    expect(resources[0].roles.map((r) => r.id)).toEqual(['member', 'owner']);
    expect(resources[1].roles).toEqual([{ id: 'role-def-reader', displayName: 'Entra role' }]);
  });

  it('accepts a package without policies and a file with no entries', () => {
    const text = base.slice(0, base.indexOf('    policies:'));
    expect(valid(text).policies).toEqual([]);
    expect(valid('{}\n')).toEqual({ catalogs: [], packages: [], policies: [] });
  });

  it('summarises a definition', () => {
    expect(summarizeDefinition(valid(base))).toBe('1 catalog, 1 package, 1 policy');
  });
});

describe('parseCatalogFile: located errors', () => {
  it('names an unknown field, with the likely intended one, at its line', () => {
    const text = base.replace('    displayName: Finance\n', '    dispalyName: Finance\n');
    const errors = errorsOf(text);
    const unknown = errorAt(errors, 'catalogs[0].dispalyName');
    expect(unknown).toMatchObject({ file: 'catalog.yaml', line: lineOf(text, 'dispalyName'), column: 5 });
    expect(unknown.message).toBe("unknown field 'dispalyName'; did you mean 'displayName'?");
    expect(errorAt(errors, 'catalogs[0].displayName')).toMatchObject({ line: lineOf(text, '- id: finance'), message: 'required field is missing' });
  });

  it('lists the expected fields when nothing is close', () => {
    const text = base.replace('    catalog: finance\n', '    catalog: finance\n    colour: blue\n');
    expect(errorAt(errorsOf(text), 'accessPackages[0].colour').message).toMatch(/^unknown field 'colour'; expected one of: id, catalog, displayName/);
  });

  it('reports wrong types and invalid enum values with suggestions', () => {
    const text = base.replace('type: group', 'type: grop').replace('    displayName: Accounting\n    resourceRoles', '    displayName: Accounting\n    hidden: yes\n    resourceRoles');
    const errors = errorsOf(text);
    expect(errorAt(errors, 'catalogs[0].resources[0].type')).toMatchObject({
      line: lineOf(text, 'type: grop'),
      message: "expected one of: group, application, sharePointSite, directoryRole; got 'grop'; did you mean 'group'?",
    });
    expect(errorAt(errors, 'accessPackages[0].hidden')).toMatchObject({ line: lineOf(text, 'hidden: yes'), message: "expected true or false, got 'yes'" });
  });

  it('reads a package-level enabled switch (default true)', () => {
    expect(valid(base.replace('    displayName: Accounting\n    resourceRoles', '    displayName: Accounting\n    enabled: false\n    resourceRoles')).packages[0]?.enabled).toBe(false);
    expect(valid(base).packages[0]?.enabled).toBe(true);
    const text = base.replace('    displayName: Accounting\n    resourceRoles', '    displayName: Accounting\n    enabled: off\n    resourceRoles');
    expect(errorAt(errorsOf(text), 'accessPackages[0].enabled')).toMatchObject({ line: lineOf(text, 'enabled: off'), message: "expected true or false, got 'off'" });
  });

  it('suggests quoting a number where text is expected', () => {
    const text = base.replace('originId: grp-finance', 'originId: 12345');
    expect(errorAt(errorsOf(text), 'catalogs[0].resources[0].originId').message).toBe('expected a text, got the number 12345 (put it in quotes)');
  });

  it('reports duplicate ids at every level', () => {
    const text = yaml`
      catalogs:
        - { id: c, displayName: C, resources: [{ id: r, type: group, originId: g1, displayName: R }, { id: r, type: group, originId: g2, displayName: R2 }] }
        - { id: c, displayName: C again }
      accessPackages:
        - id: p
          catalog: c
          displayName: P
          policies:
            - { id: x, displayName: X, questions: [{ id: q, text: Q }, { id: q, text: Q2 }] }
            - { id: x, displayName: X2 }
        - { id: p, catalog: c, displayName: P again }
    `;
    const errors = errorsOf(text);
    expect(errors.map((e) => `${e.path} @${e.line}: ${e.message}`)).toEqual([
      `catalogs[0].resources[1].id @2: duplicate resource id 'r' (already used by catalogs[0].resources[0])`,
      `catalogs[1].id @3: duplicate catalog id 'c' (already used by catalogs[0])`,
      `accessPackages[0].policies[0].questions[1].id @9: duplicate question id 'q' (already used by accessPackages[0].policies[0].questions[0])`,
      `accessPackages[0].policies[1].id @10: duplicate policy id 'x' (already used by accessPackages[0].policies[0])`,
      `accessPackages[1].id @11: duplicate access package id 'p' (already used by accessPackages[0])`,
    ]);
  });

  it('checks references: catalog, resource of the same catalog, role, incompatible packages', () => {
    const text = yaml`
      catalogs:
        - id: finance
          displayName: Finance
          resources:
            - { id: team, type: group, originId: grp-finance, displayName: Team }
            - { id: app, type: application, originId: sp-app, displayName: App, roles: [{ id: role-user, displayName: User }] }
        - id: hr
          displayName: HR
          resources:
            - { id: hr-team, type: group, originId: grp-hr, displayName: HR team }
      accessPackages:
        - id: a
          catalog: finanse
          displayName: A
        - id: b
          catalog: finance
          displayName: B
          resourceRoles:
            - { resource: hr-team, role: member }
            - { resource: team, role: admin }
            - { resource: app, role: Users }
            - { resource: teams, role: member }
          incompatibleAccessPackages: [b, c, a]
    `;
    const errors = errorsOf(text);
    expect(errorAt(errors, 'accessPackages[0].catalog')).toMatchObject({
      line: lineOf(text, 'catalog: finanse'),
      message: "unknown catalog 'finanse'; did you mean 'finance'?",
    });
    expect(errorAt(errors, 'accessPackages[1].resourceRoles[0].resource').message).toBe(
      "resource 'hr-team' belongs to catalog 'hr'; a package can only use resources of its own catalog ('finance')",
    );
    expect(errorAt(errors, 'accessPackages[1].resourceRoles[1].role').message).toBe("group 'team' has no role 'admin'; its roles are: Member (member), Owner (owner)");
    expect(errorAt(errors, 'accessPackages[1].resourceRoles[2].role')).toMatchObject({
      line: lineOf(text, 'role: Users'),
      message: "application 'app' has no role 'Users'; did you mean 'User'?",
    });
    expect(errorAt(errors, 'accessPackages[1].incompatibleAccessPackages[0]').message).toBe('a package cannot be incompatible with itself');
    expect(errorAt(errors, 'accessPackages[1].incompatibleAccessPackages[1]').message).toMatch(/^unknown access package 'c'/);
    expect(errorAt(errors, 'accessPackages[1].resourceRoles[3].resource').message).toBe("catalog 'finance' has no resource 'teams'; did you mean 'team'?");
    expect(errors).toHaveLength(7);
  });

  it('checks declared roles of resources', () => {
    const text = yaml`
      catalogs:
        - id: c
          displayName: C
          resources:
            - { id: g, type: group, originId: grp, displayName: G, roles: [member, admin] }
            - { id: app, type: application, originId: sp, displayName: App }
            - { id: app2, type: application, originId: sp2, displayName: App2, roles: [{ id: r1, displayName: User }, { id: r2, displayName: user }] }
            - { id: g-again, type: group, originId: grp, displayName: Same group }
    `;
    const errors = errorsOf(text);
    expect(errorAt(errors, 'catalogs[0].resources[0].roles[1]').message).toBe("a group's roles are member and owner, not 'admin'");
    expect(errorAt(errors, 'catalogs[0].resources[1].roles').message).toMatch(/^an application resource needs its app roles/);
    expect(errorAt(errors, 'catalogs[0].resources[2].roles[1]').message).toBe("role displayName 'user' is listed twice");
    expect(errorAt(errors, 'catalogs[0].resources[3].originId').message).toBe("group 'grp' is already in this catalog as resource 'g'");
  });

  it('checks ISO 8601 durations and dates where they are used', () => {
    const text = base + yaml`
          approval:
            stages:
              - approvers: [{ user: u-lola }]
                durationBeforeAutomaticDenial: 14 days
                escalation: { after: P0D, approvers: [{ user: u-megan }] }
              - approvers: [{ user: u-lola }]
                durationBeforeAutomaticDenial: P2D
                escalation: { after: P3D, approvers: [{ user: u-megan }] }
          lifecycle: { expiration: { type: afterDuration, duration: PT } }
    `.replace(/^/gm, '        ');
    const errors = errorsOf(text);
    const stages = 'accessPackages[0].policies[0].approval.stages';
    expect(errorAt(errors, `${stages}[0].durationBeforeAutomaticDenial`)).toMatchObject({
      line: lineOf(text, '14 days'),
      message: "'14 days' is not an ISO 8601 duration (e.g. P14D, P3M, PT8H, PT30M)",
    });
    expect(errorAt(errors, `${stages}[0].escalation.after`).message).toBe("'P0D' is zero: give a duration longer than zero");
    expect(errorAt(errors, `${stages}[1].escalation.after`).message).toMatch(/^escalation after P3D would come when the request has already timed out/);
    expect(errorAt(errors, 'accessPackages[0].policies[0].lifecycle.expiration.duration').message).toMatch(/^'PT' is not an ISO 8601 duration/);

    const badDate = errorsOf(base + '        lifecycle: { expiration: { type: onDate, date: 2025-02-30 } }\n');
    expect(errorAt(badDate, 'accessPackages[0].policies[0].lifecycle.expiration.date').message).toMatch(/^'2025-02-30' is not a date/);
    const noDate = errorsOf(base + '        lifecycle: { expiration: { type: onDate } }\n');
    expect(errorAt(noDate, 'accessPackages[0].policies[0].lifecycle.expiration.date').message).toBe('required field is missing');
    const badType = errorsOf(base + '        lifecycle: { expiration: { type: afterDuraton } }\n');
    expect(errorAt(badType, 'accessPackages[0].policies[0].lifecycle.expiration.type').message).toBe(
      "expected one of: noExpiration, onDate, afterDuration; got 'afterDuraton'; did you mean 'afterDuration'?",
    );
  });

  it('checks questions: regex compiles, choices only and always on choice questions', () => {
    const text = base + yaml`
          questions:
            - { id: a, text: A, regex: "([0-9]" }
            - { id: b, text: B, type: choice }
            - { id: c, text: C, choices: [x], allowsMultipleSelections: true }
            - { id: d, text: D, type: choice, choices: [x, x], regex: "x", maxLength: 5 }
            - { id: e, text: E, regexMessage: Digits only }
    `.replace(/^/gm, '        ');
    const errors = errorsOf(text);
    const q = 'accessPackages[0].policies[0].questions';
    expect(errorAt(errors, `${q}[0].regex`)).toMatchObject({ line: lineOf(text, '{ id: a'), message: 'not a valid regular expression: missing closing ) in ([0-9]' });
    expect(errorAt(errors, `${q}[1].choices`)).toMatchObject({ line: lineOf(text, '{ id: b'), message: 'a choice question needs at least one choice' });
    expect(errorAt(errors, `${q}[2].choices`).message).toMatch(/^only choice questions have choices/);
    expect(errorAt(errors, `${q}[2].allowsMultipleSelections`).message).toBe('applies to choice questions only');
    expect(errorAt(errors, `${q}[3].choices[1]`).message).toBe("choice 'x' is listed twice");
    expect(errorAt(errors, `${q}[3].regex`).message).toMatch(/^regex applies to text and longText questions/);
    expect(errorAt(errors, `${q}[3].maxLength`).message).toMatch(/^maxLength applies to text and longText questions/);
    expect(errorAt(errors, `${q}[4].regexMessage`).message).toMatch(/there is no regex$/);

    const lengths = errorsOf(base + '        questions: [{ id: a, text: A, maxLength: 0 }, { id: b, text: B, maxLength: 2.5 }]\n');
    expect(errorAt(lengths, `${q}[0].maxLength`).message).toBe('must be greater than 0');
    expect(errorAt(lengths, `${q}[1].maxLength`).message).toBe('expected a whole number, got the number 2.5');
  });

  it("refuses a regex the linear-time engine can't run, located, saying why and what to write instead", () => {
    const text = base + yaml`
          questions:
            - id: twice
              text: Repeat the code
              regex: '(a)\\1'
            - id: strong
              text: Password hint
              regex: '(?=x)x+'
            - id: behind
              text: Amount
              regex: '(?<!-)[0-9]+'
            - id: accent
              text: Name
              regex: 'caf\\u00e9'
            - id: costly
              text: Long text
              type: longText
              regex: '[A-Za-z ]{3,200}'
            - { id: fine, text: Fine, regex: '^([a-zA-Z0-9]+\\s?)*$' }
    `.replace(/^/gm, '        ');
    const errors = errorsOf(text);
    const q = 'accessPackages[0].policies[0].questions';
    const twice = errorAt(errors, `${q}[0].regex`);
    const line = lineOf(text, `regex: '(a)`);
    const column = text.split('\n')[line - 1]!.indexOf('regex') + 1;
    expect(twice).toMatchObject({ line, column });
    expect(formatCatalogError(twice)).toBe(
      `catalog.yaml:${line}:${column}: ${q}[0].regex: \\1 is a backreference: the bot checks answers with RE2, a regex engine whose time can't blow up on a hostile answer, and RE2 has no backreferences. Write out what the group must match again (e.g. ([0-9]{2})-[0-9]{2} instead of ([0-9]{2})-\\1), or leave the check to the approvers`,
    );
    const lookahead = errorAt(errors, `${q}[1].regex`);
    expect(lookahead.line).toBe(lineOf(text, `regex: '(?=x)`));
    expect(lookahead.message).toMatch(/^\(\?=…\) is a lookahead: .* RE2 has no lookarounds\. Describe the answer from left to right instead/);
    expect(errorAt(errors, `${q}[2].regex`).message).toMatch(/^\(\?<!…\) is a lookbehind: /);
    expect(errorAt(errors, `${q}[3].regex`).message).toMatch(/write a character by its code as \\x\{00E9\}/);
    expect(errorAt(errors, `${q}[4].regex`).message).toBe(
      'too complex to check a 4000-character answer quickly (RE2 program size 401; the limit for maxLength 4000 is 125). Simplify it (large counts such as {1,200} cost the most: let maxLength bound the length), or lower maxLength',
    );
    // The pattern that stalls JavaScript's engine is fine on RE2.
    expect(errors.filter((e) => e.path.startsWith(`${q}[5]`))).toEqual([]);
    expect(errors).toHaveLength(5);
  });

  it('checks approval: stages when required, at most 3, manager needs fallback, approver shape', () => {
    const approvers = '[{ user: u-lola }]';
    const tooMany = errorsOf(base + `        approval: { required: true, stages: [${Array(4).fill(`{ approvers: ${approvers} }`).join(', ')}] }\n`);
    expect(errorAt(tooMany, 'accessPackages[0].policies[0].approval.stages').message).toBe('at most 3 approval stages are allowed');

    const none = base + '        approval: { required: true }\n';
    expect(errorAt(errorsOf(none), 'accessPackages[0].policies[0].approval.required')).toMatchObject({
      line: lineOf(none, 'required: true'),
      message: 'approval is required but no stages are given: add 1 to 3 stages under approval.stages',
    });

    const manager = base + yaml`
          approval:
            stages:
              - approvers: [{ manager: true }]
              - approvers: [{ manager: true }]
                fallbackApprovers: [{ user: u-megan }, { manager: true }]
    `.replace(/^/gm, '        ');
    const managerErrors = errorsOf(manager);
    const stages = 'accessPackages[0].policies[0].approval.stages';
    expect(errorAt(managerErrors, `${stages}[0].approvers[0]`)).toMatchObject({
      line: lineOf(manager, '{ manager: true }'),
      message: '{ manager: true } needs fallbackApprovers in the same stage, for requesters who have no manager',
    });
    expect(errorAt(managerErrors, `${stages}[1].fallbackApprovers[1]`).message).toBe('a fallback approver must be a user or a group, not { manager: true }');
    expect(managerErrors).toHaveLength(2);

    const text = base + yaml`
          approval:
            stages:
              - approvers: [{ user: u-lola, group: grp-x }, { manager: false }, {}]
              - approvers: []
    `.replace(/^/gm, '        ');
    const errors = errorsOf(text);
    expect(errorAt(errors, `${stages}[0].approvers[0]`).message).toBe('an approver is exactly one of { user: <id> }, { group: <id> } or { manager: true }');
    expect(errorAt(errors, `${stages}[0].approvers[1].manager`).message).toBe('expected true, got false');
    expect(errorAt(errors, `${stages}[0].approvers[2]`).message).toMatch(/^an approver is exactly one of/);
    expect(errorAt(errors, `${stages}[1].approvers`).message).toBe('needs at least 1 item');
  });

  it('checks requestors and object ids', () => {
    const text = base + yaml`
          allowedRequestors: { scope: specificDirectoryUsers }
        - id: others
          displayName: Others
          allowedRequestors: { scope: specificDirectoryUsers, users: ["u lola"] }
        - id: typo
          displayName: Typo
          allowedRequestors: { scope: allMembers }
    `.replace(/^/gm, '      ');
    const errors = errorsOf(text);
    expect(errorAt(errors, 'accessPackages[0].policies[0].allowedRequestors')).toMatchObject({
      line: lineOf(text, 'scope: specificDirectoryUsers }'),
      message: 'specificDirectoryUsers needs at least one entry in users or groups',
    });
    expect(errorAt(errors, 'accessPackages[0].policies[1].allowedRequestors.users[0]').message).toBe("'u lola' is not a valid object id: it contains whitespace");
    expect(errorAt(errors, 'accessPackages[0].policies[2].allowedRequestors.scope').message).toBe(
      "expected one of: specificDirectoryUsers, allMemberUsers, allDirectoryUsers, notSpecified; got 'allMembers'; did you mean 'allMemberUsers'?",
    );
  });

  it('checks our own ids', () => {
    const text = base.replace('- id: accounting\n', '- id: "accounting team"\n');
    expect(errorAt(errorsOf(text), 'accessPackages[0].id').message).toMatch(/^'accounting team' is not a valid id/);
  });

  it('collects every error of the file, in file order', () => {
    const text = yaml`
      catalogs:
        - id: finance
          dispalyName: Finance
          resources:
            - { id: team, type: group, originId: grp, displayName: Team }
      accessPackages:
        - id: accounting
          catalog: finance
          displayName: Accounting
          resourceRoles: [{ resource: team, role: membr }]
          policies:
            - id: employees
              displayName: Employees
              approval:
                stages:
                  - approvers: [{ manager: true }]
                    durationBeforeAutomaticDenial: P14
              questions: [{ id: q, text: Q, type: choice }]
        - id: vat
          catalog: finance
          displayName: VAT
          hiden: true
          policies:
            - { id: p, displayName: P, enabled: maybe }
    `;
    const formatted = errorsOf(text).map(formatCatalogError);
    expect(formatted).toEqual([
      'catalog.yaml:2:5: catalogs[0].displayName: required field is missing',
      "catalog.yaml:3:5: catalogs[0].dispalyName: unknown field 'dispalyName'; did you mean 'displayName'?",
      "catalog.yaml:10:39: accessPackages[0].resourceRoles[0].role: group 'team' has no role 'membr'; did you mean 'member'?",
      'catalog.yaml:16:27: accessPackages[0].policies[0].approval.stages[0].approvers[0]: { manager: true } needs fallbackApprovers in the same stage, for requesters who have no manager',
      "catalog.yaml:17:15: accessPackages[0].policies[0].approval.stages[0].durationBeforeAutomaticDenial: 'P14' is not an ISO 8601 duration (e.g. P14D, P3M, PT8H, PT30M)",
      'catalog.yaml:18:21: accessPackages[0].policies[0].questions[0].choices: a choice question needs at least one choice',
      "catalog.yaml:22:5: accessPackages[1].hiden: unknown field 'hiden'; did you mean 'hidden'?",
      "catalog.yaml:24:34: accessPackages[1].policies[0].enabled: expected true or false, got 'maybe'",
    ]);
  });

  it('locates YAML syntax errors and duplicate keys', () => {
    const broken = yaml`
      catalogs:
        - id: finance
          displayName: Finance: Money
      accessPackages: []
    `;
    const [syntax] = errorsOf(broken);
    expect(syntax).toMatchObject({ file: 'catalog.yaml', path: '', line: 3, column: 18 });
    expect(formatCatalogError(syntax)).toBe('catalog.yaml:3:18: Nested mappings are not allowed in compact mappings');

    // The yaml library reports an unterminated quote where the text ends.
    const unterminated = errorsOf('catalogs:\n  - id: "finance\n');
    expect(unterminated[0]).toMatchObject({ line: 3, message: 'Missing closing "quote' });

    const duplicate = yaml`
      catalogs:
        - id: finance
          displayName: Finance
          displayName: Money
    `;
    const errors = errorsOf(duplicate);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line: 4, message: expect.stringMatching(/unique/) });

    const badIndent = 'catalogs:\n  - id: a\n displayName: b\n';
    expect(errorsOf(badIndent)[0].line).toBe(3);
  });

  it('explains an empty file or one of the wrong shape', () => {
    expect(errorsOf('')).toEqual([{ file: 'catalog.yaml', path: '', message: "the file is empty; expected 'catalogs' and 'accessPackages'" }]);
    expect(errorsOf('# only a comment\n')[0].message).toMatch(/the file is empty/);
    expect(errorsOf('- a\n- b\n')[0]).toMatchObject({ path: '', line: 1, message: "expected a mapping with 'catalogs' and 'accessPackages', got a list" });
    const packages = errorsOf('catalogs: []\npackages: []\n');
    expect(packages[0]).toMatchObject({ path: 'packages', line: 2, message: "unknown field 'packages'; did you mean 'accessPackages'?" });
    expect(errorsOf('catalogs: finance\n')[0]).toMatchObject({ path: 'catalogs', message: "expected a list, got 'finance'" });
  });

  it('still checks the policies of a package whose own fields are wrong', () => {
    const text = base.replace('    catalog: finance\n', '    catalog: finance\n    hiddden: true\n') + '        approval: { required: true }\n';
    const errors = errorsOf(text);
    expect(errors.map((e) => e.path)).toEqual(['accessPackages[0].hiddden', 'accessPackages[0].policies[0].approval.required']);
  });
});

describe('formatCatalogError', () => {
  it('prints file:line:col: path: message', () => {
    expect(formatCatalogError({ file: 'c.yaml', path: 'catalogs[0].id', line: 3, column: 7, message: 'bad' })).toBe('c.yaml:3:7: catalogs[0].id: bad');
    expect(formatCatalogError({ file: 'c.yaml', path: '', message: 'file not found' })).toBe('c.yaml: file not found');
  });
});

describe('loadCatalogFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'catalog-file-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports a missing file in the same error shape', async () => {
    const path = join(dir, 'missing.yaml');
    expect(await loadCatalogFile(path)).toEqual({ ok: false, errors: [{ file: path, path: '', message: 'file not found' }] });
  });

  it('reports a directory', async () => {
    const result = await loadCatalogFile(dir);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0].message).toBe('is a directory, not a catalog file');
  });
});

describe('parseCatalogFile: only what the bot can deliver', () => {
  const GLOBAL_ADMIN = '62e90394-69f5-4237-9190-012177145e10';
  const REPORTS_READER = '4a5d8f65-41da-4de4-8968-e035b65339cf';
  const withResource = (resource: string, role?: string) => {
    let text = base.replace('    resources:\n', `    resources:\n      - ${resource}\n`);
    if (role !== undefined) text = text.replace('      - { resource: finance-team, role: member }\n', `      - { resource: finance-team, role: member }\n      - ${role}\n`);
    return text;
  };

  it('delivers a directory role as its role definition: referred to by "Entra role" or by the id', () => {
    const text = withResource(`{ id: reader, type: directoryRole, originId: ${REPORTS_READER}, displayName: Reports Reader }`, '{ resource: reader, role: entra role }');
    const definition = valid(text);
    expect(definition.catalogs[0].resources[0]).toMatchObject({ type: 'directoryRole', originId: REPORTS_READER, roles: [{ id: REPORTS_READER, displayName: 'Entra role' }] });
    expect(definition.packages[0].resourceRoles).toContainEqual({ resource: 'reader', role: REPORTS_READER });
    expect(valid(text.replace('role: entra role', `role: ${REPORTS_READER}`)).packages[0].resourceRoles).toContainEqual({ resource: 'reader', role: REPORTS_READER });
  });

  it('refuses a privileged Entra role by default, located at its originId, naming the role and the setting', () => {
    const text = withResource(`{ id: ga, type: directoryRole, originId: ${GLOBAL_ADMIN}, displayName: Tenant admins }`);
    const error = errorAt(errorsOf(text), 'catalogs[0].resources[0].originId');
    expect(error).toMatchObject({ file: 'catalog.yaml', line: lineOf(text, GLOBAL_ADMIN) });
    expect(error.message).toBe(
      `'Global Administrator' (${GLOBAL_ADMIN}) is a privileged Entra role, which the bot does not deliver unless ALLOW_PRIVILEGED_ROLES=true (docs/deployment.md); offer a less privileged role, or manage this one in Privileged Identity Management`,
    );
    expect(formatCatalogError(error)).toMatch(/^catalog\.yaml:\d+:\d+: catalogs\[0\]\.resources\[0\]\.originId: 'Global Administrator' /);
  });

  it.each([
    ['Privileged Role Administrator', 'e8611ab8-c189-46e8-94e1-60213ab1f814'],
    ['Privileged Authentication Administrator', '7be44c8a-adaf-4e2a-84d6-ab2649e08a13'],
    ['Intune Administrator', '3A2C62DB-5318-420D-8D74-23AFFEE5D9D5'], // GUIDs compare without case
  ])('refuses %s too', (name, id) => {
    expect(errorAt(errorsOf(withResource(`{ id: r, type: directoryRole, originId: ${id}, displayName: R }`)), 'catalogs[0].resources[0].originId').message).toContain(`'${name}'`);
  });

  it('accepts a privileged role when the deployment allows it (ALLOW_PRIVILEGED_ROLES=true)', () => {
    const text = withResource(`{ id: ga, type: directoryRole, originId: ${GLOBAL_ADMIN}, displayName: Tenant admins }`);
    const result = parseCatalogFile(text, 'catalog.yaml', { allowPrivilegedRoles: true });
    expect(result.ok).toBe(true);
  });

  it('refuses a directory role whose role is not its role definition, or that has two', () => {
    const other = withResource(`{ id: reader, type: directoryRole, originId: ${REPORTS_READER}, displayName: Reports Reader, roles: [{ id: member, displayName: Member }] }`);
    expect(errorAt(errorsOf(other), 'catalogs[0].resources[0].roles[0]').message).toBe(
      `a directoryRole resource's one role is its role definition '${REPORTS_READER}' (the originId), not 'member'; leave roles out, or declare { id: ${REPORTS_READER} }`,
    );
    const two = withResource(`{ id: reader, type: directoryRole, originId: ${REPORTS_READER}, displayName: Reports Reader, roles: [${REPORTS_READER}, other] }`);
    expect(errorAt(errorsOf(two), 'catalogs[0].resources[0].roles').message).toContain('a directoryRole resource has exactly one role');
    // Declaring the one role under its own name is fine.
    const named = withResource(`{ id: reader, type: directoryRole, originId: ${REPORTS_READER}, displayName: Reports Reader, roles: [{ id: ${REPORTS_READER}, displayName: Log reader }] }`);
    expect(valid(named).catalogs[0].resources[0].roles).toEqual([{ id: REPORTS_READER, displayName: 'Log reader' }]);
  });

  it("delivers a SharePoint site's Microsoft 365 group membership or ownership, and refuses any other site role", () => {
    const site = withResource('{ id: site, type: sharePointSite, originId: grp-site, displayName: Finance site, roles: [member, reader] }');
    expect(errorAt(errorsOf(site), 'catalogs[0].resources[0].roles[1]').message).toBe("a sharePointSite's roles are member and owner, not 'reader'");
  });
});

describe('the example files', () => {
  const examples = join(__dirname, '..', '..', 'examples');

  it('examples/catalog.yaml is valid and resolves as documented', async () => {
    const result = await loadCatalogFile(join(examples, 'catalog.yaml'));
    if (!result.ok) throw new Error(result.errors.map(formatCatalogError).join('\n'));
    const { catalogs, packages, policies } = result.catalog;
    expect(summarizeDefinition(result.catalog)).toBe('2 catalogs, 6 packages, 7 policies');

    expect(catalogs[0].resources.find((r) => r.id === 'finance-team')?.roles.map((r) => r.id)).toEqual(['member', 'owner']);
    const accounting = packages.find((p) => p.id === 'accounting');
    expect(accounting?.resourceRoles).toEqual([
      { resource: 'finance-team', role: 'member' },
      { resource: 'accounting-app', role: 'role-accounting-user' },
      { resource: 'vat-app', role: 'role-vat-filer' },
    ]);
    expect(accounting?.hidden).toBe(false);
    expect(packages.find((p) => p.id === 'expenses-executive')?.incompatibleAccessPackages).toEqual(['accounting']);
    expect(packages.find((p) => p.id === 'audit-archive')?.hidden).toBe(true);

    const policy = (packageId: string, id: string) => policies.find((p) => p.packageId === packageId && p.id === id);
    expect(policy('accounting', 'employees')?.approval.stages[0]).toMatchObject({
      approvers: [{ group: 'grp-finance-approvers' }],
      approverJustificationRequired: false,
      durationBeforeAutomaticDenial: 'P7D',
    });
    expect(policy('accounting', 'direct')).toMatchObject({
      allowedRequestors: { scope: 'notSpecified' },
      approval: { required: false, stages: [] },
      lifecycle: { expiration: { type: 'noExpiration' }, extension: { allowed: false, requiresApproval: true } },
    });
    const executive = policy('expenses-executive', 'executive-office');
    expect(executive?.approval.required).toBe(true);
    expect(executive?.approval.stages.map((s) => s.durationBeforeAutomaticDenial)).toEqual(['P14D', 'P5D']);
    expect(executive?.lifecycle.extension).toEqual({ allowed: true, requiresApproval: true });
    expect(policy('audit-archive', 'auditors')?.lifecycle.expiration).toEqual({ type: 'onDate', date: new Date('2027-06-30T00:00:00Z') });
    const jit = policy('payment-run', 'finance-team');
    expect(jit?.approval).toEqual({ required: false, requestorJustificationRequired: true, stages: [] });
    expect(jit?.lifecycle.expiration).toEqual({ type: 'afterDuration', duration: 'PT2H' });
    expect(jit?.questions[0]).toMatchObject({ id: 'changeTicket', type: 'text', required: true, regex: '^CHG[0-9]{7}$', maxLength: 1000 });
    // An Entra role, delivered as a role assignment, referred to by its role's name.
    expect(catalogs.find((c) => c.id === 'it-admin')?.resources).toEqual([
      expect.objectContaining({ id: 'reports-reader', type: 'directoryRole', originId: '4a5d8f65-41da-4de4-8968-e035b65339cf', roles: [{ id: '4a5d8f65-41da-4de4-8968-e035b65339cf', displayName: 'Entra role' }] }),
    ]);
    expect(packages.find((p) => p.id === 'sign-in-reports')?.resourceRoles).toEqual([{ resource: 'reports-reader', role: '4a5d8f65-41da-4de4-8968-e035b65339cf' }]);
  });

  it('examples/catalog.yaml refers only to objects of examples/directory.yaml', async () => {
    const directory = parse(await readFile(join(examples, 'directory.yaml'), 'utf8')) as {
      users: { id: string }[];
      groups: { id: string }[];
      servicePrincipals: { id: string; appRoles: { id: string }[] }[];
      directoryRoles: { id: string }[];
    };
    const users = new Set(directory.users.map((u) => u.id));
    const groups = new Set(directory.groups.map((g) => g.id));
    const result = await loadCatalogFile(join(examples, 'catalog.yaml'));
    if (!result.ok) throw new Error('invalid example');
    const { catalogs, packages, policies } = result.catalog;

    for (const resource of catalogs.flatMap((c) => c.resources)) {
      if (resource.type === 'group') expect(groups).toContain(resource.originId);
      if (resource.type === 'application') {
        const sp = directory.servicePrincipals.find((s) => s.id === resource.originId);
        expect(sp).toBeDefined();
        for (const role of resource.roles) expect(sp?.appRoles.map((r) => r.id)).toContain(role.id);
      }
      if (resource.type === 'directoryRole') expect(directory.directoryRoles.map((r) => r.id)).toContain(resource.originId);
    }
    expect(catalogs.flatMap((c) => c.resources).some((r) => r.type === 'directoryRole')).toBe(true);
    for (const group of packages.flatMap((p) => p.incompatibleGroups)) expect(groups).toContain(group);
    const approvers = policies.flatMap((p) =>
      p.approval.stages.flatMap((s) => [...s.approvers, ...s.fallbackApprovers, ...(s.escalation?.approvers ?? [])]),
    );
    for (const approver of approvers) {
      if ('user' in approver) expect(users).toContain(approver.user);
      if ('group' in approver) expect(groups).toContain(approver.group);
    }
    for (const { allowedRequestors: scope } of policies) {
      if (scope.scope !== 'specificDirectoryUsers') continue;
      for (const user of scope.users) expect(users).toContain(user);
      for (const group of scope.groups) expect(groups).toContain(group);
    }
  });

  it('examples/invalid-catalog.yaml reports each of its mistakes', async () => {
    const file = join(examples, 'invalid-catalog.yaml');
    const text = await readFile(file, 'utf8');
    const result = await loadCatalogFile(file);
    if (result.ok) throw new Error('expected errors');
    // One error per "# mistake:" comment, on that comment's line (the misspelt field also
    // leaves displayName missing, reported at the start of its entry).
    const mistakeLines = text
      .split('\n')
      .map((line, i) => (line.includes('# mistake:') ? i + 1 : 0))
      .filter((n) => n > 0);
    const errorLines = result.errors.map((e) => e.line);
    expect(new Set(errorLines)).toEqual(new Set([...mistakeLines, lineOf(text, '- id: finance-team')]));
    expect(result.errors).toHaveLength(mistakeLines.length + 1);
    expect(result.errors.map((e) => e.path)).toEqual([
      'catalogs[0].resources[0].displayName',
      'catalogs[0].resources[0].dispalyName',
      'catalogs[1].resources[1].originId',
      'accessPackages[0].resourceRoles[0].role',
      'accessPackages[0].resourceRoles[1].resource',
      'accessPackages[0].incompatibleAccessPackages[0]',
      'accessPackages[0].policies[0].enabled',
      'accessPackages[0].policies[0].approval.stages[0].approvers[0]',
      'accessPackages[0].policies[0].approval.stages[0].durationBeforeAutomaticDenial',
      'accessPackages[0].policies[0].questions[0].regex',
      'accessPackages[0].policies[0].questions[1].choices',
      'accessPackages[0].policies[1].allowedRequestors',
      'accessPackages[0].policies[1].approval.required',
      'accessPackages[0].policies[1].lifecycle.expiration.date',
      'accessPackages[1].catalog',
      'accessPackages[1].policies[0].lifecycle.expiration.duration',
      'accessPackages[2].id',
    ]);
  });
});
