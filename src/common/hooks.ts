import * as React from 'react';

/**
 * Something that can be connected to, like a Lumino signal.
 */
export interface IConnectable {
  connect: (fn: () => void) => boolean;
  disconnect: (fn: () => void) => boolean;
}

/**
 * A signal that never fires, for optional sources.
 */
export const NO_SIGNAL: IConnectable = {
  connect: () => false,
  disconnect: () => false
};

/**
 * Re-render when a signal fires.
 */
export function useSignal(signal: IConnectable): void {
  const [, setCount] = React.useState(0);
  React.useEffect(() => {
    const onChanged = () => setCount(count => count + 1);
    signal.connect(onChanged);
    return () => {
      signal.disconnect(onChanged);
    };
  }, [signal]);
}

/**
 * The current time, refreshed every second while `active`.
 */
export function useNow(active: boolean): number {
  const [now, setNow] = React.useState(() => Date.now());
  React.useEffect(() => {
    if (!active) {
      return;
    }
    setNow(Date.now());
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, [active]);
  return now;
}
