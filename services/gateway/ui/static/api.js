// The one place the UI talks to the server: MLflow's REST API and ledgerflow's own, the same
// HTTP APIs any client uses. Every failure becomes an ApiError carrying MLflow's error_code and
// message, so views can show them as they are.

export class ApiError extends Error {
  constructor(status, code, message, path) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.path = path;
  }
}

function urlFor(path, query) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null || value === '') continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      url.searchParams.append(name, String(item));
    }
  }
  return url;
}

async function request(method, path, { query, body, signal } = {}) {
  const url = urlFor(path, query);
  let response;
  try {
    response = await fetch(url, {
      method,
      signal,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK_ERROR', `Cannot reach the server: ${err.message}`, path);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = data?.message ?? (text.trim().slice(0, 300) || response.statusText);
    throw new ApiError(response.status, data?.error_code ?? `HTTP_${response.status}`, message, path);
  }
  if (data === null) {
    throw new ApiError(response.status, 'BAD_RESPONSE', 'The server answered with something that is not JSON.', path);
  }
  return data;
}

const MLFLOW = '/api/2.0/mlflow';
const PROXY = '/api/2.0/mlflow-artifacts/artifacts';

/** A string literal of MLflow's search grammar. */
export function quoted(value) {
  return value.includes("'") ? `"${value.replaceAll('"', '\\"')}"` : `'${value}'`;
}

export const api = {
  // Tracking
  experimentsSummary: (viewType, opts) =>
    request('GET', '/api/ledgerflow/ui/experiments', { query: { view_type: viewType }, ...opts }),
  experiment: (experimentId, opts) =>
    request('GET', `${MLFLOW}/experiments/get`, { query: { experiment_id: experimentId }, ...opts }),
  searchRuns: ({ experimentIds, filter, orderBy, maxResults, pageToken }, opts) =>
    request('POST', `${MLFLOW}/runs/search`, {
      body: {
        experiment_ids: experimentIds,
        filter: filter || '',
        order_by: orderBy ?? [],
        max_results: maxResults,
        page_token: pageToken || undefined,
      },
      ...opts,
    }),
  run: (runId, opts) => request('GET', `${MLFLOW}/runs/get`, { query: { run_id: runId }, ...opts }),
  /** Evenly sampled history of one metric for up to 100 runs (server-side downsampling). */
  sampledHistory: ({ runIds, key, maxResults, startStep, endStep }, opts) =>
    request('GET', `${MLFLOW}/metrics/get-history-bulk-interval`, {
      query: {
        run_ids: runIds,
        metric_key: key,
        max_results: maxResults,
        start_step: startStep,
        end_step: endStep,
      },
      ...opts,
    }),
  artifacts: (runId, path, opts) =>
    request('GET', `${MLFLOW}/artifacts/list`, { query: { run_id: runId, path }, ...opts }),

  // Registry
  searchModels: ({ filter, pageToken, maxResults = 100 }, opts) =>
    request('GET', `${MLFLOW}/registered-models/search`, {
      query: { filter, page_token: pageToken, max_results: maxResults },
      ...opts,
    }),
  model: (name, opts) => request('GET', `${MLFLOW}/registered-models/get`, { query: { name }, ...opts }),
  searchVersions: (name, opts) =>
    request('GET', `${MLFLOW}/model-versions/search`, {
      query: { filter: `name = ${quoted(name)}`, max_results: 10000 },
      ...opts,
    }),
  modelHistory: (name, opts) =>
    request('GET', `/api/ledgerflow/registry/models/${encodeURIComponent(name)}/history`, opts),
  registryState: ({ name, asOfSeq, asOf }, opts) =>
    request('GET', '/api/ledgerflow/registry/state', {
      query: { name, as_of_seq: asOfSeq, as_of: asOf },
      ...opts,
    }),

  // System
  lag: (opts) => request('GET', '/api/ledgerflow/lag', opts),
  system: (opts) => request('GET', '/api/ledgerflow/ui/system', opts),
};

/**
 * The download URL of a run's artifact, through the proxied artifact API; null when the run's
 * artifacts are not in the gateway's store (as services/artifacts/layout.py:key_of_uri decides).
 */
export function artifactDownloadUrl(rootUri, path) {
  let key = null;
  const proxied = `${PROXY}/`;
  if (rootUri.startsWith('mlflow-artifacts:')) {
    let rest = rootUri.slice('mlflow-artifacts:'.length);
    if (rest.startsWith('//')) rest = rest.slice(2).replace(/^[^/]*/, '');
    key = rest;
  } else if (/^https?:\/\//.test(rootUri) && rootUri.includes(proxied)) {
    key = new URL(rootUri).pathname.split(proxied)[1];
  }
  if (key === null) return null;
  const segments = `${key.replace(/^\/+|\/+$/g, '')}/${path}`.split('/').filter(Boolean);
  return `${PROXY}/${segments.map(encodeURIComponent).join('/')}`;
}
