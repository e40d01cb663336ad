/**
 * A Timestamp node's text in the reader's locale and time zone, through Intl alone: the formats
 * t, T, d, D, f, F and R of `<t:seconds:format>` (short and long time, short and long date,
 * date with time, weekday with date and time, relative to now).
 */

export interface TimeOptions {
  /** BCP 47 locale(s); undefined means the visitor's own (the browser's). */
  readonly locale?: string | readonly string[] | undefined;
  /** IANA time zone; undefined means the visitor's own. */
  readonly timeZone?: string | undefined;
  /** Now, in milliseconds since the epoch: what "R" counts from. */
  readonly now?: (() => number) | undefined;
}

const STYLES: Readonly<Record<string, Intl.DateTimeFormatOptions>> = {
  t: { timeStyle: "short" },
  T: { timeStyle: "medium" },
  d: { dateStyle: "short" },
  D: { dateStyle: "long" },
  f: { dateStyle: "long", timeStyle: "short" },
  F: { dateStyle: "full", timeStyle: "short" },
};

const UNITS: readonly [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

function locales(options: TimeOptions): string[] | undefined {
  const { locale } = options;
  return locale === undefined ? undefined : typeof locale === "string" ? [locale] : [...locale];
}

/** The moment a Timestamp node names, or undefined when its seconds are not a finite number. */
export function instant(seconds: string): Date | undefined {
  const value = Number(seconds);
  if (seconds.trim() === "" || !Number.isFinite(value)) return undefined;
  const date = new Date(value * 1000);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** "in 3 days", "5 minutes ago": the largest unit that fits. */
function relative(date: Date, options: TimeOptions): string {
  const seconds = (date.getTime() - (options.now ?? Date.now)()) / 1000;
  const format = new Intl.RelativeTimeFormat(locales(options), { numeric: "auto" });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") {
      return format.format(Math.round(seconds / size), unit);
    }
  }
  return format.format(0, "second");
}

/** The text to show for `date` in `format` (an unknown format reads as "f"). */
export function formatTimestamp(date: Date, format: string, options: TimeOptions = {}): string {
  if (format === "R") return relative(date, options);
  const style = STYLES[format] ?? STYLES["f"];
  return new Intl.DateTimeFormat(locales(options), { ...style, timeZone: options.timeZone }).format(
    date,
  );
}

/** The full date and time, for the element's title. */
export function fullTimestamp(date: Date, options: TimeOptions = {}): string {
  return formatTimestamp(date, "F", options);
}
