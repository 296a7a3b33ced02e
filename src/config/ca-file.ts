import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fromSystemError, InvalidArgumentError } from '../errors/index.ts';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * A PEM file of CA certificates to trust (an IMS registrar signed by the operator's own PKI), as read, once
 * each certificate in it parsed. InvalidArgumentError (or the system error) names the file and the fault.
 */
export async function readCaFile(path: string): Promise<Buffer> {
  let pem: Buffer;
  try {
    pem = await readFile(path);
  } catch (err) {
    throw fromSystemError(err, path);
  }
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw new InvalidArgumentError(`${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, { subject: path });
  }
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new InvalidArgumentError(
        `${path}: certificate ${index + 1} of ${blocks.length} cannot be read (${(err as Error).message})`,
        { subject: path },
      );
    }
  }
  return pem;
}
