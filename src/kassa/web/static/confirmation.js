// The confirmation page: while the payment is processing, wait for it and show the outcome.

import { ApiError, clientApi, waitForSettlement } from "./api.js";

const data = JSON.parse(document.getElementById("checkout-data").textContent);
const checkout = data.checkout;

async function start() {
  if (checkout.status !== "confirmed") return;
  try {
    await waitForSettlement(clientApi(checkout.client_secret));
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
  }
  window.location.reload();
}

start();
