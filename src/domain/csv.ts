// CSV as spreadsheets read it: RFC 4180 quoting, CRLF line ends, a UTF-8 byte order mark so
// Excel detects the encoding, and a defence against formula injection that holds whichever
// list separator the spreadsheet uses (docs/admin-queries.md, "Formula injection"). Pure.
//
// The threat: a value someone typed (a justification, a name) becomes a formula cell when an
// admin opens the file. OWASP's rule (a ' before a value that starts with = + - @ tab or CR)
// covers the start of a value only. But Excel and LibreOffice split a CSV on the list separator
// of the reader's locale: ';' in most of continental Europe, ',' elsewhere. Opened there, our
// comma file's quoting goes out of step (a quote opens a quoted field only at the start of a
// field; after it closes, the text up to the next ';' is taken as it is), so a value like
// `note;=1+2;` yields a cell `=1+2`, and a line break in a value can start a new row.
//
// The guard: every cell is quoted, and a ' goes before a formula trigger wherever a cell can
// begin as any such reader splits the line: at the start of the value and after every ',', ';',
// tab, CR or LF in it, skipping spaces and quotes there (a reader may drop them). Triggers are
// = + - @ tab CR and their full-width forms ＝ ＋ － ＠. A ' at the start of a cell makes Excel
// and LibreOffice show the rest as text. With the right separator a value reads back exactly,
// with those ' added. Numbers, booleans and dates are values the bot writes, not text, and are
// written as they are.

export type CsvValue = string | number | boolean | Date | null | undefined;

export interface CsvColumn<T> {
  header: string;
  value: (row: T) => CsvValue;
}

/** Excel needs it to open UTF-8 as UTF-8 (names with accents, emoji). */
export const CSV_BOM = '\uFEFF';
export const CSV_EOL = '\r\n';

/** What makes a spreadsheet read a cell as a formula (OWASP), with the full-width forms. */
export const FORMULA_TRIGGERS: ReadonlySet<string> = new Set(['=', '+', '-', '@', '\t', '\r', '\uFF1D', '\uFF0B', '\uFF0D', '\uFF20']);
/** After these a reader with another list separator, or out of step with our quotes, starts a cell. */
const CELL_BREAKS: ReadonlySet<string> = new Set([',', ';', '\t', '\r', '\n']);
/** Skipped at the start of a cell: readers may trim spaces, and a quote may open a quoted field. */
const CELL_LEAD: ReadonlySet<string> = new Set([' ', '"']);

/** A ' before each formula trigger that could begin a cell (see the top of this file). */
export function guardFormulas(text: string): string {
  let out = '';
  let cellStart = true;
  for (const c of text) {
    if (cellStart && !CELL_LEAD.has(c)) {
      if (FORMULA_TRIGGERS.has(c)) out += "'";
      cellStart = false;
    }
    out += c;
    if (CELL_BREAKS.has(c)) cellStart = true;
  }
  return out;
}

/** One cell, always quoted (quotes inside doubled); text guarded against formulas. Empty for null/undefined. */
export function csvCell(value: CsvValue): string {
  let text: string;
  if (value === null || value === undefined) text = '';
  else if (value instanceof Date) text = Number.isNaN(value.getTime()) ? '' : value.toISOString();
  else if (typeof value === 'number') text = Number.isFinite(value) ? String(value) : '';
  else if (typeof value === 'boolean') text = value ? 'true' : 'false';
  else text = guardFormulas(value);
  return `"${text.replace(/"/g, '""')}"`;
}

/** One record, ending with CRLF. */
export function csvLine(values: readonly CsvValue[]): string {
  return `${values.map(csvCell).join(',')}${CSV_EOL}`;
}

export function csvHeader<T>(columns: readonly CsvColumn<T>[]): string {
  return csvLine(columns.map((c) => c.header));
}

export function csvRow<T>(columns: readonly CsvColumn<T>[], row: T): string {
  return csvLine(columns.map((c) => c.value(row)));
}

/** A whole file: BOM, header, one line per row (in the given order). */
export function toCsv<T>(columns: readonly CsvColumn<T>[], rows: Iterable<T>): string {
  let text = CSV_BOM + csvHeader(columns);
  for (const row of rows) text += csvRow(columns, row);
  return text;
}
