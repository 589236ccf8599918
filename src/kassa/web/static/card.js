// Card entry for the sandbox processor: formatting as the customer types, and the checks a
// processor's card form makes before tokenizing.

const digitsOf = (value) => String(value).replace(/\D/g, "");

export function formatCardNumber(value) {
  return digitsOf(value).slice(0, 19).replace(/(\d{4})(?=\d)/g, "$1 ");
}

export function formatExpiry(value, deleting) {
  let digits = digitsOf(value).slice(0, 4);
  if (digits.length === 1 && digits > "1") digits = `0${digits}`;
  if (digits.length < 2) return digits;
  if (digits.length === 2 && deleting) return digits;
  return `${digits.slice(0, 2)} / ${digits.slice(2)}`;
}

export function formatCvc(value) {
  return digitsOf(value).slice(0, 4);
}

function luhnValid(digits) {
  let total = 0;
  for (let i = 0; i < digits.length; i += 1) {
    let digit = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    total += digit;
  }
  return total % 10 === 0;
}

// Returns {card} ready for tokenization, or {errors: {field: message}}.
export function readCard({ number, expiry, cvc }, now = new Date()) {
  const errors = {};
  const digits = digitsOf(number);
  if (!digits) errors["card-number"] = "Enter your card number.";
  else if (digits.length < 12 || !luhnValid(digits)) errors["card-number"] = "Your card number is invalid.";

  const expiryDigits = digitsOf(expiry);
  const month = Number(expiryDigits.slice(0, 2));
  const year = 2000 + Number(expiryDigits.slice(2, 4));
  if (!expiryDigits) errors["card-expiry"] = "Enter the expiration date.";
  else if (expiryDigits.length !== 4 || month < 1 || month > 12) {
    errors["card-expiry"] = "Your card's expiration date is incomplete.";
  } else if (year < now.getFullYear() || (year === now.getFullYear() && month < now.getMonth() + 1)) {
    errors["card-expiry"] = "Your card's expiration date is in the past.";
  }

  const cvcDigits = digitsOf(cvc);
  if (!cvcDigits) errors["card-cvc"] = "Enter the security code.";
  else if (cvcDigits.length < 3) errors["card-cvc"] = "Your card's security code is incomplete.";

  if (Object.keys(errors).length) return { errors };
  return { card: { number: digits, exp_month: month, exp_year: year, cvc: cvcDigits } };
}

export function bindCardInputs(numberInput, expiryInput, cvcInput) {
  numberInput.addEventListener("input", () => {
    numberInput.value = formatCardNumber(numberInput.value);
  });
  expiryInput.addEventListener("input", (event) => {
    const deleting = event.inputType && event.inputType.startsWith("delete");
    expiryInput.value = formatExpiry(expiryInput.value, deleting);
  });
  cvcInput.addEventListener("input", () => {
    cvcInput.value = formatCvc(cvcInput.value);
  });
}
