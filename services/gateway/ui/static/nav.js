// Hash URLs: every view is #/<path>?<query>, so each one is linkable and the back button works.

/** The current hash as {path, query}. */
export function currentLocation() {
  const raw = window.location.hash.replace(/^#/, '') || '/';
  const cut = raw.indexOf('?');
  const path = cut < 0 ? raw : raw.slice(0, cut);
  return { path: path || '/', query: new URLSearchParams(cut < 0 ? '' : raw.slice(cut + 1)) };
}

/** A hash URL for `path` with the given query parameters (empty ones are left out). */
export function href(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(name, value);
  }
  const search = query.toString();
  return `#${path}${search ? `?${search}` : ''}`;
}

/** Change the URL's query without re-rendering (for a view that updates itself in place). */
export function replaceQuery(params) {
  window.history.replaceState(null, '', href(currentLocation().path, params));
}
