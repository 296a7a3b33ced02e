// Addresses as the bits a prefix trie walks: IPv4 as 4 bytes, IPv6 as 16, and IPv4-mapped IPv6
// (::ffff:a.b.c.d, as a dual-stack socket reports IPv4 peers) as the IPv4 address it stands for.

export interface AddressBits {
  family: 4 | 6;
  bytes: Uint8Array;
}

/** The address's bytes, or null when the text is not an IPv4 or IPv6 literal. A zone id (%eth0) is ignored. */
export function parseAddress(text: string): AddressBits | null {
  if (text.includes(':')) {
    const bytes = parseIpv6(text);
    if (bytes === null) return null;
    return isIpv4Mapped(bytes) ? { family: 4, bytes: bytes.subarray(12) } : { family: 6, bytes };
  }
  const bytes = parseIpv4(text);
  return bytes === null ? null : { family: 4, bytes };
}

/** Dotted quad to 4 bytes, or null. Leading zeros are refused (they mean octal to some parsers). */
export function parseIpv4(text: string): Uint8Array | null {
  const bytes = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const code = i < text.length ? text.charCodeAt(i) : 46;
    if (code === 46) {
      if (digits === 0 || part > 3) return null;
      bytes[part++] = value;
      value = 0;
      digits = 0;
    } else if (code >= 48 && code <= 57) {
      if (digits > 0 && value === 0) return null;
      value = value * 10 + (code - 48);
      digits++;
      if (value > 255) return null;
    } else {
      return null;
    }
  }
  return part === 4 ? bytes : null;
}

/** RFC 4291 text (with "::" and a trailing dotted quad) to 16 bytes, or null. */
export function parseIpv6(text: string): Uint8Array | null {
  const zone = text.indexOf('%');
  const address = zone === -1 ? text : text.slice(0, zone);
  const halves = address.split('::');
  if (halves.length > 2) return null;
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === null || tail === null) return null;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return null;
  const words = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[i * 2] = words[i]! >> 8;
    bytes[i * 2 + 1] = words[i]! & 0xff;
  }
  return bytes;
}

/** The 16-bit groups of one side of "::" (a dotted quad last counts as two), or null. */
function groups(text: string): number[] | null {
  if (text === '') return [];
  const parts = text.split(':');
  const words: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i === parts.length - 1 && part.includes('.')) {
      const v4 = parseIpv4(part);
      if (v4 === null) return null;
      words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return null;
      words.push(Number.parseInt(part, 16));
    }
  }
  return words;
}

function isIpv4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** A prefix "address/length" (a bare address is a host prefix), or null when malformed. */
export function parsePrefix(text: string): { family: 4 | 6; bytes: Uint8Array; length: number } | null {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const isV6 = addressText.includes(':');
  const bytes = isV6 ? parseIpv6(addressText) : parseIpv4(addressText);
  if (bytes === null) return null;
  const maxLength = bytes.length * 8;
  let length = maxLength;
  if (slash !== -1) {
    const lengthText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lengthText)) return null;
    length = Number(lengthText);
    if (length > maxLength) return null;
  }
  if (isV6 && isIpv4Mapped(bytes) && length >= 96) return { family: 4, bytes: bytes.subarray(12), length: length - 96 };
  return { family: isV6 ? 6 : 4, bytes, length };
}
