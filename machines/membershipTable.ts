import { deriveTransitionTable, TableStepper } from './transitionTable.js';
import {
  membership,
  membershipContextUpdates,
  membershipGuards,
  type MembershipContext,
  type MembershipEvent,
} from './membership.js';

/** The membership chart's transition table, derived from the chart at load. */
export const membershipTransitionTable = deriveTransitionTable(membership);

/**
 * The hot-path form of {@link membership}: steps plain member records
 * through the derived table with the chart's own guards and updates, as the
 * replicated apply of a committed membership entry does.
 */
export const membershipStepper = new TableStepper<MembershipContext, MembershipEvent>(membershipTransitionTable, {
  guards: membershipGuards,
  updates: membershipContextUpdates,
});
