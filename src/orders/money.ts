/**
 * Exact money. Amounts are parsed into integer minor units (bigint) using the
 * currency's ISO 4217 exponent, and all arithmetic happens on those integers.
 * Binary floats are never added or multiplied.
 */
import Big from 'big.js';
import currencyCodes from 'currency-codes';

export interface Currency {
  code: string;
  /** ISO 4217 minor unit digits: USD 2, JPY 0, KWD 3. */
  exponent: number;
}

/**
 * Amounts are capped at 15 significant digits. Every such decimal survives a
 * round trip through an IEEE-754 double unchanged, so REST can return amounts
 * as JSON numbers whose value is exact (the contract asks for numbers there).
 */
const MAX_SIGNIFICANT_DIGITS = 15;
export const MAX_MINOR_UNITS = 10n ** BigInt(MAX_SIGNIFICANT_DIGITS) - 1n;

// ISO 4217 also lists units whose minor unit is "N.A.": precious metals, bond
// market units, SDRs, the test code and "no currency". None is money an order
// can be paid in. (The table gives them 0 digits, so they must be named here.)
const NOT_TENDER = new Set([
  'XAG',
  'XAU',
  'XBA',
  'XBB',
  'XBC',
  'XBD',
  'XDR',
  'XPD',
  'XPT',
  'XSU',
  'XTS',
  'XUA',
  'XXX',
]);

// Tenders ISO 4217 added after the `currency-codes` table was published (its last release is of
// June 2024): the Caribbean guilder of Curaçao and Sint Maarten, in use since 31 March 2025, which
// replaced the Netherlands Antillean guilder (ANG: see REFUSED_FOR_NEW_ORDERS).
const ADDED_SINCE_THE_TABLE: readonly Currency[] = [{ code: 'XCG', exponent: 2 }];

// Codes a create refuses although orders stored in them still read with their digits, each with
// the reason the caller is told:
// - USN, ISO 4217's funds code for the US dollar settled next day: the very money of USD, so an
//   order in USN would be a USD order carried in a ledger of its own. The other funds codes (CLF,
//   UYI, UYW, MXV, COU, BOV, CHE, CHW) are units of their own value, used to price contracts, and
//   stay accepted.
// - ANG, the Netherlands Antillean guilder, replaced by XCG in 2025 and no longer paid in; the
//   `currency-codes` table predates its withdrawal.
const REFUSED_FOR_NEW_ORDERS: ReadonlyMap<string, string> = new Map([
  ['USN', 'USN is a funds code (US dollar, next-day settlement): use USD'],
  ['ANG', 'ANG, the Netherlands Antillean guilder, was replaced by XCG in 2025: use XCG'],
]);

/** Every code whose amounts the gateway can read, including those a create refuses. */
const currencies = new Map<string, Currency>([
  ...currencyCodes.data
    .filter((c) => !NOT_TENDER.has(c.code))
    .map((c): [string, Currency] => [c.code, { code: c.code, exponent: c.digits }]),
  ...ADDED_SINCE_THE_TABLE.map((c): [string, Currency] => [c.code, c]),
]);

/** Looks a currency up case-insensitively; `undefined` when ISO 4217 has no such tender. */
export function findCurrency(code: string): Currency | undefined {
  const upper = code.toUpperCase();
  return REFUSED_FOR_NEW_ORDERS.has(upper) ? undefined : currencies.get(upper);
}

/**
 * Why a code that ISO 4217 has (or had) but `findCurrency` refuses is refused
 * (`USN is a funds code (US dollar, next-day settlement): use USD`); `undefined` otherwise.
 */
export function refusedCurrencyMessage(code: string): string | undefined {
  return REFUSED_FOR_NEW_ORDERS.get(code.toUpperCase());
}

export type ParsedAmount = { ok: true; minor: bigint } | { ok: false; message: string };

// eslint-disable-next-line security/detect-unsafe-regex -- linear: anchored, and each optional group starts with a character the part before it cannot match
const DECIMAL_STRING = /^-?\d+(\.\d+)?$/;

/**
 * The longest decimal string read as an amount. A valid amount has at most
 * 15 significant digits; this leaves room for zeros around them, and is
 * checked before the text is parsed (a million digits cost real CPU time).
 */
export const MAX_AMOUNT_LENGTH = 64;

/**
 * Parses a non-negative amount given as a JSON number or a decimal string.
 * `1.5` in JPY or `9.999` in USD is rejected rather than rounded.
 */
export function parseAmount(value: number | string, currency: Currency): ParsedAmount {
  // String() gives the shortest decimal that reads back as this double, which
  // is the literal the caller wrote for every amount within the 15-digit cap.
  const text = typeof value === 'number' ? String(value) : value;
  // Nearly every amount is plain decimal text: read it as text, digit by digit.
  // Signs, exponents and anything unusual take the general path through Big.
  const plain = text.length <= MAX_AMOUNT_LENGTH ? PLAIN_DECIMAL.exec(text) : null;
  if (plain) return parsePlainDecimal(plain[1] ?? '0', plain[2] ?? '', currency);
  return parseGeneralAmount(value, currency);
}

/** Unsigned decimal text with no exponent: whole digits, then optional fraction digits. */
// eslint-disable-next-line security/detect-unsafe-regex -- linear: anchored, and each optional group starts with a character the part before it cannot match
const PLAIN_DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/** `whole.fraction` (digits only) in minor units, with the same answers as the general path. */
function parsePlainDecimal(whole: string, fraction: string, currency: Currency): ParsedAmount {
  const kept = fraction.slice(0, currency.exponent);
  // Digits past the currency's exponent are allowed only as zeros: the value is still exact.
  for (let i = kept.length; i < fraction.length; i++) {
    if (fraction.charCodeAt(i) !== 48) return tooManyDecimals(currency);
  }
  const minor = BigInt(whole + kept.padEnd(currency.exponent, '0'));
  if (minor > MAX_MINOR_UNITS) return tooLarge(currency);
  return { ok: true, minor };
}

function tooManyDecimals(currency: Currency): ParsedAmount {
  return {
    ok: false,
    message:
      currency.exponent === 0
        ? `must be a whole number in ${currency.code}`
        : `must have at most ${currency.exponent} decimal places in ${currency.code}`,
  };
}

function tooLarge(currency: Currency): ParsedAmount {
  return { ok: false, message: `must be at most ${formatMinor(MAX_MINOR_UNITS, currency)} ${currency.code}` };
}

/** Any amount `parseAmount` accepts, read through Big (exponents, signs, non-finite numbers). */
function parseGeneralAmount(value: number | string, currency: Currency): ParsedAmount {
  let amount: Big;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { ok: false, message: 'must be a finite number' };
    amount = new Big(String(value));
  } else {
    if (value.length > MAX_AMOUNT_LENGTH)
      return { ok: false, message: `must be a decimal number of at most ${MAX_AMOUNT_LENGTH} characters` };
    if (!DECIMAL_STRING.test(value))
      return { ok: false, message: 'must be a decimal number such as "99.00"' };
    amount = new Big(value);
  }
  if (amount.lt(0)) return { ok: false, message: 'must be 0 or more' };
  const scaled = amount.times(new Big(10).pow(currency.exponent));
  if (!scaled.eq(scaled.round(0, Big.roundDown))) return tooManyDecimals(currency);
  const minor = BigInt(scaled.toFixed(0));
  if (minor > MAX_MINOR_UNITS) return tooLarge(currency);
  return { ok: true, minor };
}

/** Minor units → decimal string with exactly the currency's digits: 22700n USD → "227.00". */
export function formatMinor(minor: bigint, currency: Currency): string {
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(currency.exponent + 1, '0');
  const whole = digits.slice(0, digits.length - currency.exponent);
  const fraction = digits.slice(digits.length - currency.exponent);
  return `${negative ? '-' : ''}${whole}${currency.exponent > 0 ? `.${fraction}` : ''}`;
}

/** Decimal text as PostgreSQL writes a non-negative `numeric`: no sign, no leading zeros, no exponent. */
// eslint-disable-next-line security/detect-unsafe-regex -- linear: anchored, and each optional group starts with a character the part before it cannot match
const STORED_DECIMAL = /^(0|[1-9]\d*)(\.\d+)?$/;

/**
 * A stored `numeric` amount (`"227.000"`) with exactly the currency's digits
 * (`"227.00"`). Every order read maps several of these, so the decimal text
 * PostgreSQL writes is cut or padded as text when that is exact (the digits
 * cut off are zeros, as they are for every amount the service stored); only
 * anything else is rounded through `Big`.
 */
export function formatStoredAmount(value: string, currencyCode: string): string {
  const exponent =
    (currencies.get(currencyCode) ?? currencies.get(currencyCode.toUpperCase()))?.exponent ?? 2;
  if (STORED_DECIMAL.test(value)) {
    const point = value.indexOf('.');
    const whole = point < 0 ? value : value.slice(0, point);
    const fraction = point < 0 ? '' : value.slice(point + 1);
    if (fraction.length <= exponent)
      return exponent === 0 ? whole : `${whole}.${fraction.padEnd(exponent, '0')}`;
    if (/^0+$/.test(fraction.slice(exponent)))
      return exponent === 0 ? whole : `${whole}.${fraction.slice(0, exponent)}`;
  }
  return new Big(value).toFixed(exponent);
}
