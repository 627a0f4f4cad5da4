import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { IKernelSnapshotState, ISnapshotInfo } from '../api/snapshots';
import { formatBytes } from '../common/format';
import { hasUnsavedWork, snapshotClock, snapshotTime } from './state';

/**
 * Hours the timeline can span.
 */
const SPANS = [1, 3, 6, 12, 24, 48, 168];

/**
 * A strip of the snapshot times, bar heights by size, with now and the next
 * automatic snapshot.
 */
export function Timeline(props: {
  history: ISnapshotInfo[];
  kernel: IKernelSnapshotState | null;
  now: number;
  trans: TranslationBundle;
}): JSX.Element {
  const { history, kernel, now, trans } = props;
  const times = history.map(snapshotTime).filter(t => !isNaN(t));
  const oldest = times.length ? Math.min(...times) : now;
  const hours =
    SPANS.find(h => h * 3_600_000 >= now - oldest) ?? SPANS[SPANS.length - 1];
  const span = hours * 3_600_000;
  const start = now - span;
  const end = now + span * 0.12;
  const width = 240;
  const height = 32;
  const base = height - 4;
  const x = (time: number) => ((time - start) / (end - start)) * width;
  const sizes = history.map(s => Math.log10(1 + Math.max(0, s.bytes_total)));
  const top = Math.max(...sizes, 1);
  const due =
    kernel?.next_due &&
    kernel.next_due * 1000 > now &&
    hasUnsavedWork(kernel) !== false
      ? kernel.next_due * 1000
      : null;
  const label = trans.__(
    'Snapshots of the last %1 h: %2',
    hours,
    history.length
  );
  return (
    <div className="jp-gpuguard-timeline">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="none"
        width="100%"
        height={height}
        role="img"
        aria-label={label}
      >
        <title>{label}</title>
        <line
          className="jp-gpuguard-timeline-axis"
          x1={0}
          x2={width}
          y1={base}
          y2={base}
        />
        {history.map((snapshot, index) => {
          const time = snapshotTime(snapshot);
          if (isNaN(time) || time < start) {
            return null;
          }
          const barHeight = 4 + (sizes[index] / top) * (base - 8);
          return (
            <rect
              key={snapshot.id}
              className={
                'jp-gpuguard-timeline-bar' +
                (index === 0 ? ' jp-gpuguard-mod-latest' : '')
              }
              x={x(time) - 1.5}
              y={base - barHeight}
              width={3}
              height={barHeight}
            >
              <title>
                {`${snapshotClock(snapshot)} · ${formatBytes(snapshot.bytes_total)}`}
              </title>
            </rect>
          );
        })}
        <line
          className="jp-gpuguard-timeline-now"
          x1={x(now)}
          x2={x(now)}
          y1={2}
          y2={base + 3}
        />
        {due !== null && due < end && (
          <circle
            className="jp-gpuguard-timeline-due"
            cx={x(due)}
            cy={base}
            r={2.5}
          >
            <title>{trans.__('Next automatic snapshot')}</title>
          </circle>
        )}
      </svg>
      <div className="jp-gpuguard-timeline-labels jp-gpuguard-small">
        <span>{trans.__('%1 h ago', hours)}</span>
        <span
          className="jp-gpuguard-timeline-now-label"
          style={{ left: `${((now - start) / (end - start)) * 100}%` }}
        >
          {trans.__('now')}
        </span>
      </div>
    </div>
  );
}
