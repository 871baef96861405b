/** UUIDv4 from an injected source of randomness (mini-programs have no synchronous `crypto.getRandomValues`). */

const HEX = '0123456789abcdef';

export function uuid4(random: () => number): string {
  let out = '';
  for (let i = 0; i < 36; i += 1) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      out += '-';
    } else if (i === 14) {
      out += '4';
    } else {
      let nibble = Math.floor(random() * 16) & 15;
      if (i === 19) {
        nibble = (nibble & 3) | 8; // the RFC 4122 variant bits
      }
      out += HEX.charAt(nibble);
    }
  }
  return out;
}
