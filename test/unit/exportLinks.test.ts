import { createHmac } from 'node:crypto';
import { checkExportLink, exportSignature } from '../../src/services/exports';

const KEY = 'k'.repeat(64);
const ID = 'EXP-0123456789ABCDEF';
const NOW = Date.parse('2026-11-22T09:00:00Z');
const EXPIRES = NOW / 1000 + 15 * 60;

describe('export link signatures', () => {
  const sig = exportSignature(KEY, ID, EXPIRES);

  it('is HMAC-SHA256 in hex over the id and the expiry', () => {
    expect(sig).toMatch(/^[0-9a-f]{64}$/);
    expect(sig).toBe(createHmac('sha256', KEY).update(`${ID}\n${EXPIRES}`).digest('hex'));
  });

  it('a link as issued is valid until it expires', () => {
    expect(checkExportLink(KEY, ID, String(EXPIRES), sig, NOW)).toBe('valid');
    expect(checkExportLink(KEY, ID, String(EXPIRES), sig, EXPIRES * 1000 - 1)).toBe('valid');
  });

  it('expired at and after its expiry second', () => {
    expect(checkExportLink(KEY, ID, String(EXPIRES), sig, EXPIRES * 1000)).toBe('expired');
    expect(checkExportLink(KEY, ID, String(EXPIRES), sig, EXPIRES * 1000 + 86_400_000)).toBe('expired');
  });

  it('a changed id, expiry or signature is forbidden', () => {
    expect(checkExportLink(KEY, 'EXP-0123456789ABCDEG', String(EXPIRES), sig, NOW)).toBe('forbidden');
    expect(checkExportLink(KEY, ID, String(EXPIRES + 3600), sig, NOW)).toBe('forbidden');
    const flipped = `${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`;
    expect(checkExportLink(KEY, ID, String(EXPIRES), flipped, NOW)).toBe('forbidden');
  });

  it('an extended expiry on an expired link is forbidden, not merely expired', () => {
    const old = NOW / 1000 - 60;
    const oldSig = exportSignature(KEY, ID, old);
    expect(checkExportLink(KEY, ID, String(old), oldSig, NOW)).toBe('expired');
    expect(checkExportLink(KEY, ID, String(old + 3600), oldSig, NOW)).toBe('forbidden');
  });

  it('a link signed with another key is forbidden', () => {
    const other = exportSignature('o'.repeat(64), ID, EXPIRES);
    expect(checkExportLink(KEY, ID, String(EXPIRES), other, NOW)).toBe('forbidden');
  });

  it.each([
    ['missing signature', String(EXPIRES), undefined],
    ['empty signature', String(EXPIRES), ''],
    ['short signature', String(EXPIRES), 'abc'],
    ['upper-case hex', String(EXPIRES), 'A'.repeat(64)],
    ['not hex', String(EXPIRES), 'z'.repeat(64)],
    ['signature as an array', String(EXPIRES), ['x']],
    ['missing expiry', undefined, 'a'.repeat(64)],
    ['expiry not a number', 'soon', 'a'.repeat(64)],
    ['negative expiry', '-1', 'a'.repeat(64)],
    ['fractional expiry', '1.5', 'a'.repeat(64)],
  ])('%s is forbidden', (_name, expires, signature) => {
    expect(checkExportLink(KEY, ID, expires, signature, NOW)).toBe('forbidden');
  });
});
