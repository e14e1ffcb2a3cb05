// The server's JSON API (docs/studio.md, "API"), with the token chainrule studio printed.
// A failed request throws an Error whose message is the server's one line.

const TOKEN_KEY = "chainrule-studio-token";

/** Read the token from the address bar once, keep it for this tab, and drop it from the URL. */
export function takeToken() {
  const params = new URLSearchParams(location.search);
  const fromUrl = params.get("token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    params.delete("token");
    const query = params.toString();
    history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}${location.hash}`);
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}

let token = "";
export function setToken(value) { token = value; }

async function request(method, path, body, headers = {}) {
  const init = { method, headers: { "X-Studio-Token": token, ...headers } };
  if (body !== undefined) {
    if (body instanceof Blob || body instanceof ArrayBuffer) {
      init.body = body;
    } else {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new Error("the studio server does not answer: is chainrule studio still running?");
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const message = data && typeof data.error === "string" ? data.error : `${response.status} ${response.statusText}`;
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return data;
}

export const api = {
  options: () => request("GET", "/api/options"),
  upload: (file) => request("POST", "/api/uploads", file, { "Content-Type": "text/csv", "X-Filename": file.name }),
  create: (setup) => request("POST", "/api/sessions", setup),
  state: (id) => request("GET", `/api/sessions/${id}`),
  close: (id) => request("DELETE", `/api/sessions/${id}`),
  /** Close a session as the page goes away (a reload must not leave sessions behind). */
  closeOnLeave: (id) => fetch(`/api/sessions/${id}`, { method: "DELETE", keepalive: true, headers: { "X-Studio-Token": token } }).catch(() => {}),
  reset: (id) => request("POST", `/api/sessions/${id}/reset`),
  step: (id, body) => request("POST", `/api/sessions/${id}/step`, body),
  /** The one-weight view of entries such as "Who[1,0]" for the step last explained. */
  weights: (id, names) => request("POST", `/api/sessions/${id}/weights`, { weights: names }),
  pause: (id) => request("POST", `/api/sessions/${id}/pause`),
  /** An EventSource cannot send headers: the token goes in the query. */
  trainUrl: (id, query) => `/api/sessions/${id}/train?${new URLSearchParams({ ...query, token })}`,
  exportUrl: (id, what, format) =>
    `/api/sessions/${id}/export/${what}?${new URLSearchParams(format ? { format, token } : { token })}`,
};
