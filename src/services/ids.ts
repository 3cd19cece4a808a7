import { randomBytes } from 'node:crypto';

// Crockford base32 without look-alikes: ids people can read out or type ("REQ-7K3M9QX2").
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function readableId(prefix: string, length = 8): string {
  const bytes = randomBytes(length);
  let id = '';
  for (const byte of bytes) id += ALPHABET[byte % 32];
  return `${prefix}-${id}`;
}
