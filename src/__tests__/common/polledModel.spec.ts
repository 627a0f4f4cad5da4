import {
  MAX_BACKOFF_INTERVAL,
  PolledAnswerModel,
  pollFrequency
} from '../../common/polledModel';

/**
 * A model over a fetch the test controls, polling every `seconds`.
 */
class CountModel extends PolledAnswerModel<number> {
  constructor(fetch: () => Promise<number>) {
    super({ name: 'test', interval: 10, auto: false, fetch });
  }

  seconds = 10;
  receivedAnswers: number[] = [];
  failures: unknown[] = [];

  get count(): number | null {
    return this.answer;
  }

  protected received(answer: number): void {
    this.receivedAnswers.push(answer);
  }

  protected failed(reason: unknown): void {
    this.failures.push(reason);
  }

  protected currentInterval(): number {
    return this.seconds;
  }
}

describe('pollFrequency', () => {
  it('backs off up to a minute, or the interval when it is longer', () => {
    expect(pollFrequency(5)).toEqual({
      interval: 5000,
      backoff: true,
      max: MAX_BACKOFF_INTERVAL * 1000
    });
    expect(pollFrequency(300).max).toBe(300_000);
  });
});

describe('PolledAnswerModel', () => {
  it('keeps the last answer and when it came', async () => {
    let next = 1;
    const model = new CountModel(async () => next++);
    expect(model.count).toBeNull();
    const before = Date.now();
    await model.refresh();
    await model.refresh();
    expect(model.count).toBe(2);
    expect(model.receivedAnswers).toEqual([1, 2]);
    expect(model.receivedAt).toBeGreaterThanOrEqual(before);
    expect(model.error).toBeNull();
    model.dispose();
  });

  it('tells the views once per new error, and keeps the last answer', async () => {
    let fail = false;
    const model = new CountModel(async () => {
      if (fail) {
        throw new Error('server gone');
      }
      return 7;
    });
    let changes = 0;
    model.changed.connect(() => changes++);
    await model.refresh();
    expect(changes).toBe(1);

    fail = true;
    await model.refresh();
    await model.refresh();
    expect(model.error).toBe('server gone');
    expect(changes).toBe(2);
    expect(model.failures).toHaveLength(2);
    expect(model.count).toBe(7);

    fail = false;
    await model.refresh();
    expect(model.error).toBeNull();
    model.dispose();
  });

  it('tells nobody of an answer that arrives after it was disposed', async () => {
    let answer: (value: number) => void = () => undefined;
    const model = new CountModel(
      () => new Promise<number>(resolve => (answer = resolve))
    );
    let changes = 0;
    model.changed.connect(() => changes++);
    const refreshed = model.refresh().catch(() => undefined);
    await new Promise(resolve => setTimeout(resolve, 10));
    model.dispose();
    answer(1);
    await refreshed;
    expect(model.isDisposed).toBe(true);
    expect(changes).toBe(0);
  });
});
