// The reliability report's figures and page (tests/reliability/report.ts).
import { figures, renderReport } from '../../reliability/report';

const date = '2026-12-06T00:00:00.000Z';
const fault = (recoveryS: number | null, survived: boolean) => ({
  fault: 'f',
  userSees: 'u',
  recoveryS,
  lost: 'nothing',
  survived,
  date
});

describe('reliability figures', () => {
  it('counts faults, the survivors and the slowest recovery', () => {
    const ids = figures({
      faults: { a: fault(2.5, true), b: fault(7.25, true), c: fault(1, false) },
      fuzz: {},
      secrets: {},
      soak: null
    });
    expect(ids['reliability.faults_total']).toBe(3);
    expect(ids['reliability.faults_survived']).toBe(2);
    expect(ids['reliability.max_recovery_s']).toBe(7.25);
    expect(ids['reliability.fuzz_inputs']).toBeUndefined();
  });

  it('reports a fault that never recovered as -1, not as the slowest finite one', () => {
    const ids = figures({
      faults: { a: fault(3, true), b: fault(null, false) },
      fuzz: {},
      secrets: {},
      soak: null
    });
    expect(ids['reliability.max_recovery_s']).toBe(-1);
  });

  it('sums inputs, injections and leaks over every record', () => {
    const ids = figures({
      faults: {},
      fuzz: {
        a: { surface: 's', inputs: 600, injections: 0, refused: 10, date },
        b: { surface: 't', inputs: 500, injections: 1, refused: 0, date }
      },
      secrets: {
        a: { place: 'p', secrets: ['token'], checks: 4, leaks: 2, date },
        b: { place: 'q', secrets: ['key'], checks: 9, leaks: 0, date }
      },
      soak: null
    });
    expect(ids['reliability.fuzz_inputs']).toBe(1100);
    expect(ids['reliability.injections']).toBe(1);
    expect(ids['reliability.secret_leaks']).toBe(2);
  });

  it('escapes table cells so a fault description cannot break the page', () => {
    const page = renderReport({
      faults: {
        a: { ...fault(1, true), fault: 'port | taken\nagain' }
      },
      fuzz: {},
      secrets: {},
      soak: null
    });
    expect(page).toContain('port \\| taken again');
    expect(page).toContain('| `reliability.faults_total` | 1 |');
  });
});
