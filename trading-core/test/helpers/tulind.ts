// @ts-expect-error tulind ships no types; its shape as used here is declared below.
import tulindModule from 'tulind';

const tulind = tulindModule as {
  indicators: Record<
    string,
    { indicator(inputs: number[][], options: number[], cb: (err: unknown, out: number[][]) => void): void }
  >;
};

/**
 * One of tulind's indicators (Tulip Indicators, C), the reference the tests hold ours to. Its
 * callback API is synchronous: the outputs, each as long as the input less its warm-up.
 */
export function tulip(name: string, inputs: number[][], options: number[]): number[][] {
  let out: number[][] | undefined;
  tulind.indicators[name]!.indicator(inputs, options, (err, res) => {
    if (err) throw err;
    out = res;
  });
  return out!;
}
