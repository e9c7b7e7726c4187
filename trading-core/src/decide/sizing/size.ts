/**
 * A buy's size as it is shaped: sizing rules take the size so far and return it unchanged or
 * tightened, remembering which limit bound it last. If the final size is below the market's
 * minimum, the rejection carries that limit's code and says which limit it was.
 */
import type { DecideCode } from '../codes.js';
import { money } from '../format.js';
import type { SizingContext } from '../context.js';

export interface Bound {
  code: DecideCode;
  /** Why an order of `quote` (> 0, or 0 when nothing was left) is not possible; `min` is the market minimum, formatted. */
  explain(quote: number, min: string): string;
}

export interface Size {
  /** Quote to spend, before rounding to the market. */
  quote: number;
  /** The limit that set `quote`. */
  bound: Bound;
  /** What shaped the size, for the accepted decision. */
  notes: string[];
}

export type SizingRule = (ctx: SizingContext, size: Size) => Size;

/** Tighten `size` to `room` if that is smaller (never below 0). */
export function capAt(ctx: SizingContext, size: Size, room: number, bound: Bound, label: string): Size {
  if (!(room < size.quote)) return size;
  const quote = Math.max(0, room);
  return { quote, bound, notes: [...size.notes, `${label}: size cut to ${money(quote, ctx.state.quote)}`] };
}

/** The common tail of a too-small reason. */
export function belowMinimum(ctx: SizingContext, min: string): string {
  return `below the exchange's minimum order for ${ctx.signal.symbol} (${min})`;
}
