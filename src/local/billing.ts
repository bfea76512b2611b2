import { ApiError } from '../api/errors.js';
import type { LocalContext } from './context.js';

/**
 * The credits a call was charged, kept on the stored call row so a call that never connects is
 * refunded exactly once (the engine's endCall). Never returned by the API (routes/calls.ts).
 */
export const CHARGED_CREDITS_FIELD = 'charged_credits';

/**
 * Charges `amount` credits to the customer before a chargeable operation, or throws 402
 * INSUFFICIENT_BALANCE and changes nothing. The debit is one conditional UPDATE, so two
 * concurrent operations cannot both spend the same credits.
 */
export async function charge(ctx: LocalContext, customerId: string, amount: number, what: string): Promise<void> {
  if (amount <= 0) return;
  const ok = await ctx.store.billingAccounts.debit(customerId, amount);
  if (!ok) {
    const account = await ctx.store.billingAccounts.getByCustomer(customerId);
    throw new ApiError(
      402,
      'INSUFFICIENT_BALANCE',
      `insufficient balance for ${what}: it costs ${amount} credits and the balance is ${account?.balance_credit ?? 0}; ` +
        'the local VoIPBIN has no top-up endpoint: send fewer destinations, or use a new customer with more credits ' +
        '(VOIPBIN_LOCAL_INITIAL_BALANCE=1000000 npx voipbin-ai customers create)',
    );
  }
}

/** Gives credits back when an operation that was charged could not be carried out. */
export async function refund(ctx: LocalContext, customerId: string, amount: number): Promise<void> {
  if (amount > 0) await ctx.store.billingAccounts.credit(customerId, amount);
}
