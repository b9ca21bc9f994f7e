// A backend that misbehaves on purpose, in front of the real one: slower
// than the extension's deadline, HTTP 500, malformed JSON, or hostile
// content (markup, scripts, javascript:/data: links, huge strings). In
// `proxy` mode it forwards to the real backend, so Retry can succeed.
import http from 'node:http';

const HUGE = 'A'.repeat(2_000_000);
const SCRIPT = '<script>window.__pwned = true</script><img src=x onerror="window.__pwned = true">';

/** A valid analysis body whose every string is an attack. */
export function hostileAnalysis() {
  return {
    identifiers: { s3_bucket_name: `<b>${SCRIPT}</b>` },
    error: { code: 'BucketNotEmpty', class: 'conflict' },
    access_denied: null,
    analysis: `${SCRIPT} ${HUGE}`,
    rule: 's3.bucket_not_empty',
    confidence: 0.9,
    title: `<h1 onclick="window.__pwned = true">${SCRIPT}</h1>`,
    docs: [
      { title: 'javascript link', url: 'javascript:window.__pwned=true' },
      { title: 'data link', url: 'data:text/html,<script>window.__pwned=true</script>' },
      { title: 'evil host', url: 'https://evil.example.com/aws' },
      { title: 'lookalike host', url: 'https://docs.aws.amazon.com.evil.example.com/' },
      { title: 'AWS documentation', url: 'https://docs.aws.amazon.com/AmazonS3/latest/userguide/delete-bucket.html' },
    ],
    diagnosis_id: `d-<script>${'x'.repeat(100)}`,
    source: 'backend',
  };
}

export function hostileResolution() {
  return {
    cause: `${SCRIPT}${HUGE}`,
    steps: [
      {
        title: `<img src=x onerror="window.__pwned = true">`,
        detail: SCRIPT,
        cli: `aws s3 rb s3://x; ${SCRIPT}`,
        policy: HUGE,
        link: 'javascript:window.__pwned=true',
      },
      { title: 'data link step', detail: 'd', link: 'data:text/html,<script>window.__pwned=true</script>' },
    ],
    not_checked: [SCRIPT],
    evidence: [],
  };
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    request.on('data', (c) => chunks.push(c));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

export async function startFaultBackend(realBackendUrl) {
  const state = { mode: 'proxy', delayMs: 0, requests: [] };
  const server = http.createServer(async (request, response) => {
    const body = await readBody(request);
    state.requests.push({ path: request.url, mode: state.mode });
    const json = (status, value) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(typeof value === 'string' ? value : JSON.stringify(value));
    };
    if (state.delayMs > 0) await new Promise((r) => setTimeout(r, state.delayMs));
    switch (state.mode) {
      case 'http500':
        return json(500, { error: 'internal', message: 'the backend failed' });
      case 'malformed':
        return json(200, '{"identifiers": {"s3_bucket_name": "my-bucket-1234');
      case 'hostile':
        if (request.url === '/v1/analyze') return json(200, hostileAnalysis());
        if (request.url === '/v1/resolve') return json(200, hostileResolution());
        return json(200, { stored: true });
      default: {
        try {
          const upstream = await fetch(new URL(request.url, realBackendUrl), {
            method: request.method,
            headers: { 'content-type': request.headers['content-type'] ?? 'application/json' },
            body: ['GET', 'HEAD'].includes(request.method) ? undefined : body,
          });
          response.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
          response.end(Buffer.from(await upstream.arrayBuffer()));
        } catch (error) {
          json(502, { error: 'bad_gateway', message: String(error) });
        }
      }
    }
  });
  // Hanging requests must not keep close() waiting.
  const sockets = new Set();
  server.on('connection', (socket) => { sockets.add(socket); socket.on('close', () => sockets.delete(socket)); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    state,
    set(mode, { delayMs = 0 } = {}) {
      state.mode = mode;
      state.delayMs = delayMs;
    },
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
