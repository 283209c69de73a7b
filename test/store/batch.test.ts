// InFlightBatcher: which keys share a load, and what each caller gets when a load fails.
import { describe, expect, it } from 'vitest';
import { InFlightBatcher } from '../../src/store/batch.js';

/** A loader whose loads the test finishes by hand, recording the keys of each. */
function manualLoader() {
  const loads: Array<{ keys: string[]; finish: (found: Map<string, string>) => void; fail: (e: Error) => void }> = [];
  const load = (keys: string[]) => new Promise<Map<string, string>>((resolve, reject) => loads.push({ keys, finish: resolve, fail: reject }));
  return { loads, load };
}
const found = (keys: string[]) => new Map(keys.filter((k) => !k.startsWith('missing')).map((k) => [k, `row of ${k}`]));
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('InFlightBatcher', () => {
  it('loads a key at once while loads are free, and folds the keys that arrive meanwhile into the next load', async () => {
    const { loads, load } = manualLoader();
    const b = new InFlightBatcher(load, { maxKeys: 3, maxInFlight: 1 });
    const first = b.get('a');
    expect(loads.map((l) => l.keys)).toEqual([['a']]);
    const waiting = ['b', 'c', 'b', 'missing-1', 'e'].map((k) => b.get(k));
    expect(loads).toHaveLength(1);
    loads[0]!.finish(found(loads[0]!.keys));
    expect(await first).toBe('row of a');
    await tick();
    // At most maxKeys keys per load, a key asked twice carried once; the rest wait for the next.
    expect(loads.map((l) => l.keys)).toEqual([['a'], ['b', 'c', 'missing-1']]);
    loads[1]!.finish(found(loads[1]!.keys));
    await tick();
    expect(loads.map((l) => l.keys)).toEqual([['a'], ['b', 'c', 'missing-1'], ['e']]);
    loads[2]!.finish(found(loads[2]!.keys));
    expect(await Promise.all(waiting)).toEqual(['row of b', 'row of c', 'row of b', undefined, 'row of e']);
    expect(b.loads).toBe(3);
  });

  it('runs up to maxInFlight loads at once', () => {
    const { loads, load } = manualLoader();
    const b = new InFlightBatcher(load, { maxKeys: 10, maxInFlight: 2 });
    for (const k of ['a', 'b', 'c', 'd']) void b.get(k);
    expect(loads.map((l) => l.keys)).toEqual([['a'], ['b']]);
  });

  it('rejects the keys of a failed load, and only those; later keys load again', async () => {
    const { loads, load } = manualLoader();
    const b = new InFlightBatcher(load, { maxKeys: 10, maxInFlight: 1 });
    const a = b.get('a');
    const later = b.get('b');
    loads[0]!.fail(new Error('connection lost'));
    await expect(a).rejects.toThrow('connection lost');
    await tick();
    expect(loads.map((l) => l.keys)).toEqual([['a'], ['b']]);
    loads[1]!.finish(found(['b']));
    expect(await later).toBe('row of b');
  });

  it('rejects, and goes on loading, when the loader throws instead of returning a promise', async () => {
    let calls = 0;
    const b = new InFlightBatcher<string, string>((keys) => {
      if (calls++ === 0) throw new Error('bad statement');
      return Promise.resolve(found(keys));
    }, { maxKeys: 10, maxInFlight: 1 });
    await expect(b.get('a')).rejects.toThrow('bad statement');
    expect(await b.get('a')).toBe('row of a');
  });
});
