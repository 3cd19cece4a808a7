import { CSV_BOM, type CsvColumn, csvCell, csvLine, toCsv } from '../../src/domain/csv';
import { chunkCsv } from '../../src/services/exports';
import { parseCsv } from '../support/csvReader';

describe('csvCell (RFC 4180 quoting)', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['"', '""""'],
    ['line 1\nline 2', '"line 1\nline 2"'],
    ['line 1\r\nline 2', '"line 1\r\nline 2"'],
    ['a\rb', '"a\rb"'],
    ['', ''],
    ['  spaced  ', '  spaced  '],
  ])('%j → %j', (value, expected) => {
    expect(csvCell(value)).toBe(expected);
  });

  it('writes nothing for undefined and null, and values for numbers, booleans and dates', () => {
    expect(csvCell(undefined)).toBe('');
    expect(csvCell(null)).toBe('');
    expect(csvCell(42)).toBe('42');
    expect(csvCell(-3.5)).toBe('-3.5'); // a number is a value, not a formula: no guard needed
    expect(csvCell(Number.NaN)).toBe('');
    expect(csvCell(true)).toBe('true');
    expect(csvCell(new Date('2026-11-22T09:00:00Z'))).toBe('2026-11-22T09:00:00.000Z');
    expect(csvCell(new Date('nonsense'))).toBe('');
  });

  it('keeps unicode as it is (the file is UTF-8 with a BOM)', () => {
    expect(csvCell('Zoë Ångström 🚀 日本')).toBe('Zoë Ångström 🚀 日本');
    expect(toCsv([{ header: 'name', value: (r: string) => r }], ['Zoë']).startsWith(CSV_BOM)).toBe(true);
  });
});

describe('csvCell (formula injection, OWASP)', () => {
  it.each([
    ['=1+1', "'=1+1"],
    ['+1', "'+1"],
    ['-1', "'-1"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tTAB', "'\tTAB"],
    ['=HYPERLINK("http://evil.example","click")', '"\'=HYPERLINK(""http://evil.example"",""click"")"'],
    ['=cmd|\' /C calc\'!A0, x', '"\'=cmd|\' /C calc\'!A0, x"'],
  ])('%j → %j', (value, expected) => {
    expect(csvCell(value)).toBe(expected);
  });

  it('a carriage return at the start is guarded and quoted', () => {
    expect(csvCell('\r=1')).toBe('"\'\r=1"');
  });

  it('only the first character matters', () => {
    expect(csvCell('a=1')).toBe('a=1');
    expect(csvCell('1-2')).toBe('1-2');
    expect(csvCell('me@example.com')).toBe('me@example.com');
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

  it('BOM, header in column order, CRLF after every record', () => {
    const text = toCsv(columns, [
      { id: 'a', note: 'x', count: 1 },
      { id: 'b', count: 2 },
    ]);
    expect(text).toBe(`${CSV_BOM}id,note,count\r\na,x,1\r\nb,,2\r\n`);
  });

  it('an empty list is the header alone', () => {
    expect(toCsv(columns, [])).toBe(`${CSV_BOM}id,note,count\r\n`);
  });

  it('reads back cell for cell, whatever the text holds', () => {
    const nasty = ['a,b', 'she said "no"', 'two\nlines', 'cr\r\nlf', '=1+2', '-5', '@x', '\tt', '', 'Ünïcödé ✓'];
    const rows = nasty.map((note, i) => ({ id: `r${i}`, note, count: i }));
    const parsed = parseCsv(toCsv(columns, rows).slice(CSV_BOM.length));
    expect(parsed[0]).toEqual(['id', 'note', 'count']);
    expect(parsed.slice(1)).toEqual(rows.map((r) => [r.id, /^[=+\-@\t\r]/.test(r.note) ? `'${r.note}` : r.note, String(r.count)]));
  });

  it('csvLine quotes each cell on its own', () => {
    expect(csvLine(['a', 'b,c', undefined, 3])).toBe('a,"b,c",,3\r\n');
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
