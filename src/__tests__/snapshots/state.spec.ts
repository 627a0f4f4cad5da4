import { nullTranslator } from '@jupyterlab/translation';

import {
  hasUnsavedWork,
  isOverdue,
  lastSnapshotTime,
  nextSnapshotText,
  whereText
} from '../../snapshots/state';
import { kernelState, snapshotInfo, snapshotStatus } from './fixtures';

const trans = nullTranslator.load('jupyter_gpuguard');

describe('hasUnsavedWork', () => {
  it('is false before any cell ran', () => {
    expect(hasUnsavedWork(kernelState({ execution_count: 1 }))).toBe(false);
  });

  it('is true when cells ran since the last snapshot', () => {
    const last = snapshotInfo({ execution_count: 3 });
    expect(
      hasUnsavedWork(kernelState({ execution_count: 5, last_snapshot: last }))
    ).toBe(true);
    expect(
      hasUnsavedWork(kernelState({ execution_count: 3, last_snapshot: last }))
    ).toBe(false);
    expect(hasUnsavedWork(kernelState({ execution_count: 2 }))).toBe(true);
  });

  it('is unknown without the cell number', () => {
    expect(hasUnsavedWork(kernelState({ execution_count: null }))).toBeNull();
  });
});

describe('isOverdue', () => {
  const status = snapshotStatus([]);
  const due = 1000;
  const tick = 5;
  const late = (due + 2 * tick) * 1000 + 1;

  it('is late two polls after the due time, with work unsaved', () => {
    const kernel = kernelState({ next_due: due, execution_count: 4 });
    expect(isOverdue(kernel, status, late, tick)).toBe(true);
    expect(isOverdue(kernel, status, late - 2, tick)).toBe(false);
  });

  it('is never late while a cell runs, or with nothing to save', () => {
    expect(
      isOverdue(
        kernelState({ next_due: due, execution_count: 4, state: 'busy' }),
        status,
        late,
        tick
      )
    ).toBe(false);
    expect(
      isOverdue(
        kernelState({ next_due: due, execution_count: 1 }),
        status,
        late,
        tick
      )
    ).toBe(false);
    expect(
      isOverdue(
        kernelState({ next_due: due, execution_count: 4 }),
        snapshotStatus([], { interval_seconds: 0 }),
        late,
        tick
      )
    ).toBe(false);
  });
});

describe('nextSnapshotText', () => {
  const status = snapshotStatus([]);

  it('says when the next automatic snapshot comes', () => {
    const kernel = kernelState({ next_due: 100, execution_count: 3 });
    expect(nextSnapshotText(kernel, status, 60_000, trans)).toBe('in 40 s');
    expect(nextSnapshotText(kernel, status, 200_000, trans)).toBe('now');
  });

  it('says why there is none to come', () => {
    expect(
      nextSnapshotText(
        kernelState({}),
        snapshotStatus([], { interval_seconds: 0 }),
        0,
        trans
      )
    ).toBe('automatic snapshots are off');
    expect(
      nextSnapshotText(kernelState({ supported: false }), status, 0, trans)
    ).toBe('never: not supported');
    expect(
      nextSnapshotText(kernelState({ execution_count: 1 }), status, 0, trans)
    ).toBe('when a cell has run');
    expect(
      nextSnapshotText(
        kernelState({ attached: false, state: 'busy' }),
        status,
        0,
        trans
      )
    ).toBe('once the running cell has finished');
  });
});

describe('lastSnapshotTime', () => {
  it('takes the server time, else the time of the last snapshot', () => {
    expect(lastSnapshotTime(kernelState({ last_snapshot_at: 5 }))).toBe(5000);
    expect(
      lastSnapshotTime(
        kernelState({
          last_snapshot: snapshotInfo({ created: '1970-01-01T00:00:07Z' })
        })
      )
    ).toBe(7000);
    expect(lastSnapshotTime(kernelState({}))).toBeNull();
  });
});

describe('whereText', () => {
  it('names each tier', () => {
    expect(whereText(['disk'], trans)).toBe('this disk');
    expect(whereText(['replica'], trans)).toBe('on the replica only');
    expect(whereText(['disk', 'replica'], trans)).toBe(
      'this disk and the replica'
    );
  });
});
