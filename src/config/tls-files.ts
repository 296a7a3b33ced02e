import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fromSystemError, InvalidArgumentError } from '../errors/index.ts';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * A PEM file of CA certificates to trust (an IMS registrar signed by the operator's own PKI), as read, once
 * each certificate in it parsed. InvalidArgumentError (or the system error) names the file and the fault.
 */
export async function readCaFile(path: string): Promise<Buffer> {
  return (await readCertificates(path)).pem;
}

/** The file's bytes and each PEM certificate in it, parsed; at least one. */
async function readCertificates(path: string): Promise<{ pem: Buffer; certificates: X509Certificate[] }> {
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
  const certificates = blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new InvalidArgumentError(
        `${path}: certificate ${index + 1} of ${blocks.length} cannot be read (${(err as Error).message})`,
        { subject: path },
      );
    }
  });
  return { pem, certificates };
}

/**
 * A certificate chain and its private key (PEM files) for the HTTPS server, as read, once both parsed and
 * the key found to be the certificate's. InvalidArgumentError names the file and the fault.
 */
export async function readCertificatePair(certPath: string, keyPath: string): Promise<{ cert: Buffer; key: Buffer }> {
  const { pem: cert, certificates } = await readCertificates(certPath);
  let key: Buffer;
  try {
    key = await readFile(keyPath);
  } catch (err) {
    throw fromSystemError(err, keyPath);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new InvalidArgumentError(`${keyPath} holds no readable private key (${(err as Error).message})`, {
      subject: keyPath,
    });
  }
  // The chain's first certificate is the server's own.
  if (!certificates[0]!.checkPrivateKey(privateKey)) {
    throw new InvalidArgumentError(`${keyPath} is not the private key of the certificate in ${certPath}`, {
      subject: keyPath,
    });
  }
  return { cert, key };
}
