// InFlightBatcher: which keys share a load, and what each caller gets when a load fails.
import { describe, expect, it } from 'vitest';
import { InFlightBatcher } from '../../src/store/batch.js';

/** A loader whose loads the test finishes by hand, recording the keys of each. */
function manualLoader() {
  const loads: Array<{ keys: string[]; finish: (found: Map<string, string>) => void; fail: (e: Error) => void }> = [];
  const load = (batch: Map<string, string>) => new Promise<Map<string, string>>((resolve, reject) => loads.push({ keys: [...batch.keys()], finish: resolve, fail: reject }));
  return { loads, load };
}
const found = (keys: string[]) => new Map(keys.filter((k) => !k.startsWith('missing')).map((k) => [k, `row of ${k}`]));
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('InFlightBatcher', () => {
  it('loads a key at once while loads are free, and folds the keys that arrive meanwhile into the next load', async () => {
    const { loads, load } = manualLoader();
    const b = new InFlightBatcher(load, { maxKeys: 3, maxInFlight: 1, join: true });
    const first = b.submit('a', 'a');
    expect(loads.map((l) => l.keys)).toEqual([['a']]);
    const waiting = ['b', 'c', 'b', 'missing-1', 'e'].map((k) => b.submit(k, k));
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

  it('never puts two writes of one key in one load, and keeps each write\'s own input and answer', async () => {
    const loads: Array<Map<string, string>> = [];
    const finishers: Array<() => void> = [];
    const b = new InFlightBatcher<string, string, string>((batch) => new Promise((resolve) => {
      loads.push(batch);
      finishers.push(() => resolve(new Map([...batch].map(([k, v]) => [k, `wrote ${v}`]))));
    }), { maxKeys: 10, maxInFlight: 1, join: false });
    const first = b.submit('d1', 'posture 1');
    const rest = [b.submit('d1', 'posture 2'), b.submit('d2', 'posture A'), b.submit('d1', 'posture 3')];
    finishers[0]!();
    await tick();
    expect(loads.map((l) => [...l])).toEqual([[['d1', 'posture 1']], [['d1', 'posture 2'], ['d2', 'posture A']]]);
    finishers[1]!();
    await tick();
    expect(loads.map((l) => [...l])[2]).toEqual([['d1', 'posture 3']]);
    finishers[2]!();
    expect(await first).toBe('wrote posture 1');
    expect(await Promise.all(rest)).toEqual(['wrote posture 2', 'wrote posture A', 'wrote posture 3']);
  });

  it('runs up to maxInFlight loads at once', () => {
    const { loads, load } = manualLoader();
    const b = new InFlightBatcher(load, { maxKeys: 10, maxInFlight: 2, join: true });
    for (const k of ['a', 'b', 'c', 'd']) void b.submit(k, k);
    expect(loads.map((l) => l.keys)).toEqual([['a'], ['b']]);
  });

  it('rejects the keys of a failed load, and only those; later keys load again', async () => {
    const { loads, load } = manualLoader();
    const b = new InFlightBatcher(load, { maxKeys: 10, maxInFlight: 1, join: true });
    const a = b.submit('a', 'a');
    const later = b.submit('b', 'b');
    loads[0]!.fail(new Error('connection lost'));
    await expect(a).rejects.toThrow('connection lost');
    await tick();
    expect(loads.map((l) => l.keys)).toEqual([['a'], ['b']]);
    loads[1]!.finish(found(['b']));
    expect(await later).toBe('row of b');
  });

  it('rejects, and goes on loading, when the loader throws instead of returning a promise', async () => {
    let calls = 0;
    const b = new InFlightBatcher<string, string, string>((batch) => {
      if (calls++ === 0) throw new Error('bad statement');
      return Promise.resolve(found([...batch.keys()]));
    }, { maxKeys: 10, maxInFlight: 1, join: true });
    await expect(b.submit('a', 'a')).rejects.toThrow('bad statement');
    expect(await b.submit('a', 'a')).toBe('row of a');
  });
});
