/** A minimal RFC 4180 reader (CRLF records), to check that what the bot writes reads back as the same cells. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) throw new Error('the last record has no CRLF');
  return rows;
}

export interface LenientOptions {
  /** The reader's list separator (',' or ';'). */
  separator: string;
  /**
   * 'fieldStart' (Excel, LibreOffice's default): a quote opens a quoted field only as a field's
   * first character; after the closing quote, the rest up to the next separator is taken as it
   * is. 'anywhere': every quote outside a quoted field opens one (looser readers).
   */
  quotes: 'fieldStart' | 'anywhere';
}

/**
 * Reads CSV as a spreadsheet opening a file does, not as RFC 4180 says: the list separator is
 * the reader's, a quote is honoured where the reader honours it, a record ends at CRLF, LF or a
 * lone CR outside a quoted field, and nothing is rejected. What `;`-locale Excel makes of a
 * comma file (and the other way round).
 */
export function parseCsvLeniently(text: string, options: LenientOptions): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let fieldStart = true;
  const endCell = () => {
    row.push(cell);
    cell = '';
    fieldStart = true;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
      continue;
    }
    if (c === '"' && (fieldStart || options.quotes === 'anywhere')) {
      quoted = true;
      fieldStart = false;
    } else if (c === options.separator) endCell();
    else if (c === '\r' || c === '\n') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endCell();
      rows.push(row);
      row = [];
    } else {
      cell += c;
      fieldStart = false;
    }
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
