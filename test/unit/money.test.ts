import Big from 'big.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Currency,
  findCurrency,
  formatMinor,
  formatStoredAmount,
  MAX_MINOR_UNITS,
  parseAmount,
  refusedCurrencyMessage,
} from '../../src/orders/money';

function currency(code: string): Currency {
  const found = findCurrency(code);
  if (!found) throw new Error(`test setup: ${code} is not a known currency`);
  return found;
}

const USD = currency('USD');
const JPY = currency('JPY');
const KWD = currency('KWD');
const IDR = currency('IDR');

describe('findCurrency', () => {
  it.each([
    ['USD', 2],
    ['JPY', 0],
    ['KWD', 3],
    ['IDR', 2],
    ['EUR', 2],
    ['BHD', 3],
  ])('knows the ISO 4217 exponent of %s (%i)', (code, exponent) => {
    expect(findCurrency(code)).toEqual({ code, exponent });
  });

  it.each(['usd', 'Usd', 'uSD'])('looks %s up case-insensitively and returns the upper-case code', (code) => {
    expect(findCurrency(code)).toEqual({ code: 'USD', exponent: 2 });
  });

  it('looks lower-case JPY up with its zero exponent', () => {
    expect(findCurrency('jpy')).toEqual({ code: 'JPY', exponent: 0 });
  });

  it.each(['XAU', 'XAG', 'XPT', 'XPD', 'XBA', 'XTS', 'XXX', 'xau', 'xts', 'xxx'])(
    'does not accept %s (a metal, bond unit or test code) as a currency',
    (code) => {
      expect(findCurrency(code)).toBeUndefined();
    },
  );

  it.each(['', 'US', 'USDD', 'ABC', ' USD', 'USD '])('returns undefined for the non-code %j', (code) => {
    expect(findCurrency(code)).toBeUndefined();
  });
});

describe('MAX_MINOR_UNITS', () => {
  it('is fifteen nines', () => {
    expect(MAX_MINOR_UNITS).toBe(999_999_999_999_999n);
  });
});

describe('parseAmount', () => {
  describe('currency exponents', () => {
    it.each([
      ['9.99', USD, 999n],
      ['9.9', USD, 990n],
      ['9', USD, 900n],
      ['1500', JPY, 1500n],
      ['1.005', KWD, 1005n],
      ['1.5', KWD, 1500n],
      ['15000.50', IDR, 1500050n],
    ] as const)('parses the string %s in %o into minor units', (value, cur, minor) => {
      expect(parseAmount(value, cur)).toEqual({ ok: true, minor });
    });

    it.each([
      [9.99, USD, 999n],
      [1500, JPY, 1500n],
      [1.005, KWD, 1005n],
      [15000.5, IDR, 1500050n],
      [0.1, USD, 10n],
      [0.07, USD, 7n],
    ] as const)('parses the number %d in %o into minor units', (value, cur, minor) => {
      expect(parseAmount(value, cur)).toEqual({ ok: true, minor });
    });

    it('refuses a decimal string longer than 64 characters without reading it, and reads one of 64', () => {
      expect(parseAmount('1'.repeat(1_000_000), USD)).toEqual({
        ok: false,
        message: 'must be a decimal number of at most 64 characters',
      });
      expect(parseAmount(`1.${'0'.repeat(62)}`, USD)).toEqual({ ok: true, minor: 100n });
    });

    it('rejects 9.999 USD (as a number and as a string) rather than rounding', () => {
      const expected = { ok: false, message: 'must have at most 2 decimal places in USD' };
      expect(parseAmount(9.999, USD)).toEqual(expected);
      expect(parseAmount('9.999', USD)).toEqual(expected);
    });

    it('rejects 1.5 JPY (as a number and as a string) rather than rounding', () => {
      const expected = { ok: false, message: 'must be a whole number in JPY' };
      expect(parseAmount(1.5, JPY)).toEqual(expected);
      expect(parseAmount('1.5', JPY)).toEqual(expected);
    });

    it('accepts 1.005 KWD but rejects a fourth decimal place', () => {
      expect(parseAmount(1.005, KWD)).toEqual({ ok: true, minor: 1005n });
      expect(parseAmount('1.0005', KWD)).toEqual({
        ok: false,
        message: 'must have at most 3 decimal places in KWD',
      });
    });

    it('rejects a third decimal place in IDR', () => {
      expect(parseAmount('0.001', IDR)).toEqual({
        ok: false,
        message: 'must have at most 2 decimal places in IDR',
      });
    });

    it('accepts trailing zeros past the exponent, since the value is still exact', () => {
      expect(parseAmount('0.010', USD)).toEqual({ ok: true, minor: 1n });
      expect(parseAmount('7.000', JPY)).toEqual({ ok: true, minor: 7n });
    });

    it('rejects the float artefact 0.1 + 0.2 instead of rounding it to 0.30', () => {
      expect(parseAmount(0.1 + 0.2, USD)).toEqual({
        ok: false,
        message: 'must have at most 2 decimal places in USD',
      });
    });
  });

  describe('sign', () => {
    it.each([-1, -0.01, '-1', '-0.01'])('rejects the negative amount %j', (value) => {
      expect(parseAmount(value, USD)).toEqual({ ok: false, message: 'must be 0 or more' });
    });

    it('accepts the string "-0" as 0', () => {
      expect(parseAmount('-0', USD)).toEqual({ ok: true, minor: 0n });
    });

    it('accepts the number -0 as 0', () => {
      expect(parseAmount(-0, USD)).toEqual({ ok: true, minor: 0n });
    });

    it('accepts "-0.00" as 0', () => {
      expect(parseAmount('-0.00', USD)).toEqual({ ok: true, minor: 0n });
    });

    it('accepts 0 and "0"', () => {
      expect(parseAmount(0, JPY)).toEqual({ ok: true, minor: 0n });
      expect(parseAmount('0', KWD)).toEqual({ ok: true, minor: 0n });
    });
  });

  describe('syntax', () => {
    it('gives the same minor units for a decimal string and the equal number', () => {
      expect(parseAmount('227.00', USD)).toEqual({ ok: true, minor: 22700n });
      expect(parseAmount(227, USD)).toEqual({ ok: true, minor: 22700n });
    });

    it('accepts leading zeros in a decimal string', () => {
      expect(parseAmount('007.50', USD)).toEqual({ ok: true, minor: 750n });
    });

    it.each([
      '1e5',
      '1E5',
      '1e-2',
      '',
      ' 1',
      '1 ',
      '1.',
      '.5',
      '+1',
      '1,00',
      '0x10',
      'NaN',
      'Infinity',
      '1.2.3',
      '--1',
      'abc',
    ])('rejects the string %j', (value) => {
      expect(parseAmount(value, USD)).toEqual({
        ok: false,
        message: 'must be a decimal number such as "99.00"',
      });
    });

    it('accepts the number 1e5 (the exponent is the JSON number syntax, not part of a string)', () => {
      expect(parseAmount(1e5, USD)).toEqual({ ok: true, minor: 10_000_000n });
    });

    it.each([NaN, Infinity, -Infinity])('rejects the number %d', (value) => {
      expect(parseAmount(value, USD)).toEqual({ ok: false, message: 'must be a finite number' });
    });
  });

  describe('15-significant-digit cap', () => {
    it('accepts exactly the largest USD amount, as a string and as a number', () => {
      expect(parseAmount('9999999999999.99', USD)).toEqual({ ok: true, minor: 999_999_999_999_999n });
      expect(parseAmount(9999999999999.99, USD)).toEqual({ ok: true, minor: 999_999_999_999_999n });
    });

    it('rejects one minor unit past the largest USD amount', () => {
      const expected = { ok: false, message: 'must be at most 9999999999999.99 USD' };
      expect(parseAmount('10000000000000.00', USD)).toEqual(expected);
      expect(parseAmount(10000000000000, USD)).toEqual(expected);
    });

    it('accepts exactly the largest JPY amount, as a string and as a number', () => {
      expect(parseAmount('999999999999999', JPY)).toEqual({ ok: true, minor: 999_999_999_999_999n });
      expect(parseAmount(999999999999999, JPY)).toEqual({ ok: true, minor: 999_999_999_999_999n });
    });

    it('rejects one past the largest JPY amount', () => {
      const expected = { ok: false, message: 'must be at most 999999999999999 JPY' };
      expect(parseAmount('1000000000000000', JPY)).toEqual(expected);
      expect(parseAmount(1000000000000000, JPY)).toEqual(expected);
    });

    it('caps KWD at twelve whole digits and three decimals', () => {
      expect(parseAmount('999999999999.999', KWD)).toEqual({ ok: true, minor: 999_999_999_999_999n });
      expect(parseAmount('1000000000000.000', KWD)).toEqual({
        ok: false,
        message: 'must be at most 999999999999.999 KWD',
      });
    });

    it('rejects a number far past the cap whose String() uses exponent notation', () => {
      expect(parseAmount(1e21, USD)).toEqual({ ok: false, message: 'must be at most 9999999999999.99 USD' });
    });
  });

  // Plain decimal text is read digit by digit; everything else through Big. Both must answer alike.
  it('answers as exact decimal arithmetic (Big) does, for strings and numbers of every shape', () => {
    const reference = (value: number | string, cur: Currency) => {
      const text = String(value);
      if (typeof value === 'number' && !Number.isFinite(value))
        return { ok: false, message: 'must be a finite number' };
      if (text.length > 64)
        return { ok: false, message: 'must be a decimal number of at most 64 characters' };
      if (typeof value === 'string' && !/^-?\d+(\.\d+)?$/.test(text))
        return { ok: false, message: 'must be a decimal number such as "99.00"' };
      const amount = new Big(text);
      if (amount.lt(0)) return { ok: false, message: 'must be 0 or more' };
      const scaled = amount.times(10 ** cur.exponent);
      if (!scaled.eq(scaled.round(0, Big.roundDown))) {
        return {
          ok: false,
          message:
            cur.exponent === 0
              ? `must be a whole number in ${cur.code}`
              : `must have at most ${cur.exponent} decimal places in ${cur.code}`,
        };
      }
      const minor = BigInt(scaled.toFixed(0));
      return minor > MAX_MINOR_UNITS
        ? { ok: false, message: `must be at most ${formatMinor(MAX_MINOR_UNITS, cur)} ${cur.code}` }
        : { ok: true, minor };
    };
    const digits = (minLength: number, maxLength: number) =>
      fc.string({ unit: fc.constantFrom(...'0123456789'), minLength, maxLength });
    const decimal = fc
      .tuple(fc.constantFrom('', '-'), digits(1, 20), fc.option(digits(1, 8)))
      .map(([sign, whole, fraction]) => `${sign}${whole}${fraction === null ? '' : `.${fraction}`}`);
    const odd = fc.constantFrom(
      '',
      '.5',
      '5.',
      '1e5',
      '+1',
      ' 1',
      '1.5.0',
      '0x10',
      '١٢',
      '9'.repeat(65),
      `1.${'0'.repeat(62)}`,
    );
    const number = fc.oneof(
      fc.double(),
      fc.integer(),
      fc.nat(10_000_000).map((cents) => cents / 100),
      fc.nat(10_000_000).map((mills) => mills / 1000),
    );
    fc.assert(
      fc.property(fc.oneof(decimal, odd, number), fc.constantFrom(USD, JPY, KWD, IDR), (value, cur) => {
        expect(parseAmount(value, cur)).toEqual(reference(value, cur));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('formatMinor', () => {
  it.each([
    [5n, USD, '0.05'],
    [0n, USD, '0.00'],
    [99n, USD, '0.99'],
    [100n, USD, '1.00'],
    [22700n, USD, '227.00'],
    [0n, JPY, '0'],
    [5n, JPY, '5'],
    [1500n, JPY, '1500'],
    [5n, KWD, '0.005'],
    [1005n, KWD, '1.005'],
    [1500050n, IDR, '15000.50'],
    [999_999_999_999_999n, USD, '9999999999999.99'],
    [999_999_999_999_999n, JPY, '999999999999999'],
    [-5n, USD, '-0.05'],
    [-1234n, USD, '-12.34'],
  ] as const)('formats %s minor units of %o as %s', (minor, cur, text) => {
    expect(formatMinor(minor, cur)).toBe(text);
  });

  it.each([
    ['0.01', USD],
    ['123456.78', USD],
    ['42', JPY],
    ['0.001', KWD],
  ] as const)('round-trips %s through parseAmount', (text, cur) => {
    const parsed = parseAmount(text, cur);
    if (!parsed.ok) throw new Error(`expected ${text} to parse, got ${parsed.message}`);
    expect(formatMinor(parsed.minor, cur)).toBe(text);
  });
});

describe('formatStoredAmount', () => {
  it.each([
    ['227.000', 'USD', '227.00'],
    ['227', 'USD', '227.00'],
    ['227.5', 'USD', '227.50'],
    ['0', 'USD', '0.00'],
    ['1500.00', 'JPY', '1500'],
    ['1500', 'JPY', '1500'],
    ['1.005', 'KWD', '1.005'],
    ['1.0050', 'kwd', '1.005'],
    ['99.00', 'XYZ', '99.00'],
  ])('%s in %s is %s', (value, code, expected) => {
    expect(formatStoredAmount(value, code)).toBe(expected);
  });

  it('gives what Big rounds to, for stored text and for text PostgreSQL never writes', () => {
    const digits = (minLength: number, maxLength: number) =>
      fc.string({ unit: fc.constantFrom(...'0123456789'), minLength, maxLength });
    // Whole parts of up to 15 digits without leading zeros, 0–6 decimals, often ending in zeros.
    const whole = fc.oneof(
      fc.constant('0'),
      fc.tuple(fc.constantFrom(...'123456789'), digits(0, 14)).map((p) => p.join('')),
    );
    const fraction = fc.oneof(
      digits(0, 6),
      fc.tuple(digits(0, 2), fc.nat(4)).map(([head, zeros]) => head + '0'.repeat(zeros)),
    );
    const stored = fc.tuple(whole, fc.option(fraction)).map(([w, f]) => (f === null ? w : `${w}.${f}`));
    const odd = fc.constantFrom('-1.50', '007.5', '1e5', '0.0', '-0', '.5');
    fc.assert(
      fc.property(fc.oneof(stored, odd), fc.constantFrom('USD', 'JPY', 'KWD', 'IDR'), (value, code) => {
        expect(formatStoredAmount(value, code)).toBe(new Big(value).toFixed(currency(code).exponent));
      }),
      { numRuns: 5000, seed: 42 },
    );
  });
});

// A survivor of mutation testing (`npm run mutation`): nothing asked for the reason in lower case.
describe('refusedCurrencyMessage', () => {
  it.each(['USN', 'usn', 'Ang'])('says why %s is refused, in any case', (code) => {
    expect(refusedCurrencyMessage(code)).toMatch(/^(USN is a funds code|ANG, the Netherlands Antillean guilder)/);
  });

  it.each(['USD', 'XCG', 'ZZZ'])('has nothing to say about %s', (code) => {
    expect(refusedCurrencyMessage(code)).toBeUndefined();
  });
});
