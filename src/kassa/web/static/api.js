// The checkout client API (by client secret) and the sandbox's card tokenization.

export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.describe(body) || `Request failed (${status}).`);
    this.status = status;
    this.body = body;
  }

  static describe(body) {
    if (!body) return "";
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) return body.detail.map((e) => e.msg).join(" ");
    return "";
  }

  // 422 errors as [{path: ["customer_billing_address", "country"], message}].
  get fieldErrors() {
    if (this.status !== 422 || !this.body || !Array.isArray(this.body.detail)) return [];
    return this.body.detail.map((error) => ({
      path: (error.loc || []).filter((part) => part !== "body").map(String),
      message: humanize(String(error.msg || "This value is invalid.")),
    }));
  }
}

export class NetworkError extends Error {
  constructor() {
    super("We could not reach the server. Check your connection and try again.");
  }
}

function humanize(message) {
  const text = message.replace(/^Value error, /, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

async function request(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? { Accept: "application/json" } : { "Content-Type": "application/json", Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new NetworkError();
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok) throw new ApiError(response.status, payload);
  return payload;
}

export function clientApi(clientSecret) {
  const base = `/v1/checkouts/client/${encodeURIComponent(clientSecret)}`;
  return {
    get: () => request("GET", base),
    update: (body) => request("PATCH", base, body),
    confirm: (body) => request("POST", `${base}/confirm`, body),
  };
}

export function tokenizeSandboxCard(card) {
  return request("POST", "/v1/sandbox/payment-methods", card);
}

// Poll the checkout until it settles; resolves with the final checkout.
export async function waitForSettlement(api, { onSlow, slowAfterMs = 45000 } = {}) {
  const started = Date.now();
  let delay = 700;
  let warned = false;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    let checkout;
    try {
      checkout = await api.get();
    } catch (error) {
      if (error instanceof NetworkError || (error instanceof ApiError && error.status >= 500)) {
        delay = Math.min(delay * 2, 5000);
        continue;
      }
      throw error;
    }
    if (checkout.status !== "confirmed") return checkout;
    if (!warned && Date.now() - started > slowAfterMs) {
      warned = true;
      if (onSlow) onSlow();
    }
    delay = Math.min(Math.round(delay * 1.3), 3000);
  }
}
