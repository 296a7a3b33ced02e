import { Flags } from '@oclif/core';
import { issueToken } from '../../src/auth/index.ts';
import { BaseCommand } from '../../src/cli/index.ts';
import { parseDuration } from '../../src/config/index.ts';

export default class TokenSign extends BaseCommand {
  static override description = `Print a signed URL token for agents and controllers started with --token-key.
The token opens every URL under the given path prefixes until it expires (HMAC-SHA256 with the named key; docs/http.md, "Signed URLs"). Append it to a URL as ?__token__=TOKEN, or send it in an X-Edgepeer-Token header or a __token__ cookie.`;

  static override examples = [
    '<%= config.bin %> token sign --key 2026a=/etc/edgepeer/url-key-2026a --path /objects/<info hash>/ --expires 60s',
    'curl "http://edge:8080/pieces/<info hash>/0?$(<%= config.bin %> token sign --key k=/etc/k --path /pieces/<info hash>/ --json | jq -r .query)"',
  ];

  static override flags = {
    key: Flags.string({
      description: 'ID=FILE: the key id put in the token and the file holding the key.',
      required: true,
    }),
    path: Flags.string({
      description: 'Path prefix the token opens (repeatable): an object URL, /pieces/<info hash>/, or /.',
      required: true,
      multiple: true,
    }),
    expires: Flags.string({ description: 'Lifetime from now, e.g. 60s, 15m, 1h.', default: '60s' }),
    ip: Flags.string({ description: 'The one client address the token is good for.' }),
    subscriber: Flags.string({
      description:
        'Who it is issued to (an IMS public identity such as sip:alice@ims.example.net), put in accounting records.',
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(TokenSign);
    const issued = await issueToken({
      key: flags.key,
      paths: flags.path,
      expiresInMs: parseDuration(flags.expires, '--expires'),
      ...(flags.ip === undefined ? {} : { address: flags.ip }),
      ...(flags.subscriber === undefined ? {} : { subscriber: flags.subscriber }),
    });
    this.emit(issued, issued.token);
  }
}
