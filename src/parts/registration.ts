// IMS registration as a part: the registration of the moment, replaced by a reload with new options.
import {
  createRegistration,
  type Registration,
  type RegistrationOptions,
  type RegistrationState,
} from '../ims/index.ts';
import type { Logger } from '../log/index.ts';
import type { Part } from './lifecycle.ts';

export class RegistrationPart implements Part {
  readonly name = 'ims';
  readonly phase = 'serving';
  readonly #logger: Logger;
  #registration: Registration | null = null;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /**
   * Registers with `options` (none: deregisters and stays unregistered). The new registration is made
   * before the running one stops, so options it refuses (thrown here) leave the running one alone.
   * Registration retries in the background; the process serves whatever its outcome.
   */
  async replace(options: RegistrationOptions | null): Promise<void> {
    const next = options === null ? null : createRegistration({ ...options, logger: this.#logger });
    await this.#registration?.stop();
    this.#registration = next;
    next?.start().then(
      (state) => this.#logger.info({ ims: state }, 'ims registration'),
      (err: Error) => this.#logger.error({ err }, 'ims registration failed'),
    );
  }

  state(): RegistrationState | null {
    return this.#registration?.state() ?? null;
  }

  async stop(): Promise<void> {
    await this.#registration?.stop();
  }
}
