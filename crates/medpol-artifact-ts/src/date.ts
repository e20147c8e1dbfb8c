// Calendar dates of the proleptic Gregorian calendar, kept as day numbers (days since
// 1970-01-01), so that comparing dates and counting the days between them is integer
// arithmetic.

export interface CivilDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

function monthDays(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (month === 2) return leap ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Reads `YYYY-MM-DD` exactly (four digits, two, two); `null` when not on the calendar. */
export function parseDate(text: string): CivilDate | null {
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(text)) return null;
  const year = Number(text.slice(0, 4));
  const month = Number(text.slice(5, 7));
  const day = Number(text.slice(8, 10));
  if (month < 1 || month > 12 || day === 0 || day > monthDays(year, month)) return null;
  return { year, month, day };
}

function divEuclid(a: number, b: number): number {
  return Math.floor(a / b);
}

/** The day number: days since 1970-01-01 (H. Hinnant's civil-days algorithm). */
export function dayNumber(date: CivilDate): number {
  const m = date.month;
  const y = date.year - (m <= 2 ? 1 : 0);
  const era = divEuclid(y, 400);
  const yoe = y - era * 400;
  const doy = Math.trunc((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + date.day - 1;
  const doe = yoe * 365 + Math.trunc(yoe / 4) - Math.trunc(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The date of a day number; `null` outside the years 0 to 9999. */
export function fromDays(days: number): CivilDate | null {
  const z = days + 719468;
  const era = divEuclid(z, 146097);
  const doe = z - era * 146097;
  const yoe = Math.trunc((doe - Math.trunc(doe / 1460) + Math.trunc(doe / 36524) - Math.trunc(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.trunc(yoe / 4) - Math.trunc(yoe / 100));
  const mp = Math.trunc((5 * doy + 2) / 153);
  const day = doy - Math.trunc((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 0 || year > 9999) return null;
  return { year, month, day };
}

function before(a: CivilDate, b: CivilDate): boolean {
  return a.year !== b.year ? a.year < b.year : a.month !== b.month ? a.month < b.month : a.day < b.day;
}

/**
 * The calendar months completed from `from` to `later`, as an age is counted: a month is
 * completed on the same day of the month, or on the month's last day when it has no such day.
 * Negative when `later` is earlier.
 */
export function monthsUntil(from: CivilDate, later: CivilDate): number {
  if (before(later, from)) return -monthsUntil(later, from);
  const months = (later.year - from.year) * 12 + later.month - from.month;
  const reached = later.day >= from.day || later.day === monthDays(later.year, later.month);
  return reached ? months : months - 1;
}

/**
 * The first day of a window of `amount` days (or calendar months) ending on day `end`: a
 * month back from the 31st lands on the last day of a shorter month. `null` outside the years
 * a date is written in.
 */
export function windowStart(end: number, amount: number, months: boolean): number | null {
  const date = fromDays(end);
  if (date === null) return null;
  if (!months) {
    const start = fromDays(end - amount);
    return start === null ? null : end - amount;
  }
  const index = date.year * 12 + date.month - 1 - amount;
  if (index < 0) return null;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  if (fromDays(dayNumber({ year, month, day: 1 }) + 31) === null) return null;
  return dayNumber({ year, month, day: Math.min(date.day, monthDays(year, month)) });
}
