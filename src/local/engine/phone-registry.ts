import type { Row, Store } from '../../../db/store.js';
import { normalizeE164 } from '../../../tools/e164.js';
import type { Party } from './live-call.js';

/** A registered local phone (softphone) that can ring and carry one call at a time. */
export interface PhoneEndpoint extends Party {
  readonly customerId: string;
  /** The address it answers: `tel:<customerId>:+15551234567` or `extension:<customerId>:<name>`. */
  readonly addressKey: string;
  /** An incoming call rings this phone. */
  ring(call: Row): void;
  /** The call this phone is on (ringing or talking), if any. */
  currentCallId: string | undefined;
  /**
   * Takes the phone off the line for good: its call ends first (it gets `hangup`), then its
   * connection closes telling it `reason` (e.g. its number was deleted).
   */
  drop(reason: string): Promise<void>;
}

/**
 * `tel:<customer>:+1555...` or `extension:<customer>:<name>`: the key phones register and calls
 * route on. A number's key carries its customer too: a phone registered while customer 1 owned
 * +1555... can never be handed a call for the same number after customer 2 re-creates it.
 */
export function addressKey(customerId: string, address: { type: string; target: string }): string | undefined {
  if (address.type === 'tel') {
    const n = normalizeE164(address.target);
    return n ? `tel:${customerId}:${n}` : undefined;
  }
  if (address.type === 'extension') return `extension:${customerId}:${address.target}`;
  return undefined;
}

export interface PhoneRegistryOptions {
  /**
   * A registered phone left the registry ({@link PhoneRegistry.unregister}) while it may still be
   * on a call: the call engine ends that call. The registry itself holds no calls.
   */
  onUnregister?: (phone: PhoneEndpoint) => void;
}

/**
 * The local phones registered at their addresses, one phone per address: where a call to a
 * number or an extension rings.
 */
export class PhoneRegistry {
  private readonly byAddress = new Map<string, PhoneEndpoint>();
  private readonly store: Store;
  private readonly onUnregister: ((phone: PhoneEndpoint) => void) | undefined;

  /** `store`: where a number's current owner is looked up (see {@link forDestination}). */
  constructor(store: Store, opts: PhoneRegistryOptions = {}) {
    this.store = store;
    this.onUnregister = opts.onUnregister;
  }

  /** Registers a phone; false when another phone already holds that address. */
  register(phone: PhoneEndpoint): boolean {
    if (this.byAddress.has(phone.addressKey)) return false;
    this.byAddress.set(phone.addressKey, phone);
    return true;
  }

  /** Takes a phone off its address (its connection closed); the call it is on ends. */
  unregister(phone: PhoneEndpoint): void {
    if (this.byAddress.get(phone.addressKey) === phone) this.byAddress.delete(phone.addressKey);
    this.onUnregister?.(phone);
  }

  /**
   * The phone of `ownerCustomerId` registered at `address`: for a number, pass the number's
   * owner (see {@link forDestination}). A phone of any other customer is never returned.
   */
  find(ownerCustomerId: string, address: { type: string; target: string }): PhoneEndpoint | undefined {
    const key = addressKey(ownerCustomerId, address);
    const phone = key ? this.byAddress.get(key) : undefined;
    return phone && phone.customerId === ownerCustomerId ? phone : undefined;
  }

  /**
   * The phone a call to `destination` rings: for a number, the phone of the number's current
   * owner (none when no such number exists); for an extension, the phone of `customerId`.
   */
  async forDestination(customerId: string, destination: { type: string; target: string }): Promise<PhoneEndpoint | undefined> {
    let owner = customerId;
    if (destination.type === 'tel') {
      const n = normalizeE164(destination.target);
      const row = n ? (await this.store.numbers.findBy('number', n))[0] : undefined;
      if (!row) return undefined;
      owner = row.customer_id;
    }
    return this.find(owner, destination);
  }

  /**
   * A number was deleted: the phone registered on it is unregistered at once (nothing routes to
   * it any more), its call ends and its connection closes telling it to register again.
   */
  async numberDeleted(number: Row): Promise<void> {
    const target = String(number.number ?? '');
    const phone = this.find(number.customer_id, { type: 'tel', target });
    if (!phone) return;
    this.byAddress.delete(phone.addressKey);
    await phone.drop(`number ${target} was deleted; register again on a number of this account`);
  }
}
