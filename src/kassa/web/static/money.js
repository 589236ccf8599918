// Money on the checkout pages: integer minor units and an ISO 4217 currency, never floats.
// Display matches the server's `money` filter: Intl.NumberFormat("en-US") with Kassa's
// minor-unit exponent for the currency (JPY and KRW have none).

const MINUS = "\u2212";

function decimalString(amount, exponent) {
  const scale = 10 ** exponent;
  const whole = Math.floor(amount / scale);
  const fraction = amount % scale;
  return exponent ? `${whole}.${String(fraction).padStart(exponent, "0")}` : `${whole}`;
}

export function formatMoney(amount, currency, exponent) {
  const digits = exponent ?? 2;
  const text = new Intl.NumberFormat("en-US", {
    style: "currency",
    currency: currency.toUpperCase(),
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(decimalString(Math.abs(amount), digits));
  return amount < 0 ? MINUS + text : text;
}

export function toMajor(amount, exponent) {
  return decimalString(amount, exponent);
}

// "12", "12.5", "12.50", "1,200" → minor units; null when it is not an amount.
export function parseMajor(text, exponent) {
  const cleaned = String(text).trim().replace(/[\s,]/g, "");
  const pattern = exponent ? new RegExp(`^(\\d{1,12})(?:\\.(\\d{0,${exponent}}))?$`) : /^(\d{1,12})$/;
  const match = cleaned.match(pattern);
  if (!match) return null;
  const fraction = (match[2] || "").padEnd(exponent, "0");
  return Number(match[1]) * 10 ** exponent + (exponent ? Number(fraction) : 0);
}
