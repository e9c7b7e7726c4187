import { Sma } from './sma.js';

/**
 * Mean volume of the last `period` candles. It is an Sma; the name exists so a strategy reads
 * as what it checks, and so volume (which swings by orders of magnitude hour to hour) gets the
 * compensated sum without anyone having to remember why that matters.
 */
export class VolumeAverage extends Sma {}
