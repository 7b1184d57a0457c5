// provd's dashboard API (server/web/api_gateway.h) and its live feed. The token lives in this
// tab's sessionStorage and travels only in the Authorization header: no cookies, so other sites
// cannot make requests on the user's behalf.

const KEY = "provd.token";
let unauthenticatedHandler = () => {};

export function token() {
  return sessionStorage.getItem(KEY) || "";
}
export function setToken(t) {
  sessionStorage.setItem(KEY, t.trim());
}
export function clearToken() {
  sessionStorage.removeItem(KEY);
}
export function onUnauthenticated(fn) {
  unauthenticatedHandler = fn;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headers(extra = {}) {
  const h = { ...extra };
  if (token()) h.Authorization = `Bearer ${token()}`;
  return h;
}

export async function api(path, { method = "GET", query = {}, body } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const res = await fetch(url, {
    method,
    headers: headers(body ? { "Content-Type": "application/json" } : {}),
    body: body ? JSON.stringify(body) : undefined,
    cache: "no-store",
    credentials: "omit",
  });
  const text = await res.text();
  let data = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch (e) {
    throw new ApiError(res.status, "BAD_RESPONSE", `provd sent something that is not JSON`);
  }
  if (!res.ok) {
    const e = data.error || {};
    const err = new ApiError(res.status, e.code || String(res.status), e.message || res.statusText);
    if (res.status === 401) unauthenticatedHandler(err);
    throw err;
  }
  return data;
}

// Server-sent events from GET /api/events, read with fetch() because EventSource cannot send an
// Authorization header. Reconnects with backoff; `onState` gets "live" / "connecting" / "down".
export class LiveFeed {
  constructor(onEvent, onState) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.controller = null;
    this.stopped = false;
    this.backoff = 1000;
  }

  start() {
    this.stopped = false;
    this.loop();
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
  }

  async loop() {
    while (!this.stopped) {
      this.onState("connecting");
      try {
        await this.readOnce();
      } catch (e) {
        if (e && e.status === 401) return;  // signed out; the app shows the login
      }
      if (this.stopped) return;
      this.onState("down");
      await new Promise((r) => setTimeout(r, this.backoff));
      this.backoff = Math.min(this.backoff * 2, 15000);
    }
  }

  async readOnce() {
    this.controller = new AbortController();
    const res = await fetch("/api/events", {
      headers: headers(), cache: "no-store", credentials: "omit", signal: this.controller.signal,
    });
    if (!res.ok) {
      let message = res.statusText;
      try { message = (await res.json()).error.message; } catch (e) { /* keep statusText */ }
      const err = new ApiError(res.status, String(res.status), message);
      if (res.status === 401) unauthenticatedHandler(err);
      throw err;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        this.dispatch(block);
      }
    }
  }

  dispatch(block) {
    let type = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;  // keepalive comment
      if (line.startsWith("event:")) type = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
    }
    if (!data.length) return;
    let payload = {};
    try {
      payload = JSON.parse(data.join("\n"));
    } catch (e) {
      return;
    }
    if (type === "hello") {
      this.backoff = 1000;
      this.onState("live");
    }
    if (type === "end" && payload.error && payload.error.code === "UNAUTHENTICATED") {
      unauthenticatedHandler(new ApiError(401, "UNAUTHENTICATED", payload.error.message));
      this.stopped = true;
    }
    this.onEvent({ type, data: payload });
  }
}
