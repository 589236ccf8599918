// The hosted checkout page. The server renders it complete; this script keeps the amounts in
// step with the customer's changes (discount code, pay-what-you-want amount, country), takes
// the card through the sandbox's tokenization, confirms, and follows the payment to its end.

import { ApiError, NetworkError, clientApi, tokenizeSandboxCard, waitForSettlement } from "./api.js";
import { bindCardInputs, readCard } from "./card.js";
import { formatMoney, parseMajor, toMajor } from "./money.js";

const data = JSON.parse(document.getElementById("checkout-data").textContent);
const exponents = data.exponents;
let checkout = data.checkout;
const api = clientApi(checkout.client_secret);

const $ = (selector, scope = document) => scope.querySelector(selector);
const $$ = (selector, scope = document) => Array.from(scope.querySelectorAll(selector));

const root = $("[data-testid=checkout]");
const form = $("#checkout-form");
const fieldset = $("[data-form-fields]", form);
const payButton = $("[data-testid=pay-button]", form);
const payLabel = $(".pay-label", payButton);
const formError = $("[data-form-error]", form);
const discountForm = $("#discount-form");
const discountInput = $("#discount-code");
const amountInput = $("#amount");
const cardInputs = {
  number: $("#card-number"),
  expiry: $("#card-expiry"),
  cvc: $("#card-cvc"),
};
const sandbox = checkout.payment_processor_metadata.processor === "sandbox";

let busy = false;

// ---- amounts -------------------------------------------------------------------------------

function exponentOf(currency) {
  return exponents[currency] ?? 2;
}

function money(amount, currency = checkout.currency) {
  return formatMoney(amount, currency, exponentOf(currency));
}

function discountLabel() {
  const discount = checkout.discount;
  return discount ? discount.code || discount.name || "" : "";
}

function payText() {
  return checkout.is_payment_required ? `Pay ${money(checkout.total_amount)}` : "Get it free";
}

function render() {
  for (const element of $$("[data-amount]")) {
    const amount = checkout[element.dataset.amount] ?? 0;
    element.textContent = money("negative" in element.dataset ? -amount : amount);
  }
  const discountLine = $("[data-testid=discount-line]");
  discountLine.hidden = !checkout.discount_amount;
  for (const element of $$("[data-field=discount-name], [data-field=discount-code]")) {
    element.textContent = discountLabel();
  }
  if (discountForm) {
    discountForm.hidden = !checkout.is_discount_applicable && !checkout.discount;
    $(".discount-entry", discountForm).hidden = Boolean(checkout.discount);
    $(".discount-applied", discountForm).hidden = !checkout.discount;
  }
  const price = checkout.product_price;
  const priceLabel = $("[data-field=product-price]");
  if (priceLabel && price && price.amount_type === "fixed") {
    priceLabel.textContent = price.price_amount ? money(price.price_amount, price.price_currency) : "Free";
  }
  if (checkout.product) {
    $("[data-testid=product-name]").textContent = checkout.product.name;
    const description = $("[data-testid=product-description]");
    if (description) {
      description.textContent = checkout.product.description || "";
      description.hidden = !checkout.product.description;
    }
  }
  for (const radio of $$("[data-testid=product-choice]")) {
    radio.checked = radio.value === checkout.product_id;
  }
  if (amountInput && document.activeElement !== amountInput) {
    amountInput.value = toMajor(checkout.amount, exponentOf(checkout.currency));
  }
  $("#billing-section").hidden = !(checkout.is_payment_required || checkout.require_billing_address);
  $("#payment-section").hidden = !checkout.is_payment_required;
  payLabel.textContent = payText();
  payButton.disabled = busy || !canPay();
  $("[data-field=fine-print]", form).textContent = checkout.is_payment_required
    ? "Your payment is processed securely. Card details are sent only to the payment processor."
    : "No payment needed. We only need your email to deliver your order.";
}

function canPay() {
  return !checkout.is_payment_required || sandbox;
}

// ---- errors --------------------------------------------------------------------------------

function fieldInput(name) {
  return $(`[data-field="${name}"]`);
}

function errorElement(name) {
  return $(`[data-error-for="${name}"]`);
}

function isShown(element) {
  return element && element.offsetParent !== null;
}

function showFieldError(name, message) {
  const element = errorElement(name);
  const input = fieldInput(name);
  if (!element || !isShown(element.parentElement)) {
    showFormError(message);
    return null;
  }
  element.textContent = message;
  element.hidden = false;
  if (input) input.setAttribute("aria-invalid", "true");
  return input;
}

function clearFieldError(name) {
  const element = errorElement(name);
  if (element) {
    element.hidden = true;
    element.textContent = "";
  }
  const input = fieldInput(name);
  if (input) input.removeAttribute("aria-invalid");
}

function showFormError(message) {
  formError.textContent = message;
  formError.hidden = false;
}

function clearErrors() {
  for (const element of $$("[data-error-for]")) clearFieldError(element.dataset.errorFor);
  formError.hidden = true;
  formError.textContent = "";
}

const ADDRESS_FIELDS = ["line1", "line2", "postal_code", "city", "state"];

function fieldForPath([first, second]) {
  switch (first) {
    case "customer_email":
      return "email";
    case "customer_name":
      return "name";
    case "customer_billing_address":
      return ADDRESS_FIELDS.includes(second) ? second : "country";
    case "amount":
      return "amount";
    case "discount_code":
    case "discount_id":
      return "discount";
    case "number":
    case "confirmation_token_id":
      return "card-number";
    case "exp_month":
    case "exp_year":
      return "card-expiry";
    case "cvc":
      return "card-cvc";
    default:
      return null;
  }
}

// Show an API error where it belongs; returns the first input to focus, if any.
function showApiError(error) {
  if (error instanceof ApiError && error.status === 422) {
    let first = null;
    for (const { path, message } of error.fieldErrors) {
      const name = fieldForPath(path);
      const input = name ? showFieldError(name, message) : (showFormError(message), null);
      first = first || input;
    }
    return first;
  }
  if (error instanceof ApiError && error.status === 410) {
    showPanel("expired");
    return null;
  }
  if (error instanceof ApiError && error.status === 404) {
    showFormError("This checkout no longer exists.");
    return null;
  }
  if (error instanceof NetworkError || (error instanceof ApiError && error.status < 500)) {
    showFormError(error.message);
    return null;
  }
  showFormError("Something went wrong on our side. Nothing was charged; please try again.");
  return null;
}

// ---- updates (serialized, so a confirm never overtakes a pending change) -------------------

let queue = Promise.resolve();

function serial(task) {
  const run = queue.then(task, task);
  queue = run.catch(() => undefined);
  return run;
}

async function update(body, field) {
  try {
    checkout = await serial(() => api.update(body));
    if (field) clearFieldError(field);
    render();
    return true;
  } catch (error) {
    const input = showApiError(error);
    if (input && field) input.focus();
    return false;
  }
}

async function applyDiscount(code) {
  clearFieldError("discount");
  if (!code) {
    showFieldError("discount", "Enter a discount code.");
    return false;
  }
  const applied = await update({ discount_code: code }, "discount");
  if (applied) discountInput.value = "";
  return applied;
}

function bindDiscount() {
  if (!discountForm) return;
  discountForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    const button = $("[data-testid=discount-apply]", discountForm);
    button.disabled = true;
    try {
      await applyDiscount(discountInput.value.trim());
    } finally {
      button.disabled = false;
    }
  });
  $("[data-action=remove-discount]", discountForm).addEventListener("click", async () => {
    if (busy) return;
    await update({ discount_code: null }, "discount");
  });
}

function amountProblem(amount) {
  const price = checkout.product_price;
  if (amount === null) return "Enter an amount, for example 10.00.";
  if (price && amount < (price.minimum_amount || 0)) return `The minimum is ${money(price.minimum_amount)}.`;
  if (price && price.maximum_amount != null && amount > price.maximum_amount) {
    return `The maximum is ${money(price.maximum_amount)}.`;
  }
  return null;
}

function pendingAmount() {
  if (!amountInput) return { amount: undefined };
  const amount = parseMajor(amountInput.value, exponentOf(checkout.currency));
  const problem = amountProblem(amount);
  return problem ? { problem } : { amount };
}

function bindAmount() {
  if (!amountInput) return;
  amountInput.addEventListener("change", async () => {
    const { amount, problem } = pendingAmount();
    if (problem) {
      showFieldError("amount", problem);
      return;
    }
    clearFieldError("amount");
    if (amount !== checkout.amount) await update({ amount }, "amount");
    else render();
  });
}

function bindCountry() {
  const select = fieldInput("country");
  select.addEventListener("change", () => {
    if (!select.value) return;
    clearFieldError("country");
    update({ customer_billing_address: { country: select.value } }, "country");
  });
}

function bindProducts() {
  for (const radio of $$("[data-testid=product-choice]")) {
    radio.addEventListener("change", async () => {
      if (!radio.checked) return;
      const wasCustom = Boolean(amountInput);
      const changed = await update({ product_id: radio.value }, null);
      if (changed && (checkout.product_price?.amount_type === "custom") !== wasCustom) {
        window.location.reload();
      }
    });
  }
}

// ---- confirm -------------------------------------------------------------------------------

function value(name) {
  const input = fieldInput(name);
  return input ? input.value.trim() : "";
}

function needsAddress() {
  return checkout.is_payment_required || checkout.require_billing_address;
}

function validate() {
  const errors = {};
  const email = value("email");
  if (!email) errors.email = "Enter your email address.";
  else if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) errors.email = "Enter a valid email address.";
  if (needsAddress()) {
    if (!value("country")) errors.country = "Select your country.";
    for (const input of $$("[data-address-field]")) {
      if (input.required && !input.value.trim()) errors[input.dataset.addressField] = "This field is required.";
    }
  }
  const { problem } = pendingAmount();
  if (problem) errors.amount = problem;
  let card = null;
  if (checkout.is_payment_required && sandbox) {
    const read = readCard({
      number: cardInputs.number.value,
      expiry: cardInputs.expiry.value,
      cvc: cardInputs.cvc.value,
    });
    if (read.errors) Object.assign(errors, read.errors);
    card = read.card || null;
  }
  return { errors, card };
}

function confirmBody(token) {
  const body = { customer_email: value("email") };
  const name = value("name");
  if (name) body.customer_name = name;
  if (needsAddress()) {
    const address = { country: value("country") };
    for (const input of $$("[data-address-field]")) {
      if (input.value.trim()) address[input.dataset.addressField] = input.value.trim();
    }
    body.customer_billing_address = address;
  }
  const { amount } = pendingAmount();
  if (amount !== undefined) body.amount = amount;
  if (token) body.confirmation_token_id = token;
  return body;
}

function setBusy(working) {
  busy = working;
  fieldset.disabled = working;
  if (discountForm) $$("input, button", discountForm).forEach((el) => (el.disabled = working));
  payButton.classList.toggle("is-busy", working);
  payButton.setAttribute("aria-busy", String(working));
  payLabel.textContent = working ? "Processing…" : payText();
  payButton.disabled = working || !canPay();
}

function showPanel(name) {
  form.hidden = true;
  for (const panel of $$("[data-panel]")) panel.hidden = panel.dataset.panel !== name;
  root.dataset.state = name;
  if (discountForm) discountForm.hidden = true;
}

function goTo(url) {
  window.location.assign(url);
}

async function follow() {
  showPanel("processing");
  const slowNote = $("[data-slow-note]");
  try {
    checkout = await waitForSettlement(api, { onSlow: () => (slowNote.hidden = false) });
  } catch (error) {
    if (error instanceof ApiError && error.status === 410) showPanel("expired");
    else window.location.reload();
    return;
  }
  settled();
}

function settled() {
  if (checkout.status === "succeeded") {
    goTo(checkout.success_url);
  } else if (checkout.status === "failed") {
    $("[data-field=failure-message]").textContent =
      checkout.payment_processor_metadata.payment_error || "Your payment could not be completed.";
    showPanel("failed");
  } else if (checkout.status === "confirmed") {
    follow();
  } else {
    window.location.reload();
  }
}

async function pay() {
  clearErrors();
  const { errors, card } = validate();
  const names = Object.keys(errors);
  if (names.length) {
    let first = null;
    for (const name of names) {
      const input = showFieldError(name, errors[name]);
      first = first || input;
    }
    if (first) first.focus();
    return;
  }
  setBusy(true);
  try {
    await queue;
    const code = discountInput && !discountForm.hidden && !checkout.discount ? discountInput.value.trim() : "";
    if (code && !(await applyDiscount(code))) {
      setBusy(false);
      discountInput.focus();
      return;
    }
    let token = null;
    if (checkout.is_payment_required) {
      token = (await tokenizeSandboxCard(card)).id;
    }
    checkout = await serial(() => api.confirm(confirmBody(token)));
  } catch (error) {
    if (error instanceof ApiError && (error.status === 403 || error.status === 409)) {
      // Already confirmed (another tab, a retried request): follow it.
      follow();
      return;
    }
    setBusy(false);
    const input = showApiError(error);
    if (input) input.focus();
    else if (!formError.hidden) formError.scrollIntoView({ block: "nearest", behavior: "smooth" });
    return;
  }
  const nextAction = checkout.payment_processor_metadata.next_action_url;
  if (checkout.status === "confirmed" && nextAction) {
    goTo(nextAction);
    return;
  }
  settled();
}

// ---- start ---------------------------------------------------------------------------------

function watchExpiry() {
  const remaining = new Date(checkout.expires_at).getTime() - Date.now();
  if (remaining <= 0 || remaining > 24 * 3600 * 1000) return;
  setTimeout(async () => {
    if (busy || root.dataset.state !== "open") return;
    try {
      checkout = await api.get();
    } catch (error) {
      if (error instanceof ApiError && error.status === 410) showPanel("expired");
    }
  }, remaining + 1000);
}

function start() {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!busy) pay();
  });
  for (const input of $$("input, select", form)) {
    input.addEventListener("input", () => {
      if (input.dataset.field) clearFieldError(input.dataset.field);
    });
  }
  if (cardInputs.number) bindCardInputs(cardInputs.number, cardInputs.expiry, cardInputs.cvc);
  bindDiscount();
  bindAmount();
  bindCountry();
  bindProducts();
  render();
  watchExpiry();
  root.dataset.ready = "true";
  if (checkout.status === "confirmed") follow();
}

start();
