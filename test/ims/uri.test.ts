import { describe, expect, it } from 'vitest';
import { formatSipUri, parseSipUri, sameContactUri } from '../../src/ims/uri.ts';

describe('parseSipUri', () => {
  it('reads user, host, port and parameters', () => {
    const uri = parseSipUri('sip:alice@ims.example.test:5070;transport=TCP;lr');
    expect(uri).toMatchObject({ scheme: 'sip', user: 'alice', host: 'ims.example.test', port: 5070 });
    expect([...uri.params]).toEqual([
      ['transport', 'TCP'],
      ['lr', ''],
    ]);
  });

  it('reads IPv6 hosts in brackets and sips', () => {
    expect(parseSipUri('sips:[::1]:5061')).toMatchObject({ scheme: 'sips', host: '::1', port: 5061 });
    expect(parseSipUri('SIP:127.0.0.1')).toMatchObject({ scheme: 'sip', host: '127.0.0.1' });
  });

  it('drops a password in the user part', () => {
    expect(parseSipUri('sip:bob:secret@example.test').user).toBe('bob');
  });

  it.each([
    ['http://example.test', /start with sip/],
    ['sip:', /no host/],
    ['sip:[::1', /unclosed/],
    ['sip:[127.0.0.1]', /not an IPv6/],
    ['sip:host:0', /bad port/],
    ['sip:host:70000', /bad port/],
    ['sip:host:5x', /bad port/],
    ['sip:bad_host!', /bad host/],
    ['sip:@host', /bad user/],
  ])('rejects %s naming what is wrong', (text, why) => {
    expect(() => parseSipUri(text, '--registrar')).toThrow(why);
    try {
      parseSipUri(text, '--registrar');
    } catch (err) {
      expect((err as { code: string }).code).toBe('EDGEPEER_INVALID_ARGUMENT');
      expect((err as Error).message).toContain('--registrar');
    }
  });

  it('formats back, bracketing IPv6', () => {
    expect(formatSipUri(parseSipUri('sip:u@[::1]:5060;transport=tcp'))).toBe('sip:u@[::1]:5060;transport=tcp');
  });
});

describe('sameContactUri', () => {
  it('compares hosts case-insensitively, default ports and IPv6 spellings', () => {
    expect(sameContactUri(parseSipUri('sip:a@HOST.test'), parseSipUri('sip:a@host.test:5060'))).toBe(true);
    expect(sameContactUri(parseSipUri('sip:a@[0:0:0:0:0:0:0:1]:5'), parseSipUri('sip:a@[::1]:5'))).toBe(true);
    expect(sameContactUri(parseSipUri('sip:a@h;transport=tcp'), parseSipUri('sip:a@h'))).toBe(false);
    expect(sameContactUri(parseSipUri('sip:a@h:1'), parseSipUri('sip:a@h:2'))).toBe(false);
  });
});
